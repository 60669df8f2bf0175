"""V* by policy iteration on the count MDP (smfq_lib.evaluate.count_mdp): equal to Algorithm 2
at k = n read at the canonical representative (the route V* took before), and to the brute-force
joint-state solver; its reward and backup against the obvious computations."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from brute_force import bf_next_counts, bf_optimal_value, tiny_system
from tie_cases import max_err_vs_joint

from smfq_lib.evaluate import clear_cache, count_mdp, optimal_value, optimal_value_table
from smfq_lib.evaluate.count_mdp import CountMDP
from smfq_lib.learning import learn
from smfq_lib.model.combinatorics import compositions, rank
from smfq_lib.model.examples import gaussian_squeeze, random_system
from smfq_lib.model.system import RewardNoise


def k_equals_n_vstar(system, n):
    """V* as Algorithm 2 with k = n and the exact operator, read at s_1 = the lowest state
    present and the others' counts ``counts - e_{s_1}``."""
    q = learn(
        system, n, None, algorithm="mean_field", solver="policy_iteration", tol=1e-12,
        progress=False,
    )  # fmt: skip
    comps = compositions(n, system.S_l)
    s1 = np.argmax(comps > 0, axis=1)
    others = comps.copy()
    others[np.arange(len(comps)), s1] -= 1
    return np.asarray(q.V)[:, s1, [rank(c) for c in others]]


CASES = [
    # name, system, n
    ("2x2x2x2", random_system(2, 2, 2, 2, seed=0), 7),
    ("S_g=1 S_l=3 A_l=3", random_system(1, 3, 2, 3, seed=1), 4),
    ("S_g=3 S_l=3 A_l=3", random_system(3, 3, 2, 3, gamma=0.8, seed=2), 3),
    ("S_g=3 S_l=2 A_g=3", random_system(3, 2, 3, 2, gamma=0.95, seed=3), 5),
    ("S_l=4 A_l=1", random_system(2, 4, 2, 1, seed=4), 4),
    ("gaussian squeeze (aggregate)", gaussian_squeeze(3, mu=1.0), 4),
    ("aggregate", tiny_system(2, 2, 2, 2, seed=5, aggregate=True), 5),
]


@pytest.mark.parametrize("name, system, n", CASES, ids=[c[0] for c in CASES])
def test_equals_k_equals_n_learner(name, system, n):
    clear_cache()
    V = optimal_value_table(system, n)
    assert V.shape == (system.S_g, len(compositions(n, system.S_l)))
    np.testing.assert_allclose(V, k_equals_n_vstar(system, n), atol=1e-10, rtol=0)


def test_reward_noise_leaves_vstar_at_the_means():
    """Zero-mean noise: V* is that of the mean rewards, by both routes."""
    base = random_system(2, 3, 2, 2, seed=6)
    noisy = dataclasses.replace(base, reward_noise=RewardNoise(w_g=0.3, w_l=0.5))
    n = 4
    V = optimal_value_table(noisy, n)
    np.testing.assert_allclose(V, k_equals_n_vstar(noisy, n), atol=1e-10, rtol=0)
    np.testing.assert_allclose(V, optimal_value_table(base, n), atol=1e-10, rtol=0)


@pytest.mark.parametrize(
    "S_g, S_l, A_g, A_l, aggregate, n_max",
    [(2, 2, 2, 2, False, 4), (2, 2, 2, 2, True, 4), (1, 3, 2, 2, False, 3), (3, 2, 1, 3, False, 2)],
)
def test_matches_brute_force(S_g, S_l, A_g, A_l, aggregate, n_max):
    system = tiny_system(S_g, S_l, A_g, A_l, gamma=0.85, seed=S_l + A_l, aggregate=aggregate)
    for n in range(1, n_max + 1):
        bf = bf_optimal_value(system, n)
        assert max_err_vs_joint(system, optimal_value_table(system, n), bf, n) < 1e-9


def test_one_agent():
    """n = 1: the count states are (s_g, e_s); V* is the brute force's, read-only and cached."""
    system = tiny_system(2, 3, 2, 2, seed=7)
    clear_cache()
    V = optimal_value_table(system, 1)
    assert V.shape == (2, 3) and not V.flags.writeable
    assert optimal_value_table(system, 1) is V
    bf = bf_optimal_value(system, 1)
    for s_g, s in itertools.product(range(2), range(3)):
        counts = np.eye(3, dtype=np.int64)[s]
        assert abs(V[s_g, rank(counts)] - bf[s_g, s]) < 1e-9
        assert optimal_value(system, 1, s_g, counts) == V[s_g, rank(counts)]


