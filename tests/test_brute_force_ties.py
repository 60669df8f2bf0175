"""Self-tests of the tie-rule references in tests/brute_force_ties.py.

Routes compared: the law tables (compositions walked in rank order) against the direct joint-space
reading (ordered action tuples, sorted keys); both against tests/brute_force.py's evaluator of
deterministic tables; hand-written symmetric Q tables; hand-derived values on the two-zone system.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from brute_force import (
    bf_greedy_tables,
    bf_optimal_value,
    bf_policy_value,
    bf_subsystem_Q,
    compositions,
    random_policy,
    tiny_system,
)
from brute_force_ties import (
    RULES,
    bf_action_laws,
    bf_policy_value_laws,
    bf_policy_value_rule,
    bf_worst_case_gap,
    permutation_tie_system,
    squeeze_system,
    two_zone_system,
)

from smfq_lib.model.examples import random_system
from smfq_lib.model.system import CooperativeSystem

ATOL = 1e-9

TIE_SYSTEMS = {
    "two_zone": two_zone_system,
    "squeeze2": squeeze_system,
    "permutation": permutation_tie_system,
}


@functools.cache
def _system(name):
    return TIE_SYSTEMS[name]()


@functools.cache
def _Q(name, k):
    return bf_subsystem_Q(_system(name), k)


@functools.cache
def _V_star(name, n):
    return bf_optimal_value(_system(name), n)


def _one_hot(laws):
    return np.all(np.isin(laws, (0.0, 1.0))) and np.all(laws.sum(-1) == 1.0)


# ---------------------------------------------------------------------------------------------
# laws are probability rows; deterministic rules give one-hot rows
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(TIE_SYSTEMS))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_laws_are_distributions(name, k):
    system = _system(name)
    Cs = len(compositions(k - 1, system.S_l))
    for rule in RULES:
        prob_g, prob_l = bf_action_laws(system, _Q(name, k), k, rule)
        assert prob_g.shape == (system.S_g, system.S_l, Cs, system.A_g)
        assert prob_l.shape == (system.S_g, system.S_l, Cs, system.A_l)
        for laws in (prob_g, prob_l):
            assert np.all(laws >= 0.0)
            np.testing.assert_allclose(laws.sum(-1), 1.0, rtol=0, atol=1e-12)
        if rule != "uniform":
            assert _one_hot(prob_g), rule
        if rule in ("first", "authors"):
            assert _one_hot(prob_l), rule


def test_coordinated_depends_on_the_sample_composition_only():
    """prob_g of "coordinated" is one row per (s_g, c_k); prob_l is the share of one profile."""
    system, k = _system("two_zone"), 3
    prob_g, prob_l = bf_action_laws(system, _Q("two_zone", k), k, "coordinated")
    comps = compositions(k - 1, system.S_l)
    seen = {}
    for s_g, s_1, (r, c) in itertools.product(range(2), range(2), enumerate(comps)):
        c_k = list(c)
        c_k[s_1] += 1
        key = (s_g, tuple(c_k))
        if key in seen:
            np.testing.assert_array_equal(prob_g[s_g, s_1, r], seen[key])
        seen[key] = prob_g[s_g, s_1, r]
        counts = prob_l[s_g, s_1, r] * c_k[s_1]  # agents of state s_1 per action in the profile
        np.testing.assert_allclose(counts, np.round(counts), rtol=0, atol=1e-12)
    assert len(seen) == 2 * len(compositions(k, system.S_l))


# ---------------------------------------------------------------------------------------------
# hand-written symmetric Q tables
# ---------------------------------------------------------------------------------------------
def _one_state_system(A_g, A_l):
    """S_g = S_l = 1: a table key is (0, 0, 0); only Q matters for the laws."""
    return CooperativeSystem(
        np.ones((1, A_g, 1)),
        np.ones((1, 1, A_l, 1)),
        np.zeros((1, A_g)),
        np.zeros((1, 1, A_l)),
        0.5,
    )


def test_hand_case_k2():
    """k = 2, A_g = 2, A_l = 3. Maximizers (a_g, a_1, a_2): (0,0,1), (0,1,0), (0,0,0), (1,0,0).

    uniform: prob_g = [3/4, 1/4], prob_l = [3/4, 1/4, 0] (marginals of the 4 ordered maximizers).
    coordinated: profiles of 2 agents in rank order [2,2], [1,2], [1,1], [0,2], [0,1], ...; the
    first maximizer is [0,1] with a_g = 0: prob_g = [1, 0], prob_l = share = [1/2, 1/2, 0].
    first: other's action 2 (no maximizer), then other's action 1 with a_1 = 0, a_g = 0.
    authors: counts of that profile (1, 1, 0) -> lowest most common action 0.
    """
    Q = np.zeros((1, 1, 1, 2, 3, 3))
    Q[0, 0, 0] = [[[0.2, 0.3, 0.1], [0.3, 0.0, 0.4], [0.1, 0.4, 0.6]],
                  [[0.0, 0.5, 0.2], [0.5, 0.3, 0.1], [0.2, 0.1, 0.7]]]  # fmt: skip
    for a_g, a_1, a_2 in [(0, 0, 1), (0, 1, 0), (0, 0, 0), (1, 0, 0)]:
        Q[0, 0, 0, a_g, a_1, a_2] = 1.0
    assert np.array_equal(Q, Q.swapaxes(-1, -2))
    system = _one_state_system(2, 3)
    want = {
        "uniform": ([0.75, 0.25], [0.75, 0.25, 0.0]),
        "coordinated": ([1.0, 0.0], [0.5, 0.5, 0.0]),
        "first": ([1.0, 0.0], [1.0, 0.0, 0.0]),
        "authors": ([1.0, 0.0], [1.0, 0.0, 0.0]),
    }
    for rule, (g, loc) in want.items():
        prob_g, prob_l = bf_action_laws(system, Q, 2, rule)
        np.testing.assert_allclose(prob_g[0, 0, 0], g, rtol=0, atol=1e-15)
        np.testing.assert_allclose(prob_l[0, 0, 0], loc, rtol=0, atol=1e-15)


def test_hand_case_k3_authors_differs_from_first():
    """k = 3, A_g = 1, A_l = 2: maximal when exactly one agent plays 0 (profile (1, 2)).

    first: others' profile (0, 2) (both play 1) comes first, then a_1 = 0 is a maximizer -> 0.
    authors: counts (0, 2) + e_0 = (1, 2) -> 1. uniform: 1 of the 3 ordered maximizers has
    a_1 = 0 -> [1/3, 2/3]. coordinated: profile (1, 2), share [1/3, 2/3].
    """
    Q = np.zeros((1, 1, 1, 1, 1, 2, 2, 2))
    for a in itertools.product(range(2), repeat=3):
        Q[(0, 0, 0, 0, 0, *a)] = 1.0 if a.count(0) == 1 else 0.1 * sum(a)
    system = _one_state_system(1, 2)
    want = {
        "first": [1.0, 0.0],
        "authors": [0.0, 1.0],
        "uniform": [1 / 3, 2 / 3],
        "coordinated": [1 / 3, 2 / 3],
    }
    for rule, loc in want.items():
        prob_g, prob_l = bf_action_laws(system, Q, 3, rule)
        np.testing.assert_allclose(prob_l[0, 0, 0], loc, rtol=0, atol=1e-15)
        assert prob_g[0, 0, 0, 0] == 1.0


def test_tolerance_decides_near_ties():
    """Entries within tol (1 + |max|) of the maximum are maximizers; farther ones are not."""
    system = _one_state_system(1, 2)
    Q = np.zeros((1, 1, 1, 2))
    Q[0, 0, 0] = [1.0, 1.0 - 1e-13]
    np.testing.assert_allclose(bf_action_laws(system, Q, 1, "uniform")[1][0, 0, 0], [0.5, 0.5])
    Q[0, 0, 0] = [1.0, 1.0 - 1e-9]
    np.testing.assert_allclose(bf_action_laws(system, Q, 1, "uniform")[1][0, 0, 0], [1.0, 0.0])
    laws = bf_action_laws(system, Q, 1, "uniform", tol=1e-8)[1][0, 0, 0]
    np.testing.assert_allclose(laws, [0.5, 0.5])
    Q[0, 0, 0] = [1000.0, 1000.0 - 1e-9]  # relative: 1e-9 < 1e-11 * (1 + 1000)
    np.testing.assert_allclose(bf_action_laws(system, Q, 1, "uniform")[1][0, 0, 0], [0.5, 0.5])


# ---------------------------------------------------------------------------------------------
# the two value routes agree; the laws evaluator agrees with brute_force.bf_policy_value
# ---------------------------------------------------------------------------------------------
def test_laws_evaluator_matches_bf_policy_value_on_random_tables():
    system = tiny_system(2, 2, 2, 2, seed=5, aggregate=True)
    for k, n in [(1, 3), (2, 3), (3, 3)]:
        pol = random_policy(system, k, seed=10 + k)
        V = bf_policy_value_laws(system, np.eye(2)[pol.pi_g], np.eye(2)[pol.pi_l], k, n)
        np.testing.assert_allclose(V, bf_policy_value(system, pol.pi_g, pol.pi_l, k, n), atol=ATOL)


@pytest.mark.parametrize("name", sorted(TIE_SYSTEMS))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_direct_route_matches_law_tables(name, k):
    system, n = _system(name), 3
    for rule in RULES:
        prob_g, prob_l = bf_action_laws(system, _Q(name, k), k, rule)
        V_laws = bf_policy_value_laws(system, prob_g, prob_l, k, n)
        V_direct = bf_policy_value_rule(system, _Q(name, k), k, n, rule)
        np.testing.assert_allclose(V_direct, V_laws, rtol=0, atol=ATOL, err_msg=rule)


# ---------------------------------------------------------------------------------------------
# systems without ties: every rule is the unique greedy policy
# ---------------------------------------------------------------------------------------------
NO_TIE_CASES = [
    ("random seed 0", lambda: random_system(2, 2, 2, 2, seed=0), (1, 2, 3)),
    ("random 1x3x1x2", lambda: random_system(1, 3, 1, 2, seed=1), (1, 2, 3)),
    # aggregate term, k = 1: a unique maximizer and a positive gap (1.72) at n = 3
    ("aggregate seed 3", lambda: tiny_system(2, 2, 2, 2, seed=3, aggregate=True), (1,)),
]


@pytest.mark.parametrize("label, make, ks", NO_TIE_CASES, ids=[c[0] for c in NO_TIE_CASES])
def test_rules_agree_without_ties(label, make, ks):
    system, n = make(), 3
    for k in ks:
        Q = bf_subsystem_Q(system, k)
        # precondition: every canonical block has exactly one ordered maximizer
        for s_g, s_1, c in itertools.product(
            range(system.S_g), range(system.S_l), compositions(k - 1, system.S_l)
        ):
            block = Q[(s_g, s_1, *[s for s in range(system.S_l) for _ in range(c[s])])]
            assert np.sum(block >= block.max() - 1e-11 * (1 + abs(block.max()))) == 1
        pi_g, pi_l = bf_greedy_tables(system, Q, k)
        V_tables = bf_policy_value(system, pi_g, pi_l, k, n)
        for rule in RULES:
            prob_g, prob_l = bf_action_laws(system, Q, k, rule)
            np.testing.assert_array_equal(prob_g, np.eye(system.A_g)[pi_g], err_msg=rule)
            np.testing.assert_array_equal(prob_l, np.eye(system.A_l)[pi_l], err_msg=rule)
            V = bf_policy_value_rule(system, Q, k, n, rule)
            np.testing.assert_allclose(V, V_tables, rtol=0, atol=ATOL, err_msg=rule)


def test_aggregate_no_tie_case_has_a_positive_gap():
    """The contrast case is not trivially optimal (so equal values above say something)."""
    system = tiny_system(2, 2, 2, 2, seed=3, aggregate=True)
    gap, _ = bf_worst_case_gap(system, bf_subsystem_Q(system, 1), 1, 3, "first")
    assert gap > 1.0


# ---------------------------------------------------------------------------------------------
# tie-rich systems
# ---------------------------------------------------------------------------------------------
def test_permutation_ties_change_laws_not_values():
    """Actions in local state 0 are irrelevant: the laws differ there, the values do not."""
    name, n = "permutation", 3
    system = _system(name)
    for k in (1, 2, 3):
        prob_l_u = bf_action_laws(system, _Q(name, k), k, "uniform")[1]
        np.testing.assert_allclose(prob_l_u[:, 0], 0.5, atol=1e-12)  # indifferent: 1/2, 1/2
        assert _one_hot(bf_action_laws(system, _Q(name, k), k, "first")[1])
        values = [bf_policy_value_rule(system, _Q(name, k), k, n, rule) for rule in RULES]
        pi_g, pi_l = bf_greedy_tables(system, _Q(name, k), k)
        values.append(bf_policy_value(system, pi_g, pi_l, k, n))
        for V in values[1:]:
            np.testing.assert_allclose(V, values[0], rtol=0, atol=ATOL)


def test_two_zone_values_by_hand():
    """n = k = 2, gamma = 0.9, r(s) = share of agents on the marked side.

    V*(s) = r(s) + 9 (gather on one side in one step, then 1 per step).
    first: split agents read "all left" from the left and "all right" from the right, the global
    agent reads from the left: nobody moves, reward 1/2 forever, V = 5. Aligned agents on side
    x read "other switches" first, so all switch and the global agent marks 1 - x: the team
    alternates sides and collects 1 per step after the first: V = r(s) + 9.
    uniform: every reader picks "all left" / "all right" with probability 1/2 independently, so
    from the next step on each agent's side and the mark are independent fair coins:
    V = r(s) + 0.9 * 0.5 / 0.1 = r(s) + 4.5.
    coordinated: everyone reads the same profile: V = V*.
    """
    system, k, n = _system("two_zone"), 2, 2
    Q = _Q("two_zone", k)
    r = np.array(
        [[[(a == g) / 2 + (b == g) / 2 for b in range(2)] for a in range(2)] for g in range(2)]
    )
    split = np.array([[[a != b for b in range(2)] for a in range(2)]] * 2)
    V_star = _V_star("two_zone", n)
    np.testing.assert_allclose(V_star, r + 9.0, atol=ATOL)
    np.testing.assert_allclose(
        bf_policy_value_rule(system, Q, k, n, "first"), np.where(split, 5.0, r + 9.0), atol=ATOL
    )
    np.testing.assert_allclose(bf_policy_value_rule(system, Q, k, n, "uniform"), r + 4.5, atol=ATOL)
    np.testing.assert_allclose(
        bf_policy_value_rule(system, Q, k, n, "coordinated"), V_star, atol=ATOL
    )
    gap, where = bf_worst_case_gap(system, Q, k, n, "first")
    assert gap == pytest.approx(4.5, abs=1e-9)
    assert where[1] != where[2]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_two_zone_first_miscoordinates_coordinated_does_not(n):
    system = _system("two_zone")
    Q, V_star = _Q("two_zone", n), _V_star("two_zone", n)
    gap_first, _ = bf_worst_case_gap(system, Q, n, n, "first", V_star=V_star)
    gap_coord, _ = bf_worst_case_gap(system, Q, n, n, "coordinated", V_star=V_star)
    assert gap_first > 1.0
    assert abs(gap_coord) < 1e-9


@pytest.mark.parametrize("name", sorted(TIE_SYSTEMS))
def test_gap_is_never_negative(name):
    system, n = _system(name), 3
    for k, rule in itertools.product((1, 2, 3), RULES):
        V = bf_policy_value_rule(system, _Q(name, k), k, n, rule)
        assert np.all(_V_star(name, n) - V >= -1e-9), (k, rule)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
def test_bad_input_is_refused():
    system = _system("two_zone")
    Q = _Q("two_zone", 2)
    with pytest.raises(ValueError, match="rule must be one of"):
        bf_action_laws(system, Q, 2, "random")
    with pytest.raises(ValueError, match="Q must have shape"):
        bf_action_laws(system, Q, 1, "first")
    with pytest.raises(ValueError, match="tol"):
        bf_action_laws(system, Q, 2, "first", tol=0.0)
    with pytest.raises(ValueError, match="MAX_AGENTS"):
        bf_policy_value_rule(system, Q, 2, 5, "first")
    with pytest.raises(ValueError, match="k = 2 <= n"):
        bf_policy_value_rule(system, Q, 2, 1, "first")
    with pytest.raises(ValueError, match="system must be"):
        bf_action_laws("two_zone", Q, 2, "first")
    prob_g, prob_l = bf_action_laws(system, Q, 2, "first")
    with pytest.raises(ValueError, match="prob_g, prob_l must have shapes"):
        bf_policy_value_laws(system, prob_g[..., :1], prob_l, 2, 3)
