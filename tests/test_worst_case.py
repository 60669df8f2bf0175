"""The worst-case gap over start states (smfq_lib.evaluate.worst_case) against the independent
joint-space brute force (tests/brute_force_ties.py), Theorem 0.11's bound at every k, the argument
refusals, and the fits of chapter 8 (smfq_lib.evaluate.gap_study)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
from brute_force import bf_optimal_value, bf_subsystem_Q, tiny_system
from brute_force_ties import bf_policy_value_rule, bf_worst_case_gap
from tie_cases import tie_system

from smfq_lib.evaluate.gap_study import gap_curves, loglog_slope, shape, shape_constant
from smfq_lib.evaluate.worst_case import gap_table, worst_case_gap
from smfq_lib.learning import learn
from smfq_lib.model.combinatorics import rank
from smfq_lib.model.examples import majority_mode
from smfq_lib.theory import gap_bound

SYSTEMS = {
    "majority": lambda: majority_mode(flip=0.1, gamma=0.8),
    "random": lambda: tiny_system(2, 2, 2, 2, seed=7),
    "two_zone": lambda: tie_system("two_zone"),  # exact ties between optima
}
CASES = [
    ("majority", 3, "coordinated"),
    ("majority", 4, "uniform"),
    ("majority", 4, "first"),
    ("random", 3, "coordinated"),
    ("two_zone", 3, "first"),
    ("two_zone", 3, "coordinated"),
]


@pytest.mark.parametrize("name, n, rule", CASES)
def test_worst_case_gap_is_the_max_of_the_joint_space_gap(name, n, rule):
    system = SYSTEMS[name]()
    V_star = bf_optimal_value(system, n)
    for k in range(1, n + 1):
        q = learn(system, k, None, algorithm="mean_field", tol=1e-12, progress=False)
        worst, (s_g, counts) = worst_case_gap(system, n, q, rule=rule)
        Q = bf_subsystem_Q(system, k)
        bf_worst, _ = bf_worst_case_gap(system, Q, k, n, rule, V_star=V_star)
        assert worst == pytest.approx(bf_worst, abs=1e-9), (k, worst, bf_worst)
        # the state returned attains the joint-space maximum: read it at a sorted joint state
        joint = V_star - bf_policy_value_rule(system, Q, k, n, rule)
        sorted_state = (s_g, *[s for s in range(system.S_l) for _ in range(counts[s])])
        assert sum(counts) == n and joint[sorted_state] == pytest.approx(bf_worst, abs=1e-9)
        # Theorem 0.11 (printed reading) bounds it, and no policy beats V*
        assert worst <= gap_bound(system.r_tilde, system.gamma, n, k, system.S_l, system.A_l,
                                  system.A_g)  # fmt: skip
        assert joint.min() >= -1e-9


def test_gap_table_is_indexed_like_the_value_tables():
    """Entry [s_g, rank(counts)] is the joint-space gap at every joint state with those counts."""
    system, n, k = SYSTEMS["random"](), 3, 2
    table = gap_table(system, n, learned_random(system, k), rule="uniform")
    joint = bf_optimal_value(system, n) - bf_policy_value_rule(
        system, bf_subsystem_Q(system, k), k, n, "uniform"
    )
    assert table.shape == (system.S_g, 4)
    for st in itertools.product(range(system.S_g), *[range(system.S_l)] * n):
        c = np.bincount(np.array(st[1:]), minlength=system.S_l)
        assert table[st[0], rank(c)] == pytest.approx(joint[st], abs=1e-9)


def learned_random(system, k):
    return learn(system, k, None, algorithm="mean_field", tol=1e-12, progress=False)


def test_a_sample_size_learns_the_policy_like_learn():
    """k_or_q = k is learn(system, k, None, algorithm=, tol=) followed by the same evaluation."""
    system, n = majority_mode(), 5
    for k in (1, 2, 5):
        q = learn(system, k, None, algorithm="mean_field", progress=False)
        np.testing.assert_allclose(
            gap_table(system, n, k, algorithm="mean_field"), gap_table(system, n, q), atol=1e-12
        )
    worst, _ = worst_case_gap(system, n, n)
    assert abs(worst) < 1e-9  # k = n attains V* for the decomposed reward (docs/design.md §9)


def test_majority_mode_gap_by_hand_at_k_1():
    """n = 2, k = 1, flip = 0: agents never move, so from (mode m, one agent in each state) the
    policy sets the mode to a uniformly random agent's state each step and earns 1/2 per step,
    whatever it picks; V* earns 1/2 too. From (mode 1, both agents in state 0): V* switches to 0
    and earns 1 from then on (0 now): V* = gamma / (1 - gamma). The policy does the same (both
    samples show state 0): gap 0. From (mode 0, counts (1, 1)) the gap is 0 as well: the worst
    case is 0 at flip = 0, n = 2."""
    system = majority_mode(flip=0.0, gamma=0.5)
    assert abs(worst_case_gap(system, 2, 1)[0]) < 1e-12
    # with flips, k = 1 loses from a split population of n = 3 (2 in state 0, 1 in state 1)
    system = majority_mode(flip=0.1, gamma=0.5)
    table = gap_table(system, 3, 1)
    assert table[0, rank(np.array([2, 1]))] > 0.0


REFUSALS = [
    (dict(system="not a system"), "system"),
    (dict(n=0), "n must"),
    (dict(n=2.0), "n must"),
    (dict(k_or_q=0), "k_or_q"),
    (dict(k_or_q=4), "k_or_q"),
    (dict(k_or_q=True), "k_or_q"),
    (dict(k_or_q=1.5), "k_or_q"),
    (dict(k_or_q="2"), "k_or_q"),
    (dict(k_or_q=None), "k_or_q"),
    (dict(rule="random"), "rule"),
    (dict(memory_budget=-1), "memory_budget"),
    (dict(algorithm="exact"), "algorithm"),
    (dict(tol=-1.0), "tol"),
]


@pytest.mark.parametrize("bad, match", REFUSALS)
@pytest.mark.parametrize("fn", [gap_table, worst_case_gap])
def test_refusals(fn, bad, match):
    args = dict(system=majority_mode(), n=3, k_or_q=2)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        fn(args.pop("system"), args.pop("n"), args.pop("k_or_q"), **args)


def test_refusals_with_a_learned_policy():
    system = majority_mode()
    q = learn(system, 3, None, progress=False)
    with pytest.raises(ValueError, match="k <= n|k = 3"):
        gap_table(system, 2, q)  # a policy of 3 agents on 2
    with pytest.raises(ValueError, match="algorithm= and tol="):
        gap_table(system, 4, q, algorithm="tabular")
    with pytest.raises(ValueError, match="algorithm= and tol="):
        worst_case_gap(system, 4, q, tol=1e-6)
    tables = SimpleNamespace(k=2, pi_g=np.zeros((2, 2, 2), np.int64), pi_l=None)
    with pytest.raises(ValueError):
        gap_table(system, 4, tables)


def test_fits_recover_known_curves():
    k = np.arange(1, 41)
    assert loglog_slope(k, 3.0 * k**-0.5) == pytest.approx(-0.5)
    assert loglog_slope(k, 2.0 * k**-1.5, 5, 20) == pytest.approx(-1.5)
    y = 0.7 * shape(40, k)
    assert shape_constant(40, k, y, 1, 39) == pytest.approx(0.7)
    assert shape(40, 40) == pytest.approx(np.sqrt(1 / 1600))
    # zeros (k = n) are left out of both fits, not logged
    y[-1] = 0.0
    assert shape_constant(40, k, y) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="two points"):
        loglog_slope(k, np.zeros(40))
    with pytest.raises(ValueError, match="y > floor"):
        shape_constant(40, k, np.zeros(40))


def test_gap_curves_reads_the_tables_and_refuses_bad_arguments():
    system, n = majority_mode(flip=0.1, gamma=0.8), 4
    out = gap_curves(system, n, [1, 2], rules=("uniform", "first"), start={"s_g": 0,
                     "counts": (1, 3)})  # fmt: skip
    for i, k in enumerate((1, 2)):
        for rule in ("uniform", "first"):
            worst, (s_g, counts) = worst_case_gap(system, n, k, rule=rule)
            assert out[f"worst_{rule}"][i] == pytest.approx(worst, abs=1e-12)
            assert out[f"worst_counts_{rule}"][i] == " ".join(map(str, counts))
            table = gap_table(system, n, k, rule=rule)
            assert out[f"start_{rule}"][i] == pytest.approx(table[0, rank(np.array([1, 3]))])
    assert out["bound_printed"][0] == gap_bound(1.0, 0.8, n, 1, 2, 1, 2)
    refusals = [(dict(ks=[0]), "k must"), (dict(ks=[5]), "k must"), (dict(n=0), "n must")]
    refusals += [(dict(rules="uniform"), "rules"), (dict(rules=("fair",)), "rules")]
    for bad, match in refusals:
        args = dict(system=system, n=n, ks=[1])
        args.update(bad)
        with pytest.raises(ValueError, match=match):
            gap_curves(args.pop("system"), args.pop("n"), args.pop("ks"), **args)
