"""smfq_lib.evaluate: exact V^{pi_k^est} (count chain), V* (the count MDP) and the gap, against the
independent brute force of tests/brute_force.py on the joint space S_g x S_l^n."""

from __future__ import annotations

import importlib
import math
from types import SimpleNamespace

import numpy as np
import pytest
from brute_force import bf_optimal_value, bf_policy_value, random_policy, tiny_system
from tie_cases import max_err_vs_joint

from smfq_lib.evaluate import (
    gap,
    optimal_value,
    optimal_value_table,
    policy_value,
    policy_value_table,
)
from smfq_lib.execute import iid_initial
from smfq_lib.learning import learn
from smfq_lib.model.combinatorics import rank
from smfq_lib.model.system import Aggregate, CooperativeSystem

ATOL = 1e-9


SYSTEMS = [
    # S_g, S_l, A_g, A_l, n, seed
    (2, 2, 2, 2, 4, 0),
    (1, 3, 2, 2, 3, 1),
    (2, 2, 3, 2, 3, 2),
    (2, 3, 2, 3, 2, 3),
]


@pytest.mark.parametrize("S_g, S_l, A_g, A_l, n, seed", SYSTEMS)
def test_policy_value_matches_brute_force(S_g, S_l, A_g, A_l, n, seed):
    system = tiny_system(S_g, S_l, A_g, A_l, gamma=0.9, seed=seed)
    for k in range(1, n + 1):
        pol = random_policy(system, k, seed + 10 * k)
        table = policy_value_table(system, pol, n)
        bf = bf_policy_value(system, pol.pi_g, pol.pi_l, k, n)
        assert max_err_vs_joint(system, table, bf, n) < ATOL


def test_policy_value_matches_brute_force_with_aggregate():
    system = tiny_system(2, 2, 2, 2, gamma=0.85, seed=5, aggregate=True)
    n = 3
    for k in (1, 2, 3):
        pol = random_policy(system, k, 100 + k)
        bf = bf_policy_value(system, pol.pi_g, pol.pi_l, k, n)
        assert max_err_vs_joint(system, policy_value_table(system, pol, n), bf, n) < ATOL


@pytest.mark.parametrize("aggregate", [False, True])
def test_optimal_value_matches_brute_force(aggregate):
    system = tiny_system(2, 2, 2, 2, gamma=0.9, seed=11, aggregate=aggregate)
    n = 3
    bf = bf_optimal_value(system, n)
    assert max_err_vs_joint(system, optimal_value_table(system, n), bf, n) < ATOL
    # scalar entry point at one state
    assert abs(optimal_value(system, n, 1, [2, 1]) - bf[1, 0, 0, 1]) < ATOL


@pytest.mark.parametrize("S_g, S_l, A_g, A_l, n, seed", SYSTEMS[:3])
def test_k_equals_n_policy_is_optimal(S_g, S_l, A_g, A_l, n, seed):
    """Decomposed reward (3): the greedy table learned with k = n attains V*
    (docs/design.md §9)."""
    system = tiny_system(S_g, S_l, A_g, A_l, gamma=0.9, seed=seed)
    q = learn(system, n, None, algorithm="mean_field", tol=1e-12, progress=False)
    v_pi = policy_value_table(system, q, n)
    np.testing.assert_allclose(v_pi, optimal_value_table(system, n), atol=1e-8, rtol=0)


def test_gap_nonnegative_and_below_theorem_bound():
    from smfq_lib.theory import gap_bound

    system = tiny_system(2, 2, 2, 2, gamma=0.8, seed=21)
    n = 6
    init = iid_initial(system)
    v_star = optimal_value_table(system, n)
    for k in range(1, n + 1):
        q = learn(system, k, None, algorithm="mean_field", tol=1e-12, progress=False)
        diff = v_star - policy_value_table(system, q, n)
        assert diff.min() > -1e-8, (k, diff.min())
        g = gap(system, q, n, initial=init)
        assert g > -1e-8
        bound = gap_bound(system.r_tilde, system.gamma, n, k, system.S_l, system.A_l, system.A_g)
        assert diff.max() <= bound, (k, diff.max(), bound)
        if k == n:
            assert diff.max() < 1e-8


def test_initial_distribution_is_the_weighted_table():
    system = tiny_system(2, 2, 2, 2, seed=4)
    n, pol = 5, random_policy(system, 3, 4)
    table = policy_value_table(system, pol, n)
    w = np.random.default_rng(0).random(table.shape)
    w /= w.sum()
    assert abs(policy_value(system, pol, n, initial=w) - (w * table).sum()) < 1e-12
    assert abs(policy_value(system, pol, n, initial=w.ravel()) - (w * table).sum()) < 1e-12
    # i.i.d. uniform start: p_g[s_g] * Binomial(n, 1/2) over counts (rank r <-> counts[0] = r)
    binom = np.array([math.comb(n, c0) for c0 in range(n + 1)]) / 2**n
    expect = 0.5 * (table[0] @ binom + table[1] @ binom)
    assert abs(policy_value(system, pol, n, initial=iid_initial(system)) - expect) < 1e-12
    assert policy_value(system, pol, n, 1, [2, 3]) == table[1, rank(np.array([2, 3]))]


