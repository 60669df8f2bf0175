"""Tie rules: the law tables of both learners against the independent brute force
(tests/brute_force_ties.py), rule by rule, on systems with ties.

Route A: ``SubsampledQ.action_laws(rule)`` (smfq_lib.learning.tie_rules, on the learned Q of
Algorithm 1 or 2). Route B: ``bf_action_laws`` on ``bf_subsystem_Q`` (joint-space value iteration,
compositions walked in rank order). Nothing is shared but the system.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from brute_force import bf_subsystem_Q
from brute_force_ties import RULES, bf_action_laws
from tie_cases import SYSTEMS, learned, tie_system

from smfq_lib.learning import learn
from smfq_lib.learning.policy import DEFAULT_RULE, ActionLaws
from smfq_lib.learning.policy import RULES as LIB_RULES
from smfq_lib.learning.tie_rules import action_laws
from smfq_lib.model.combinatorics import compositions, n_compositions

CASES = [(name, k) for name in SYSTEMS for k in (1, 2, 3) if not (name == "squeeze3" and k == 3)]


@functools.cache
def _bf_Q(name, k):
    return bf_subsystem_Q(tie_system(name), k)


def test_rule_names_agree_with_the_reference():
    assert LIB_RULES == RULES and DEFAULT_RULE in RULES


@pytest.mark.parametrize("algorithm", ["mean_field", "tabular"])
@pytest.mark.parametrize("name, k", CASES)
def test_laws_match_brute_force(name, k, algorithm):
    system, q = tie_system(name), learned(name, k, algorithm)
    for rule in RULES:
        laws = q.action_laws(rule)
        prob_g, prob_l = bf_action_laws(system, _bf_Q(name, k), k, rule)
        assert isinstance(laws, ActionLaws) and laws.rule == rule and laws.k == k
        np.testing.assert_allclose(laws.prob_g, prob_g, rtol=0, atol=1e-12, err_msg=rule)
        np.testing.assert_allclose(laws.prob_l, prob_l, rtol=0, atol=1e-12, err_msg=rule)


def test_the_systems_have_ties_that_the_rules_break_differently():
    """Precondition of the test above: every rule is exercised on a row where it matters."""
    differ = {rule: False for rule in RULES if rule != "first"}
    for name, k in CASES:
        first = bf_action_laws(tie_system(name), _bf_Q(name, k), k, "first")
        for rule in differ:
            other = bf_action_laws(tie_system(name), _bf_Q(name, k), k, rule)
            differ[rule] |= any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert all(differ.values()), differ


def test_first_rule_is_the_greedy_tables():
    q = learned("two_zone", 3, "mean_field")
    laws = q.action_laws("first")
    assert np.array_equal(laws.prob_g.argmax(-1), q.pi_g)
    assert np.array_equal(laws.prob_l.argmax(-1), q.pi_l)
    assert set(np.unique(laws.prob_l)) == {0.0, 1.0}


def test_laws_are_cached_and_read_only():
    q = learned("squeeze2", 2, "mean_field")
    assert q.action_laws("uniform") is q.action_laws("uniform")
    assert q.action_laws() is q.action_laws(DEFAULT_RULE) or DEFAULT_RULE == "first"
    with pytest.raises(ValueError):
        q.action_laws("uniform").prob_l[0, 0, 0, 0] = 0.5


def test_uniform_weights_stay_finite_for_large_k():
    """k = 200, S_l = A_l = 2: orderings per entry up to ~1e116, summed in log space. Q is
    constant, so every ordered joint action is a maximizer and a_1's marginal is uniform."""
    k = 200
    Q = np.zeros((1, 2, n_compositions(k - 1, 4), 2, 1))
    laws = action_laws(Q, k, "mean_field", "uniform")
    np.testing.assert_allclose(laws.prob_l, 0.5, rtol=0, atol=1e-12)


def test_uniform_weights_count_orderings():
    """Q maximal on the profiles with exactly one agent playing 1 among k = 4 agents in one
    state: of the 4 ordered maximizers agent 1 plays 1 in one, so prob_l = [3/4, 1/4]; the
    mean-field entry with a_1 = 0 weighs 3 orderings of the others, the one with a_1 = 1 weighs 1.
    """
    k, Zt = 4, compositions(3, 2)  # S_l = 1, A_l = 2: zc = (others on 0, others on 1)
    Q = np.zeros((1, 1, Zt.shape[0], 2, 1))
    for r, zc in enumerate(Zt):
        for a1 in range(2):
            Q[0, 0, r, a1, 0] = 1.0 if zc[1] + a1 == 1 else 0.0
    laws = action_laws(Q, k, "mean_field", "uniform")
    np.testing.assert_allclose(laws.prob_l[0, 0, 0], [0.75, 0.25], rtol=0, atol=1e-15)
    coord = action_laws(Q, k, "mean_field", "coordinated")
    np.testing.assert_allclose(coord.prob_l[0, 0, 0], [0.75, 0.25], rtol=0, atol=1e-15)


def test_bad_rules_are_refused():
    q = learned("squeeze2", 2, "mean_field")
    with pytest.raises(ValueError, match="rule must be"):
        q.action_laws("random")
    with pytest.raises(ValueError, match="rule must be"):
        action_laws(q.Q, 2, "mean_field", "first")


@pytest.mark.parametrize("name, k", [("two_zone", 3), ("squeeze3", 2), ("aggregate", 3)])
def test_sampled_tabular_Q_is_read_where_the_reference_reads_it(name, k):
    """Algorithm 1 with m samples: Q is not permutation invariant, so where each rule reads the
    raw table matters. The reference reads the same learned Q (its canonical representatives)."""
    system = tie_system(name)
    q = learn(system, k, 3, algorithm="tabular", seed=5, progress=False)
    for rule in RULES:
        prob_g, prob_l = bf_action_laws(system, q.Q, k, rule)
        np.testing.assert_allclose(q.action_laws(rule).prob_g, prob_g, rtol=0, atol=1e-12)
        np.testing.assert_allclose(q.action_laws(rule).prob_l, prob_l, rtol=0, atol=1e-12)
