"""Self-tests of the brute-force reference solvers in tests/brute_force.py.

Each check compares two routes that share as little as possible (different kernels, different
solvers, different derivations of the action distributions of eq. 10, 11), on tiny random systems.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from brute_force import (
    bf_greedy_tables,
    bf_next_counts,
    bf_optimal_value,
    bf_policy_value,
    bf_subsystem_Q,
    composition_rank,
    compositions,
    random_policy,
    tiny_system,
)

from smfq_lib.model.system import CooperativeSystem

ATOL = 1e-9


# ---------------------------------------------------------------------------------------------
# compositions
# ---------------------------------------------------------------------------------------------
def test_composition_order_matches_spec_example():
    assert compositions(2, 3) == [(0, 0, 2), (0, 1, 1), (0, 2, 0), (1, 0, 1), (1, 1, 0), (2, 0, 0)]
    assert compositions(0, 3) == [(0, 0, 0)]
    for t, d in [(0, 1), (3, 1), (3, 2), (4, 3), (2, 4)]:
        comps = compositions(t, d)
        assert len(comps) == math.comb(t + d - 1, d - 1)
        assert comps == sorted(comps)
        assert composition_rank(t, d) == {c: r for r, c in enumerate(comps)}


# ---------------------------------------------------------------------------------------------
# (1) n = 1 (and n = k with an aggregate term): V^* = max_a Q_k^*
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 2, 2, 2), (2, 2, 2, 2), (2, 3, 1, 2), (2, 1, 2, 3)])
def test_optimal_value_n1_equals_subsystem_Q_k1(shape):
    system = tiny_system(*shape, seed=sum(shape))
    Q = bf_subsystem_Q(system, 1)
    V = bf_optimal_value(system, 1)
    assert Q.shape == (shape[0], shape[1], shape[2], shape[3])
    assert V.shape == (shape[0], shape[1])
    np.testing.assert_allclose(V, Q.max(axis=(2, 3)), rtol=0, atol=ATOL)


@pytest.mark.parametrize("aggregate", [False, True])
def test_optimal_value_equals_subsystem_Q_when_k_equals_n(aggregate):
    """With k = n the surrogate reward (6) is the stage reward (3): max_a Q_n^* = V^*."""
    system = tiny_system(2, 2, 2, 2, gamma=0.8, seed=3, aggregate=aggregate)
    Q = bf_subsystem_Q(system, 2)
    V = bf_optimal_value(system, 2)
    np.testing.assert_allclose(V, Q.max(axis=(3, 4, 5)), rtol=0, atol=ATOL)


def test_subsystem_Q_is_fixed_point_of_eq12_via_next_counts():
    """Q_k^* = r_Delta + gamma E max Q at next states, with E over bf_next_counts (eq. 2, 12).

    Uses the permutation invariance of Q^*: the next local states enter only through their counts,
    so max_a' Q(s_g', sorted next states, a') is evaluated at the sorted representative.
    """
    system = tiny_system(2, 2, 2, 2, gamma=0.85, seed=11, aggregate=True)
    k = 2
    Q = bf_subsystem_Q(system, k)
    Vmax = Q.max(axis=(3, 4, 5))
    for s_g, s1, s2, a_g, a1, a2 in itertools.product(range(2), repeat=6):
        reward = system.stage_reward(s_g, a_g, [s1, s2], [a1, a2])
        future = 0.0
        for counts, p in bf_next_counts(system, s_g, [(s1, a1), (s2, a2)]).items():
            rep = [s for s in range(system.S_l) for _ in range(counts[s])]
            for sg2 in range(system.S_g):
                future += system.P_g[s_g, a_g, sg2] * p * Vmax[(sg2, *rep)]
        assert Q[s_g, s1, s2, a_g, a1, a2] == pytest.approx(
            reward + system.gamma * future, abs=ATOL
        )


def test_subsystem_Q_is_permutation_invariant():
    system = tiny_system(2, 2, 2, 2, seed=5, aggregate=True)
    Q = bf_subsystem_Q(system, 3)
    for perm in itertools.permutations(range(3)):
        axes = (0, *(1 + p for p in perm), 4, *(5 + p for p in perm))
        np.testing.assert_allclose(np.transpose(Q, axes), Q, rtol=0, atol=ATOL)


def test_optimal_value_dominates_random_policies():
    system = tiny_system(2, 2, 2, 2, seed=8, aggregate=True)
    V = bf_optimal_value(system, 3)
    for seed in range(3):
        for k in (1, 2, 3):
            pol = random_policy(system, k, seed)
            pi_g, pi_l = pol.pi_g, pol.pi_l
            assert np.all(bf_policy_value(system, pi_g, pi_l, k, 3) <= V + ATOL)


# ---------------------------------------------------------------------------------------------
# (2) docs/design.md §9: k = n greedy tables attain V^* for decomposed rewards
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "n", "seed"),
    [
        ((2, 2, 2, 2), 1, 0),
        ((2, 2, 2, 2), 2, 1),
        ((2, 2, 2, 2), 3, 2),
        ((1, 2, 2, 2), 3, 3),
        ((2, 2, 1, 2), 3, 4),
        ((2, 2, 2, 2), 2, 6),
        ((1, 3, 2, 2), 2, 5),
        ((2, 2, 2, 2), 4, 7),
    ],
)
def test_greedy_k_equals_n_attains_optimal_value(shape, n, seed):
    system = tiny_system(*shape, gamma=0.9, seed=seed)
    Q = bf_subsystem_Q(system, n)
    pi_g, pi_l = bf_greedy_tables(system, Q, n)
    V_pi = bf_policy_value(system, pi_g, pi_l, n, n)
    V_star = bf_optimal_value(system, n)
    np.testing.assert_allclose(V_pi, V_star, rtol=0, atol=1e-8)


def _majority_system(gamma=0.8):
    """a_g sets the next global state; a local agent earns 1 when its (fixed) state equals s_g.

    The optimal global action is the majority local state, which a k = 1 sample cannot see.
    """
    P_g = np.array([[[1.0, 0.0], [0.0, 1.0]]] * 2)  # P_g[s_g, a_g] = e_{a_g}
    P_l = np.zeros((2, 2, 1, 2))
    P_l[0, :, 0, 0] = P_l[1, :, 0, 1] = 1.0  # local states never change
    r_g = np.zeros((2, 2))
    r_l = np.zeros((2, 2, 1))
    r_l[0, 0, 0] = r_l[1, 1, 0] = 1.0
    return CooperativeSystem(P_g, P_l, r_g, r_l, gamma)


def test_greedy_k_less_than_n_loses_value_on_the_majority_system():
    """The k = n check above can fail: here k = 1 is strictly suboptimal, k = n = 3 is optimal."""
    system = _majority_system()
    n = 3
    V_star = bf_optimal_value(system, n)
    # by hand from (s_g, 2 agents in 0, 1 in 1): reward 2/3 now if s_g = 0, then 2/3 forever
    assert V_star[0, 0, 0, 1] == pytest.approx((2 / 3) / (1 - system.gamma), abs=1e-9)
    assert V_star[1, 0, 0, 1] == pytest.approx(1 / 3 + system.gamma * (2 / 3) / 0.2, abs=1e-9)
    gaps = {}
    for k in (1, 3):
        pi_g, pi_l = bf_greedy_tables(system, bf_subsystem_Q(system, k), k)
        gaps[k] = V_star - bf_policy_value(system, pi_g, pi_l, k, n)
    assert gaps[1].min() >= -ATOL
    assert gaps[1].max() > 0.1
    np.testing.assert_allclose(gaps[3], 0.0, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# (3) bf_next_counts
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_next_counts_is_a_distribution_with_the_right_mean(seed):
    system = tiny_system(2, 3, 1, 2, seed=seed)
    rng = np.random.default_rng(seed)
    for n_agents in (0, 1, 2, 4):
        cells = [(int(rng.integers(3)), int(rng.integers(2))) for _ in range(n_agents)]
        s_g = int(rng.integers(2))
        dist = bf_next_counts(system, s_g, cells)
        assert all(len(c) == 3 and sum(c) == n_agents for c in dist)
        assert sum(dist.values()) == pytest.approx(1.0, abs=1e-12)
        mean = sum(p * np.array(c) for c, p in dist.items())
        expected = sum((system.P_l[s, s_g, a] for s, a in cells), np.zeros(3))
        np.testing.assert_allclose(mean, expected, rtol=0, atol=1e-12)


def test_next_counts_single_agent_is_the_kernel_row_and_pairs_convolve():
    system = tiny_system(2, 2, 1, 2, seed=4)
    for s_g, s, a in itertools.product(range(2), range(2), range(2)):
        dist = bf_next_counts(system, s_g, [(s, a)])
        for s2 in range(2):
            e = tuple(int(j == s2) for j in range(2))
            assert dist.get(e, 0.0) == pytest.approx(system.P_l[s, s_g, a, s2], abs=1e-15)
    p, q = system.P_l[0, 1, 0], system.P_l[1, 1, 1]
    dist = bf_next_counts(system, 1, [(0, 0), (1, 1)])
    assert dist[(2, 0)] == pytest.approx(p[0] * q[0])
    assert dist[(1, 1)] == pytest.approx(p[0] * q[1] + p[1] * q[0])
    assert dist[(0, 2)] == pytest.approx(p[1] * q[1])


# ---------------------------------------------------------------------------------------------
# (4) permutation invariance of bf_policy_value
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "k"), [(3, 1), (3, 2), (3, 3), (4, 2)])
def test_policy_value_is_permutation_invariant(n, k):
    system = tiny_system(2, 2, 2, 2, seed=n + 10 * k, aggregate=True)
    pol = random_policy(system, k, seed=n * k)
    pi_g, pi_l = pol.pi_g, pol.pi_l
    V = bf_policy_value(system, pi_g, pi_l, k, n)
    assert V.shape == (2,) + (2,) * n
    for perm in itertools.permutations(range(n)):
        np.testing.assert_allclose(np.transpose(V, (0, *(1 + p for p in perm))), V, atol=ATOL)


# ---------------------------------------------------------------------------------------------
# (5) bf_policy_value by an independent route
# ---------------------------------------------------------------------------------------------
def _hypergeometric_samples(counts, size):
    """Compositions c <= counts of `size` with their multivariate hypergeometric probability."""
    total = math.comb(sum(counts), size)
    for c in itertools.product(*(range(m + 1) for m in counts)):
        if sum(c) == size:
            yield c, math.prod(math.comb(m, x) for m, x in zip(counts, c, strict=True)) / total


def _policy_value_by_marginals(system, pi_g, pi_l, k, n, tol=1e-13):
    """V of pi_k^est by a different route than bf_policy_value.

    Action distributions come from hypergeometric sampling of the state counts (not from
    enumerating agent subsets); given the current state every agent moves independently, so the
    next joint state has the product of per-agent marginal kernels sum_a pi_i(a) P(.|s_i, s_g, a);
    the expected reward is by enumeration of joint actions (the aggregate term is nonlinear);
    then fixed-policy value iteration instead of a linear solve.
    """
    S_g, S_l, A_g, A_l = system.S_g, system.S_l, system.A_g, system.A_l
    rank = {c: r for r, c in enumerate(compositions(k - 1, S_l))}
    shape = (S_g,) + (S_l,) * n
    states = list(itertools.product(*map(range, shape)))
    r_pi = np.zeros(len(states))
    P_pi = np.zeros((len(states), len(states)))
    for idx, s in enumerate(states):
        s_g, loc = s[0], s[1:]
        counts = [loc.count(x) for x in range(S_l)]
        p_g = np.zeros(A_g)
        for c, p in _hypergeometric_samples(counts, k):
            s_1 = next(x for x in range(S_l) if c[x] > 0)
            rest = tuple(c[x] - (x == s_1) for x in range(S_l))
            p_g[pi_g[s_g, s_1, rank[rest]]] += p
        p_l = np.zeros((n, A_l))
        for i, s_i in enumerate(loc):
            others = [counts[x] - (x == s_i) for x in range(S_l)]
            for c, p in _hypergeometric_samples(others, k - 1):
                p_l[i, pi_l[s_g, s_i, rank[c]]] += p
        for a in itertools.product(range(A_g), *([range(A_l)] * n)):
            w = p_g[a[0]] * math.prod(p_l[i, a[1 + i]] for i in range(n))
            r_pi[idx] += w * system.stage_reward(s_g, a[0], list(loc), list(a[1:]))
        marg = p_g @ system.P_g[s_g]
        for i, s_i in enumerate(loc):
            marg = np.multiply.outer(marg, p_l[i] @ system.P_l[s_i, s_g])
        P_pi[idx] = marg.ravel()
    V = np.zeros(len(states))
    while True:
        V_new = r_pi + system.gamma * P_pi @ V
        if np.abs(V_new - V).max() <= tol:
            return V_new.reshape(shape)
        V = V_new


@pytest.mark.parametrize(
    ("shape", "n", "k", "aggregate"),
    [
        ((2, 2, 2, 2), 1, 1, False),
        ((2, 2, 2, 2), 3, 1, True),
        ((2, 2, 2, 2), 3, 2, False),
        ((2, 2, 2, 2), 3, 3, True),
        ((2, 3, 2, 2), 2, 2, True),
        ((1, 2, 2, 2), 4, 2, True),
        ((2, 2, 2, 2), 4, 3, False),
    ],
)
def test_policy_value_matches_independent_route(shape, n, k, aggregate):
    system = tiny_system(*shape, gamma=0.8, seed=n + k, aggregate=aggregate)
    pol = random_policy(system, k, seed=7 * n + k)
    pi_g, pi_l = pol.pi_g, pol.pi_l
    V = bf_policy_value(system, pi_g, pi_l, k, n)
    np.testing.assert_allclose(V, _policy_value_by_marginals(system, pi_g, pi_l, k, n), atol=1e-9)


def test_policy_value_k1_constant_policy_by_hand():
    """k = 1, one agent, constant tables: V solves the 2-state chain V = r + gamma P V by hand."""
    system = tiny_system(1, 2, 2, 2, gamma=0.7, seed=9)
    pi_g = np.full((1, 2, 1), 1)
    pi_l = np.array([[[0], [1]]])
    V = bf_policy_value(system, pi_g, pi_l, 1, 1)
    r = np.array([system.r_g[0, 1] + system.r_l[0, 0, 0], system.r_g[0, 1] + system.r_l[1, 0, 1]])
    P = np.array([system.P_l[0, 0, 0], system.P_l[1, 0, 1]])
    np.testing.assert_allclose(V[0], np.linalg.solve(np.eye(2) - 0.7 * P, r), atol=1e-12)


def test_policy_value_uses_the_lowest_sampled_state_as_s1():
    """Spec convention: the global agent reads pi_g at s_1 = the LOWEST sampled local state.

    n = k = 2, A_l = 1, S_g = 1; pi_g[0, s_1, :] = s_1, so a_g = min(s_1, s_2). The value is
    checked against a hand-built 4-state chain, and differs from the chain where s_1 would be
    the highest sampled state (the test can tell the two conventions apart).
    """
    system = tiny_system(1, 2, 2, 1, gamma=0.5, seed=12)
    pi_g = np.array([[[0, 0], [1, 1]]])
    pi_l = np.zeros((1, 2, 2), dtype=np.int64)
    V = bf_policy_value(system, pi_g, pi_l, 2, 2)

    def chain_value(pick):
        states = list(itertools.product(range(2), repeat=2))
        r = np.array(
            [
                system.r_g[0, pick(s)] + (system.r_l[s[0], 0, 0] + system.r_l[s[1], 0, 0]) / 2
                for s in states
            ]
        )
        P = np.array(
            [
                [system.P_l[s[0], 0, 0, t[0]] * system.P_l[s[1], 0, 0, t[1]] for t in states]
                for s in states
            ]
        )
        return np.linalg.solve(np.eye(4) - system.gamma * P, r).reshape(2, 2)

    np.testing.assert_allclose(V[0], chain_value(min), atol=1e-12)
    assert np.abs(V[0] - chain_value(max)).max() > 1e-6


# ---------------------------------------------------------------------------------------------
# (6) bad arguments
# ---------------------------------------------------------------------------------------------
def test_bad_arguments_raise_value_error():
    system = tiny_system(2, 2, 2, 2)
    pol = random_policy(system, 2, seed=0)
    pi_g, pi_l = pol.pi_g, pol.pi_l
    with pytest.raises(ValueError, match="system"):
        bf_subsystem_Q("not a system", 1)
    with pytest.raises(ValueError, match="k"):
        bf_subsystem_Q(system, 0)
    with pytest.raises(ValueError, match="tol"):
        bf_subsystem_Q(system, 1, tol=0.0)
    with pytest.raises(ValueError, match="n"):
        bf_optimal_value(system, 0)
    with pytest.raises(ValueError, match="MAX_DENSE_ENTRIES"):
        bf_optimal_value(system, 12)
    with pytest.raises(ValueError, match="k"):
        bf_policy_value(system, pi_g, pi_l, 3, 2)
    with pytest.raises(ValueError, match="pi_g"):
        bf_policy_value(system, pi_g[:, :, :1], pi_l, 2, 3)
    with pytest.raises(ValueError, match="pi_l"):
        bf_policy_value(system, pi_g, pi_l + 5, 2, 3)
    with pytest.raises(ValueError, match="pi_g"):
        bf_policy_value(system, pi_g.astype(float), pi_l, 2, 3)
    with pytest.raises(ValueError, match="s_g"):
        bf_next_counts(system, 2, [(0, 0)])
    with pytest.raises(ValueError, match="cells"):
        bf_next_counts(system, 0, [(0, 2)])
    with pytest.raises(ValueError, match="cells"):
        bf_next_counts(system, 0, [(0, 0, 1)])
    with pytest.raises(ValueError, match="Q"):
        bf_greedy_tables(system, np.zeros((2, 2, 2, 2)), 2)
