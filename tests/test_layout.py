"""The package layout as users and readers meet it: ``smfq_lib.learn`` is the function and
``smfq_lib.learning`` its package (no shadowing), one operator class per algorithm behind one
interface, and ``smfq_lib.execute`` exporting the same public names as before it became a package.
"""

from __future__ import annotations

import importlib
import inspect
import types

import numpy as np
import pytest
from brute_force import tiny_system

import smfq_lib
import smfq_lib.execute as E
import smfq_lib.learning as L
from smfq_lib.learning.mean_field import MeanFieldOperator
from smfq_lib.learning.operator import Operator, operator_class
from smfq_lib.learning.tabular import TabularOperator

#: ``smfq_lib.execute.__all__`` when it was one module.
EXECUTE_NAMES = [
    "IIDInitial",
    "Rollouts",
    "count_state_weights",
    "iid_initial",
    "rollout_agents",
    "rollout_counts",
    "run_chunks",
]


def test_learn_is_the_function_and_learning_the_package():
    assert isinstance(L, types.ModuleType) and L.__name__ == "smfq_lib.learning"
    assert inspect.isfunction(smfq_lib.learn) and not isinstance(smfq_lib.learn, types.ModuleType)
    assert smfq_lib.learn is L.learn
    assert smfq_lib.SubsampledQ is L.SubsampledQ
    assert sorted(L.__all__) == ["SubsampledQ", "choose_algorithm", "learn", "table_bytes"]
    for name in L.__all__:
        assert getattr(L, name) is not None
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("smfq_lib.learn")


def test_one_operator_class_per_algorithm():
    assert operator_class("tabular") is TabularOperator
    assert operator_class("mean_field") is MeanFieldOperator
    assert issubclass(TabularOperator, Operator) and issubclass(MeanFieldOperator, Operator)
    with pytest.raises(KeyError):
        operator_class("auto")  # "auto" is resolved by choose_algorithm before
    with pytest.raises(TypeError):
        Operator(tiny_system(1, 2, 1, 2, seed=0), 2, None, 0)  # abstract


@pytest.mark.parametrize("m", [None, 3])
@pytest.mark.parametrize("algorithm", ["tabular", "mean_field"])
def test_operator_interface(algorithm, m):
    """What the learning loop relies on: flat buffers of ``size = prod(shape)`` entries, ``R`` of
    that size, ``step`` from ``Q = 0`` gives ``T 0 = R`` (the backup of a zero table vanishes)
    with residual ``max |R|``, and greedy tables of shape ``(S_g, S_l, Cs)``."""
    system = tiny_system(2, 3, 2, 2, gamma=0.8, seed=2)
    k = 3
    op = operator_class(algorithm)(system, k, m, 1)
    assert op.size == int(np.prod(op.shape)) and op.R.shape == (op.size,)
    Q_new = np.empty(op.size)
    res = op.step(np.zeros(op.size), Q_new)
    np.testing.assert_array_equal(Q_new, op.R)
    assert res == np.abs(op.R).max()
    V, pi_g, pi_l = op.policy_tables(Q_new)
    Cs = 6  # compositions of k - 1 = 2 agents into S_l = 3 states
    assert V.shape == pi_g.shape == pi_l.shape == (2, 3, Cs)
    assert pi_g.min() >= 0 and pi_g.max() < 2 and pi_l.min() >= 0 and pi_l.max() < 2
    assert op.table_bytes(system, k, m) == L.table_bytes(system, k, m, algorithm)


def test_execute_exports_the_same_public_names():
    assert sorted(E.__all__) == EXECUTE_NAMES
    public = {
        name
        for name in dir(E)
        if not name.startswith("_") and not isinstance(getattr(E, name), types.ModuleType)
    }
    assert public == set(EXECUTE_NAMES)
    from smfq_lib.execute import (  # noqa: F401  (the import line users write)
        IIDInitial,
        Rollouts,
        count_state_weights,
        iid_initial,
        rollout_agents,
        rollout_counts,
        run_chunks,
    )
