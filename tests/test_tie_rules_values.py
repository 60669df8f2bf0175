"""Tie rules in execution and exact evaluation: the count chain under every rule against the
independent joint-space brute force (tests/brute_force_ties.py); both executors against the exact
value; Theorem 0.11's bound for decomposed rewards; the refusals."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
from brute_force import bf_subsystem_Q, random_policy
from brute_force_ties import RULES, bf_policy_value_rule
from tie_cases import learned, max_err_vs_joint, tie_system

from smfq_lib.evaluate import gap, optimal_value_table, policy_value, policy_value_table
from smfq_lib.execute import rollout_agents, rollout_counts
from smfq_lib.learning import learn
from smfq_lib.learning.policy import ActionLaws
from smfq_lib.model.examples import random_system
from smfq_lib.theory import gap_bound

VALUE_CASES = [
    (name, n, k)
    for name, n in [
        ("two_zone", 4),
        ("squeeze2", 4),
        ("squeeze3", 3),
        ("permutation", 3),
        ("aggregate", 3),
    ]  # fmt: skip
    for k in range(1, n + 1)
]


@pytest.mark.parametrize("name, n, k", VALUE_CASES)
def test_policy_value_under_every_rule_matches_brute_force(name, n, k):
    system = tie_system(name)
    Q = bf_subsystem_Q(system, k)
    algorithms = ("mean_field", "tabular") if k <= 2 else ("mean_field",)
    for algorithm, rule in itertools.product(algorithms, RULES):
        table = policy_value_table(system, learned(name, k, algorithm), n, rule=rule)
        joint = bf_policy_value_rule(system, Q, k, n, rule)
        assert max_err_vs_joint(system, table, joint, n) < 1e-9, (algorithm, rule)


def test_coordinated_attains_V_star_at_k_equals_n_where_first_miscoordinates():
    """Two optima that are not permutations of each other (two_zone): readers with different
    viewpoints pick different optima under "first"; "coordinated" reads one profile."""
    system, n = tie_system("two_zone"), 4
    V_star = optimal_value_table(system, n)
    q = learned("two_zone", n)
    first = (V_star - policy_value_table(system, q, n, rule="first")).max()
    coordinated = (V_star - policy_value_table(system, q, n, rule="coordinated")).max()
    assert first > 1.0 and abs(coordinated) < 1e-8, (first, coordinated)


def _agree(system, run, exact):
    """Within 4 standard errors, plus the truncation at the horizon (|r| <= r_max) and the
    rounding of a sum of ``horizon`` terms (a deterministic run has sem 0 and misses by the
    truncation exactly)."""
    r_max = np.abs(system.r_g).max() + np.abs(system.r_l).max()
    r_max += system.aggregate.bound if system.aggregate is not None else 0.0
    cut = system.gamma**run.horizon * r_max / (1 - system.gamma)
    rounding = 4 * run.horizon * np.finfo(float).eps * r_max / (1 - system.gamma)
    assert abs(run.mean() - exact) < 4 * run.sem() + cut + rounding, (run, exact)


EXEC_CASES = [("two_zone", 4, 2, 0, (3, 1)), ("squeeze3", 6, 3, 0, (6, 0, 0)),
              ("aggregate", 5, 3, 1, (2, 3))]  # fmt: skip


@pytest.mark.parametrize("name, n, k, s_g, counts", EXEC_CASES)
def test_executors_agree_with_the_exact_value_under_every_rule(name, n, k, s_g, counts):
    system, q = tie_system(name), learned(name, k)
    values = set()
    for j, rule in enumerate(RULES):
        exact = policy_value(system, q, n, s_g, counts, rule=rule)
        values.add(round(exact, 6))
        for fn in (rollout_agents, rollout_counts):
            run = fn(system, q, n, s_g, counts, 100, 2000, seed=20 + j, rule=rule)
            assert run.rule == rule
            _agree(system, run, exact)
    assert len(values) > 1  # the rules differ here, so the agreement says something


def test_first_rule_runs_identically_from_every_policy_form():
    """SubsampledQ, its ActionLaws, and bare integer tables: the same numbers (rule "first")."""
    system = tie_system("aggregate")
    q = learned("aggregate", 2)
    tables = SimpleNamespace(k=2, pi_g=q.pi_g, pi_l=q.pi_l)
    for fn in (rollout_agents, rollout_counts):
        runs = [
            fn(system, pol, 4, 0, [1, 3], 30, 50, seed=3, rule=rule)
            for pol, rule in ((q, "first"), (q.action_laws("first"), None), (tables, None))
        ]
        for run in runs[1:]:
            np.testing.assert_array_equal(run.returns, runs[0].returns)


SHAPES = [((2, 2, 2, 2), 5), ((1, 3, 1, 3), 4), ((2, 3, 2, 2), 4)]


@pytest.mark.parametrize("shape, n", SHAPES)
def test_decomposed_rewards_every_rule_within_theorem_bound(shape, n):
    """Theorem 0.11 for the decomposed reward (3): worst case over start states, every k and
    rule; where the greedy maximizer is unique, "uniform" reads exactly what "first" reads."""
    S_g, S_l, A_g, A_l = shape
    for seed in range(2):
        system = random_system(S_g, S_l, A_g, A_l, seed=seed)
        V_star = optimal_value_table(system, n)
        for k in range(1, n + 1):
            q = learn(system, k, None, tol=1e-12, progress=False)
            bound = gap_bound(system.r_tilde, system.gamma, n, k, S_l, A_l, A_g)
            for rule in RULES:
                worst = (V_star - policy_value_table(system, q, n, rule=rule)).max()
                assert -1e-8 < worst <= bound, (seed, k, rule, worst, bound)
            first, uniform = q.action_laws("first"), q.action_laws("uniform")
            unique = (uniform.prob_g.max(-1) == 1.0) & (uniform.prob_l.max(-1) == 1.0)
            assert unique.mean() > 0.5  # the comparison covers most rows
            np.testing.assert_array_equal(uniform.prob_g[unique], first.prob_g[unique])
            np.testing.assert_array_equal(uniform.prob_l[unique], first.prob_l[unique])


# ---------------------------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------------------------
def test_bad_rule_names_are_refused_everywhere():
    system, q = tie_system("squeeze2"), learned("squeeze2", 2)
    calls = [
        lambda: rollout_agents(system, q, 3, 0, [3, 0], 5, 2, 0, rule="best"),
        lambda: rollout_counts(system, q, 3, 0, [3, 0], 5, 2, 0, rule="best"),
        lambda: policy_value(system, q, 3, 0, [3, 0], rule="best"),
        lambda: policy_value_table(system, q, 3, rule="best"),
        lambda: gap(system, q, 3, 0, [3, 0], rule="best"),
        lambda: q.action_laws("best"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="rule must be"):
            call()


def test_policies_that_cannot_honour_the_rule_are_refused():
    system, q = tie_system("squeeze2"), learned("squeeze2", 2)
    tables = random_policy(system, 2, 0)
    with pytest.raises(ValueError, match="deterministic tables"):
        policy_value(system, tables, 3, 0, [3, 0], rule="uniform")
    with pytest.raises(ValueError, match="deterministic tables"):
        rollout_agents(system, tables, 3, 0, [3, 0], 5, 2, 0, rule="coordinated")
    laws = q.action_laws("uniform")
    with pytest.raises(ValueError, match="computed under rule 'uniform'"):
        rollout_counts(system, laws, 3, 0, [3, 0], 5, 2, 0, rule="coordinated")
    with pytest.raises(ValueError, match="exceeds the number of agents"):
        policy_value(system, laws, 1, 0, [1, 0])
    with pytest.raises(ValueError, match="needs"):  # laws of a 2-load system, 3-load system
        policy_value(tie_system("squeeze3"), laws, 3, 0, [3, 0, 0])


def test_action_laws_validation():
    good_g, good_l = np.ones((1, 2, 2, 1)), np.full((1, 2, 2, 2), 0.5)
    ActionLaws(2, "custom", good_g, good_l)
    bad = [
        (dict(k=0), "k must be"),
        (dict(rule="best"), "rule must be"),
        (dict(prob_l=np.full((1, 2, 2, 2), 0.6)), "sum to 1"),
        (dict(prob_g=np.ones((1, 2, 3, 1)), prob_l=np.full((1, 2, 3, 2), 0.5)), "rows per"),
        (dict(prob_g=np.ones((1, 2, 2))), "shape"),
        (dict(prob_l=np.array([[[[1.5, -0.5]] * 2] * 2])), "non-negative"),
    ]
    for change, match in bad:
        args = dict(k=2, rule="custom", prob_g=good_g, prob_l=good_l) | change
        with pytest.raises(ValueError, match=match):
            ActionLaws(**args)
    assert math.isclose(ActionLaws(2, "custom", good_g, good_l).prob_l.sum(), 4.0)
