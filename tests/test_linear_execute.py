"""Executing a linear model (smfq_lib.linear): the function-policy executor ``rollout_linear``
against the table executors of smfq_lib.execute and the exact value of smfq_lib.evaluate.

* ``rollout_linear`` (each reading computed from the model) and ``rollout_agents`` on the
  model's law tables are the same process drawing the same random numbers: bit-identical
  returns under rules "first" and "coordinated", with exact ties in the model.
* The table executors take a ``LinearQ`` as a policy; their means agree with the exact value.
* Where the law tables do not fit, they are refused with their size and ``rollout_linear`` runs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from brute_force import tiny_system

from smfq_lib.evaluate import policy_value
from smfq_lib.execute import iid_initial, rollout_agents, rollout_counts
from smfq_lib.linear import learn_linear, linear_features, one_hot_features, rollout_linear
from smfq_lib.model.examples import gaussian_squeeze


def _tied(system, k, seed=0):
    q = learn_linear(system, k, M=8, m=1, max_iter=1)
    q.theta = np.random.default_rng(seed).integers(-1, 2, q.theta.shape).astype(float)
    return q


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("rule", ["first", "coordinated"])
def test_function_executor_is_bit_identical_to_the_table_executor(k, rule, monkeypatch):
    import smfq_lib.linear.execute as execute

    system = tiny_system(2, 3, 2, 2, seed=k, aggregate=True)
    q = _tied(system, k, seed=k)
    for start in (
        dict(s_g=1, counts=[2, 3, 1]),
        dict(s_g=None, counts=None, initial=iid_initial(system)),
    ):
        run = dict(horizon=25, rollouts=40, seed=9, **start)
        b = rollout_agents(system, q.action_laws(rule), 6, **run)
        tabled = rollout_linear(system, q, 6, rule=rule, **run)  # small tables: read from them
        monkeypatch.setattr(execute, "TABLE_BYTES", 0)  # every reading in closed form
        a = rollout_linear(system, q, 6, rule=rule, **run)
        monkeypatch.undo()
        for r in (a, tabled):
            np.testing.assert_array_equal(r.returns, b.returns)
            np.testing.assert_array_equal(r.a_g, b.a_g)
            assert r.rule == rule and r.k == k


def test_table_executors_take_a_linear_model_and_agree_with_the_exact_value():
    system = tiny_system(2, 2, 2, 2, seed=1)
    q = learn_linear(system, 3, M=None, m=None)
    exact = policy_value(system, q, 5, 0, [3, 2])  # DEFAULT_RULE ("coordinated")
    runs = [
        fn(system, q, 5, 0, [3, 2], 120, 3000, 4, keep="returns")
        for fn in (rollout_agents, rollout_counts, rollout_linear)
    ]
    for r in runs:
        assert r.rule == "coordinated"
        assert abs(r.mean() - exact) < 4 * r.sem(), (r.mean(), exact, r.sem())


def test_large_k_runs_without_tables():
    """The paper's squeeze (10 loads) at k = 30: the law tables over C(38, 9) = 1.6e8 state
    compositions are refused; the function executor runs, and every agent sends the same load
    in the first step (all agents start in one state; the model puts a state's agents on one
    action under "first")."""
    system = gaussian_squeeze()
    q = learn_linear(system, 30, linear_features(100), M=50, m=1, max_iter=5)
    with pytest.raises(ValueError, match=r"law tables over .*rollout_linear"):
        q.action_laws("first", memory_budget=2**30)
    r = rollout_linear(system, q, 40, 0, [40] + [0] * 9, 5, 20, 1, rule="first", record_counts=True)
    assert r.returns.shape == (20,) and np.all(np.isfinite(r.returns))
    second = r.counts[:, 1]  # s_i' = a_i: after one step every agent is in the load it sent
    assert np.all(second.max(axis=1) == 40)
    assert math.comb(38, 9) > 1e8


REFUSALS = [  # (change to the call, the words the message contains)
    (dict(policy="table"), "policy must be a LinearQ"),
    (dict(rule="uniform"), "rule='uniform'"),
    (dict(rule="best"), "rule='best'"),
    (dict(n=2), "exceeds the number of agents n = 2"),
    (dict(n=0), "n must be"),
    (dict(horizon=0), "horizon"),
    (dict(rollouts=0), "rollouts"),
    (dict(seed=-1), "seed"),
    (dict(keep="all"), "keep"),
    (dict(counts=[1, 1]), "counts"),
    (dict(s_g=7), "s_g"),
]


@pytest.mark.parametrize(("change", "words"), REFUSALS, ids=[w for _, w in REFUSALS])
def test_bad_input_is_refused_naming_it(change, words):
    system = tiny_system(2, 2, 2, 2, seed=1)
    args = dict(policy=_tied(system, 3), n=4, s_g=0, counts=[2, 2], horizon=5, rollouts=3, seed=0)
    args |= change
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        rollout_linear(system, **args)


def test_non_affine_or_mismatched_models_are_refused():
    system = tiny_system(2, 2, 2, 2, seed=1)
    q = learn_linear(system, 2, one_hot_features(2, 4), M=None, m=None)
    with pytest.raises(ValueError, match="affine features"):
        rollout_linear(system, q, 4, 0, [2, 2], 5, 3, 0)
    other = tiny_system(2, 3, 2, 2, seed=1)
    with pytest.raises(ValueError, match="policy was learned on"):
        rollout_linear(other, _tied(system, 2), 4, 0, [2, 1, 1], 5, 3, 0)
