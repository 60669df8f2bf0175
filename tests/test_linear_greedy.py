"""The closed-form greedy step of a linear-in-F model (smfq_lib.linear.greedy) against brute force
over every joint action of the k-agent subsystem, on small systems, with and without exact ties.

The reference builds the model's Q over ordered joint states and actions ``(s_g, s_1..s_k, a_g,
a_1..a_k)`` the slow obvious way (a Python loop, features evaluated entry by entry from the
others' (state, action) counts) and reads it with tests/brute_force_ties.py (every tie rule, no
production selection code). The closed form must give the same laws; its value must be the max
over ``itertools.product`` of the joint actions.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from brute_force import tiny_system
from brute_force_ties import bf_action_laws

from smfq_lib.learning.policy import RULES
from smfq_lib.linear import (
    affine_features,
    learn_linear,
    linear_features,
    mean_features,
    one_hot_features,
)
from smfq_lib.linear.greedy import reading_tables, value_tables

CASES = [  # (S_g, S_l, A_g, A_l, k)
    (1, 2, 1, 2, 1),
    (2, 2, 2, 2, 2),
    (2, 2, 2, 2, 3),
    (1, 3, 2, 2, 3),
    (2, 2, 1, 3, 3),
    (1, 2, 2, 3, 4),
]


def _model(system, k, features, seed, ties):
    """A LinearQ on ``system`` whose ``theta`` is replaced by random numbers: integers in
    {-1, 0, 1} (exact ties everywhere) or continuous (no ties)."""
    q = learn_linear(system, k, features, M=4, m=1, max_iter=1)
    rng = np.random.default_rng(seed)
    shape = q.theta.shape
    q.theta = rng.integers(-1, 2, shape).astype(float) if ties else rng.normal(size=shape)
    return q


def _model_entry(q, s_g, states, a_g, actions):
    """theta[s_g, s_1, a_1, a_g] . phi(F) with F the others' (state, action) distribution."""
    S_l, A_l = q.sizes[1], q.sizes[3]
    zc = np.zeros(S_l * A_l, np.int64)
    for s, a in zip(states[1:], actions[1:], strict=True):
        zc[s * A_l + a] += 1
    return float(q.theta[s_g, states[0], actions[0], a_g] @ q.features(zc[None, :])[0])


def _joint_Q(q, system):
    """The model as Algorithm 1's table, entry by entry."""
    k = q.k
    S_g, S_l, A_g, A_l = q.sizes
    Q = np.empty((S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k)
    for s_g, states in itertools.product(range(S_g), itertools.product(range(S_l), repeat=k)):
        for a_g, acts in itertools.product(range(A_g), itertools.product(range(A_l), repeat=k)):
            Q[(s_g, *states, a_g, *acts)] = _model_entry(q, s_g, states, a_g, acts)
    return Q


def _features(kind, system, k):
    Z_l = system.Z_l
    if kind == "[1, F]":
        return linear_features(Z_l)
    if kind == "mean":
        return mean_features(np.arange(Z_l) % 3)
    return affine_features(np.random.default_rng(1).integers(-1, 2, (3, Z_l)))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["[1, F]", "mean", "random affine"])
@pytest.mark.parametrize("ties", [True, False])
def test_closed_form_laws_equal_brute_force(case, kind, ties):
    S_g, S_l, A_g, A_l, k = case
    system = tiny_system(S_g, S_l, A_g, A_l, seed=sum(case))
    q = _model(system, k, _features(kind, system, k), seed=k, ties=ties)
    Q = _joint_Q(q, system)
    for rule in RULES:  # first, coordinated: closed form; uniform, authors: tabulated model
        laws = q.action_laws(rule)
        ref_g, ref_l = bf_action_laws(system, Q, k, rule)
        np.testing.assert_allclose(laws.prob_g, ref_g, atol=1e-12, err_msg=rule)
        np.testing.assert_allclose(laws.prob_l, ref_l, atol=1e-12, err_msg=rule)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("ties", [True, False])
def test_value_and_greedy_equal_the_max_over_joint_actions(case, ties):
    S_g, S_l, A_g, A_l, k = case
    system = tiny_system(S_g, S_l, A_g, A_l, seed=sum(case))
    q = _model(system, k, linear_features(system.Z_l), seed=10 + k, ties=ties)
    for s_g, s_1, others in itertools.product(
        range(S_g), range(S_l), itertools.combinations_with_replacement(range(S_l), k - 1)
    ):
        states = (s_1, *others)
        best = max(
            _model_entry(q, s_g, states, a_g, acts)
            for a_g in range(A_g)
            for acts in itertools.product(range(A_l), repeat=k)
        )
        counts = np.bincount(np.array(others, dtype=np.int64), minlength=S_l)
        assert q.value(s_g, s_1, counts) == pytest.approx(best, abs=1e-12)
        a_g, a_1, zc = q.greedy(s_g, s_1, counts)
        acts = [a_1] + [a for s in range(S_l) for a in range(A_l) for _ in range(zc[s, a])]
        order = [s_1] + [s for s in range(S_l) for a in range(A_l) for _ in range(zc[s, a])]
        assert zc.sum(axis=1).tolist() == counts.tolist()
        assert _model_entry(q, s_g, order, a_g, acts) == pytest.approx(best, abs=1e-11)


def test_one_hot_features_take_the_tabulated_route():
    system = tiny_system(1, 2, 2, 2, seed=4)
    q = _model(system, 3, one_hot_features(3, system.Z_l), seed=2, ties=True)
    Q = _joint_Q(q, system)
    for rule in RULES:
        ref_g, ref_l = bf_action_laws(system, Q, 3, rule)
        np.testing.assert_allclose(q.action_laws(rule).prob_g, ref_g, atol=1e-12)
        np.testing.assert_allclose(q.action_laws(rule).prob_l, ref_l, atol=1e-12)


@pytest.mark.parametrize("kind", ["[1, F]", "mean", "state indicator", "random affine"])
@pytest.mark.parametrize("ties", [True, False])
@pytest.mark.parametrize("S_l, A_l", [(2, 3), (36, 5)])
def test_value_and_reading_tables_are_the_max_of_the_matrix_product(kind, ties, S_l, A_l):
    """value_tables' product-free max (column-sparse W) and reading_tables' transposed max give
    the bits of max_a (theta W)[p, s, a] from the matrix product (BLAS, blocked at d = 181)."""
    Z_l, rng = S_l * A_l, np.random.default_rng(S_l + ties)
    features = {
        "[1, F]": lambda: linear_features(Z_l),
        "mean": lambda: mean_features((np.arange(Z_l) % 3 - 1) * 0.7),  # zero columns too
        "state indicator": lambda: affine_features(np.kron(np.eye(S_l), np.ones((1, A_l)))),
        "random affine": lambda: affine_features(rng.normal(size=(3, Z_l))),
    }[kind]()
    shape = (2, S_l, A_l, 3, features.d)
    theta = rng.integers(-1, 2, shape).astype(float) if ties else rng.normal(size=shape)
    w = (theta @ features.W).reshape(2, S_l, A_l, 3, S_l, A_l)  # the one matrix product
    mw_ref = w.max(axis=-1)
    B, mw = value_tables(theta, features)
    np.testing.assert_array_equal(B, theta @ features.b)
    np.testing.assert_array_equal(mw, mw_ref)
    B2, w2, mws = reading_tables(theta, features)
    np.testing.assert_array_equal(B2, B)
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(mws, mw_ref.transpose(0, 1, 4, 2, 3).reshape(2, S_l, S_l, -1))