def test_cache_notices_mutated_tables():
    system = tiny_system(2, 2, 2, 2, seed=6)
    pol = random_policy(system, 2, 6)
    v1 = policy_value(system, pol, 3, 0, [1, 2])
    pol.pi_l = 1 - pol.pi_l
    v2 = policy_value(system, pol, 3, 0, [1, 2])
    bf = bf_policy_value(system, pol.pi_g, pol.pi_l, 2, 3)
    assert v1 != v2 and abs(v2 - bf[0, 0, 1, 1]) < ATOL


def test_refuses_large_count_space():
    system = tiny_system(2, 3, 2, 2, seed=0)
    pol = random_policy(system, 2, 0)
    with pytest.raises(ValueError, match="count states"):
        policy_value(system, pol, 10**6, 0, [10**6, 0, 0])
    with pytest.raises(ValueError, match="count states"):
        policy_value(system, pol, 10, 0, [10, 0, 0], memory_budget=1000)
    with pytest.raises(ValueError, match=r"V\* .* entries"):
        optimal_value(system, 10**5, 0, [10**5, 0, 0])


def test_validation_errors():
    system = tiny_system(2, 2, 2, 2, seed=0)
    pol = random_policy(system, 3, 0)
    with pytest.raises(ValueError, match="k <= n"):
        policy_value(system, pol, 2, 0, [1, 1])
    with pytest.raises(ValueError, match="sum to n"):
        policy_value(system, pol, 4, 0, [1, 1])
    with pytest.raises(ValueError, match="not both"):
        policy_value(system, pol, 4, 0, [2, 2], initial=iid_initial(system))
    with pytest.raises(ValueError, match="initial weights"):
        policy_value(system, pol, 4, initial=np.ones(3))
    with pytest.raises(ValueError, match="attribute"):
        policy_value(system, object(), 4, 0, [2, 2])
    bad = SimpleNamespace(k=3, pi_g=pol.pi_g[:, :, :2], pi_l=pol.pi_l)
    with pytest.raises(ValueError, match="shape"):
        policy_value(system, bad, 4, 0, [2, 2])


def test_non_integer_phi_is_refused():
    base = tiny_system(1, 2, 2, 2, seed=0)
    agg = Aggregate(phi=np.array([[0.5, 1.0], [0.0, 1.0]]), rho=lambda s, a, x: -x)
    system = CooperativeSystem(base.P_g, base.P_l, base.r_g, base.r_l, 0.9, aggregate=agg)
    with pytest.raises(ValueError, match="integer-valued"):
        policy_value(system, random_policy(system, 2, 0), 3, 0, [1, 2])


# -- memory budget and progress reach the count MDP behind V* ------------------------------------
VALUES_MODULE = importlib.import_module("smfq_lib.evaluate.values")


def test_optimal_value_passes_progress_and_obeys_budget(monkeypatch):
    seen = {}
    solve = VALUES_MODULE.solve_count_mdp

    def spy(system, n, tol, progress):
        seen["progress"] = progress
        return solve(system, n, tol, progress)

    monkeypatch.setattr(VALUES_MODULE, "solve_count_mdp", spy)
    system = tiny_system(1, 2, 1, 2, seed=7)
    optimal_value_table(system, 2, memory_budget=10**8, progress=False)
    assert seen["progress"] is False
    with pytest.raises(ValueError, match=r"^V\* .* memory budget"):
        optimal_value_table(system, 3, memory_budget=1000)


def test_gap_checks_everything_before_solving(monkeypatch):
    def no_solve(*args, **kwargs):
        raise AssertionError("V* was solved before the arguments were checked")

    monkeypatch.setattr(VALUES_MODULE, "solve_count_mdp", no_solve)
    system = tiny_system(2, 2, 2, 2, seed=8)
    with pytest.raises(ValueError, match="k <= n"):
        gap(system, random_policy(system, 3, 0), 2, 0, [1, 1])
    with pytest.raises(ValueError, match="sum to n"):
        gap(system, random_policy(system, 2, 0), 2, 0, [2, 1])


def test_progress_bars(capsys):
    system = tiny_system(2, 2, 2, 2, seed=9)
    pol = random_policy(system, 2, 0)
    policy_value_table(system, pol, 3)  # default False: no bar
    optimal_value_table(system, 3)
    assert capsys.readouterr().err == ""
    policy_value(system, pol, 4, 0, [2, 2])  # None: small solves stay silent
    assert capsys.readouterr().err == ""
    policy_value_table(system, pol, 5, progress=True)
    optimal_value_table(system, 5, progress=True)
    err = capsys.readouterr().err
    assert "count chain of pi_k^est, n=5 k=2" in err and "V* n=5 (count MDP)" in err