def test_reward_is_the_stage_reward():
    """R[s_g, r, a_g] = eq. (3) of the n agents laid out from the composition zc_r."""
    system = tiny_system(2, 2, 3, 2, seed=8, aggregate=True)
    n = 3
    op = CountMDP(system, n)
    R = op.R.reshape(op.shape)
    for r, zc in enumerate(compositions(n, system.Z_l)):
        cells = [z for z in range(system.Z_l) for _ in range(zc[z])]
        s = [z // system.A_l for z in cells]
        a = [z % system.A_l for z in cells]
        for s_g, a_g in itertools.product(range(system.S_g), range(system.A_g)):
            assert abs(R[s_g, r, a_g] - system.stage_reward(s_g, a_g, s, a)) < 1e-12


def test_backup_is_the_expectation():
    """One backup on a random V equals R + gamma sum P_g E V over bf_next_counts' law."""
    system = tiny_system(2, 3, 2, 2, gamma=0.7, seed=9)
    n = 3
    op = CountMDP(system, n)
    V = np.random.default_rng(0).random(op.n_values)
    Q_new = np.empty(op.size)
    op.backup(V, np.zeros(op.size), Q_new)
    Q = Q_new.reshape(op.shape)
    Vt = V.reshape(system.S_g, -1)
    R = op.R.reshape(op.shape)
    for r, zc in enumerate(compositions(n, system.Z_l)):
        cells = [(z // system.A_l, z % system.A_l) for z in range(system.Z_l) for _ in range(zc[z])]
        for s_g in range(system.S_g):
            law = bf_next_counts(system, s_g, cells)
            EV = [sum(p * Vt[g, rank(np.array(c))] for c, p in law.items()) for g in range(2)]
            for a_g in range(system.A_g):
                want = R[s_g, r, a_g] + system.gamma * system.P_g[s_g, a_g] @ EV
                assert abs(Q[s_g, r, a_g] - want) < 1e-12


def test_iterative_evaluation_gives_the_same_vstar(monkeypatch):
    """Above ``DENSE_MAX`` value states the policy is evaluated by GMRES on the factored chain
    (agent 1 a placeholder): forced here on a small system, V* is the dense solve's."""
    import smfq_lib.learning.solvers as solvers

    system = random_system(2, 3, 2, 2, seed=10)
    n = 5
    clear_cache()
    dense = optimal_value_table(system, n)
    clear_cache()
    monkeypatch.setattr(solvers, "DENSE_MAX", 0)
    np.testing.assert_allclose(optimal_value_table(system, n), dense, atol=1e-10, rtol=0)
    clear_cache()


def test_policy_chain_is_the_transition_law(monkeypatch):
    """The chain of a policy (one (a_g, zc) per count state) against bf_next_counts: the dense
    array the evaluation solves, and above DENSE_MAX value states the factored operator whose
    matrix-vector products the iterative evaluation uses."""
    system = tiny_system(2, 3, 2, 2, seed=11)
    n = 3
    op = CountMDP(system, n)
    S_g, Cz, A_g = op.shape
    rng = np.random.default_rng(1)
    choice = np.empty(op.n_values, dtype=np.int64)
    for v in range(op.n_values):
        s_g, c = divmod(v, op.Cs)
        r = rng.choice(np.flatnonzero(op.mr == c))
        choice[v] = (s_g * Cz + r) * A_g + rng.integers(A_g)
    P = op.policy_chain(choice)
    assert isinstance(P, np.ndarray)
    for v, e in enumerate(choice):
        s_g, r, a_g = e // (Cz * A_g), (e // A_g) % Cz, e % A_g
        zc = op.Zt[r]
        cells = [(z // system.A_l, z % system.A_l) for z in range(system.Z_l) for _ in range(zc[z])]
        want = np.zeros((S_g, op.Cs))
        for c, p in bf_next_counts(system, s_g, cells).items():
            want[:, rank(np.array(c))] = system.P_g[s_g, a_g] * p
        np.testing.assert_allclose(P[v], want.ravel(), atol=1e-14, rtol=0)
    monkeypatch.setattr(count_mdp, "DENSE_MAX", 0)  # the route of large count MDPs
    chain = op.policy_chain(choice)
    assert not isinstance(chain, np.ndarray)
    np.testing.assert_array_equal(chain.toarray(), P)
    x = rng.random(op.n_values)
    np.testing.assert_allclose(chain @ x, P @ x, atol=1e-13, rtol=0)
