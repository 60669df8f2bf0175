"""smfq_lib.learning.policy: the action distributions of eq. (10), (11) on a population (s_g,
counts).

Checked against a direct enumeration of every k-subset of an explicit list of agents (the
literal sums of eq. 10, 11), with the composition order re-derived here by sorting tuples.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from smfq_lib.learning.policy import action_distributions


def _rank_table(t, d):
    comps = sorted(c for c in itertools.product(range(t + 1), repeat=d) if sum(c) == t)
    return {c: r for r, c in enumerate(comps)}


def _tables(S_g, S_l, A_g, A_l, k, seed):
    rng = np.random.default_rng(seed)
    Cs = math.comb(k - 1 + S_l - 1, S_l - 1)
    return (
        rng.integers(0, A_g, size=(S_g, S_l, Cs)),
        rng.integers(0, A_l, size=(S_g, S_l, Cs)),
    )


def _enumerate(pi_g, pi_l, k, s_g, counts, A_g, A_l):
    """Eq. (10), (11) literally, over an explicit agent list."""
    S_l = len(counts)
    agents = [s for s in range(S_l) for _ in range(counts[s])]
    n = len(agents)
    rank = _rank_table(k - 1, S_l)
    p_g = np.zeros(A_g)
    subsets = list(itertools.combinations(range(n), k))
    for delta in subsets:
        states = [agents[j] for j in delta]
        s1 = min(states)
        c = [states.count(s) for s in range(S_l)]
        c[s1] -= 1
        p_g[pi_g[s_g, s1, rank[tuple(c)]]] += 1.0 / len(subsets)
    p_l = np.zeros((S_l, A_l))
    for s in range(S_l):
        if counts[s] == 0:
            continue
        i = agents.index(s)
        others = [j for j in range(n) if j != i]
        subs = list(itertools.combinations(others, k - 1))
        for d in subs:
            c = tuple(sum(agents[j] == q for j in d) for q in range(S_l))
            p_l[s, pi_l[s_g, s, rank[c]]] += 1.0 / len(subs)
    return p_g, p_l


CASES = [
    # S_g, S_l, A_g, A_l, k, counts
    (1, 2, 2, 2, 1, (2, 3)),
    (2, 2, 3, 2, 2, (1, 4)),
    (2, 2, 2, 3, 3, (3, 3)),
    (1, 3, 2, 2, 3, (2, 0, 4)),
    (2, 3, 3, 3, 4, (1, 2, 3)),
    (1, 3, 2, 2, 5, (2, 2, 1)),  # k = n
    (1, 4, 2, 3, 3, (0, 3, 1, 2)),
]


@pytest.mark.parametrize("S_g, S_l, A_g, A_l, k, counts", CASES)
def test_matches_subset_enumeration(S_g, S_l, A_g, A_l, k, counts):
    for seed in range(3):
        pi_g, pi_l = _tables(S_g, S_l, A_g, A_l, k, seed)
        for s_g in range(S_g):
            p_g, p_l = action_distributions(pi_g, pi_l, k, s_g, counts, A_g=A_g, A_l=A_l)
            e_g, e_l = _enumerate(pi_g, pi_l, k, s_g, counts, A_g, A_l)
            np.testing.assert_allclose(p_g, e_g, atol=1e-12)
            np.testing.assert_allclose(p_l, e_l, atol=1e-12)


def test_rows_sum_to_one_and_absent_states_are_zero():
    S_g, S_l, A_g, A_l, k = 2, 3, 2, 3, 4
    pi_g, pi_l = _tables(S_g, S_l, A_g, A_l, k, 7)
    for counts in [(5, 0, 3), (0, 9, 0), (1, 1, 2), (100, 0, 57)]:
        p_g, p_l = action_distributions(pi_g, pi_l, k, 1, counts, A_g=A_g, A_l=A_l)
        assert p_g.shape == (A_g,) and p_l.shape == (S_l, A_l)
        assert abs(p_g.sum() - 1) < 1e-12 and p_g.min() >= 0
        for s in range(S_l):
            assert abs(p_l[s].sum() - (counts[s] > 0)) < 1e-12
            assert p_l[s].min() >= 0


def test_k1_reads_own_state_and_uniform_agent():
    """k = 1: a local agent sees nobody (c = 0); the global agent sees one uniform agent."""
    pi_g = np.array([[[1], [0], [1]]])
    pi_l = np.array([[[2], [0], [1]]])
    p_g, p_l = action_distributions(pi_g, pi_l, 1, 0, [2, 3, 5], A_g=2, A_l=3)
    np.testing.assert_allclose(p_g, [0.3, 0.7], atol=1e-15)
    np.testing.assert_allclose(p_l, np.eye(3)[[2, 0, 1]], atol=1e-15)


def test_large_population_approaches_sampling_with_replacement():
    """n = 10^6: the hypergeometric mixture tends to the multinomial one (sampling with
    replacement), and the rows stay normalised."""
    S_l, k = 2, 6
    pi_g, pi_l = _tables(1, S_l, 2, 2, k, 3)
    counts = np.array([300_000, 700_000])
    p_g, p_l = action_distributions(pi_g, pi_l, k, 0, counts, A_g=2, A_l=2)
    f = counts / counts.sum()
    exp_l = np.zeros((S_l, 2))
    for c in range(k):  # c agents of the k - 1 others in state 0
        w = math.comb(k - 1, c) * f[0] ** c * f[1] ** (k - 1 - c)
        r = _rank_table(k - 1, 2)[(c, k - 1 - c)]
        for s in range(S_l):
            exp_l[s, pi_l[0, s, r]] += w
    np.testing.assert_allclose(p_l, exp_l, atol=1e-4)
    assert abs(p_g.sum() - 1) < 1e-12 and np.allclose(p_l.sum(axis=1), 1, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(k=7, counts=[3, 3]), "k <= n"),
        (dict(counts=[3, -1]), "non-negative"),
        (dict(counts=[3, 3, 0]), "length S_l"),
        (dict(counts=[2.5, 3.5]), "whole numbers"),
        (dict(s_g=2), "s_g"),
        (dict(k=2), "shape"),
    ],
)
def test_validation(kwargs, match):
    pi_g, pi_l = _tables(2, 2, 2, 2, 3, 0)
    args = dict(pi_g=pi_g, pi_l=pi_l, k=3, s_g=0, counts=[3, 3])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        action_distributions(**args)


def test_validation_bad_action_codes():
    pi_g, pi_l = _tables(2, 2, 2, 2, 3, 0)
    with pytest.raises(ValueError, match="action codes"):
        action_distributions(pi_g - 1, pi_l, 3, 0, [3, 3])


def test_large_population_matches_hypergeometric_formula():
    """The falling-factorial evaluation equals the formula of eq. (10), (11) written with
    combinatorics.mv_hypergeometric_pmf, at populations far too large to enumerate."""
    from smfq_lib.model.combinatorics import compositions, mv_hypergeometric_pmf, rank

    S_l, k = 3, 7
    pi_g, pi_l = _tables(2, S_l, 3, 2, k, 5)
    for counts in ([400_000, 1, 599_999], [3, 999_990, 7], [0, 12, 0]):
        counts = np.array(counts)
        p_g, p_l = action_distributions(pi_g, pi_l, k, 1, counts, A_g=3, A_l=2)
        e_g = np.zeros(3)
        for ck in compositions(k, S_l):
            s1 = int(np.flatnonzero(ck)[0])
            c = ck.copy()
            c[s1] -= 1
            e_g[pi_g[1, s1, rank(c)]] += mv_hypergeometric_pmf(ck, counts)
        np.testing.assert_allclose(p_g, e_g, atol=1e-9)
        for s in np.flatnonzero(counts):
            e_l = np.zeros(2)
            others = counts.copy()
            others[s] -= 1
            for r, c in enumerate(compositions(k - 1, S_l)):
                e_l[pi_l[1, s, r]] += mv_hypergeometric_pmf(c, others)
            np.testing.assert_allclose(p_l[s], e_l, atol=1e-9)


def test_transfer_is_the_explicit_override_of_the_system_check():
    """A policy learned on one system is refused on another of the same sizes; ``transfer``
    marks a copy for the other system, which then evaluates as its action laws do (laws carry
    no fingerprint), and leaves the original as it was."""
    from smfq_lib import learn
    from smfq_lib.evaluate import policy_value
    from smfq_lib.learning.policy import transfer
    from smfq_lib.linear import learn_linear, rollout_linear
    from smfq_lib.model.examples import random_system

    home, other = random_system(2, 3, 2, 2, seed=0), random_system(2, 3, 2, 2, seed=1)
    q = learn(home, 2, progress=False)
    with pytest.raises(ValueError, match="learned on another system"):
        policy_value(other, q, 4, 0, [2, 1, 1])
    moved = transfer(q, other)
    assert moved.system_fingerprint == other.fingerprint != q.system_fingerprint
    assert moved.Q is q.Q  # the same table, marked for the other system
    value = policy_value(other, moved, 4, 0, [2, 1, 1])
    assert value == policy_value(other, q.action_laws(), 4, 0, [2, 1, 1])
    lin = learn_linear(home, 2, M=20, max_iter=5)
    with pytest.raises(ValueError, match="learned on another system"):
        rollout_linear(other, lin, 4, 0, [2, 1, 1], 3, 2, 0)
    rollout_linear(other, transfer(lin, other), 4, 0, [2, 1, 1], 3, 2, 0)
    with pytest.raises(ValueError, match="policy must be a SubsampledQ or LinearQ"):
        transfer(q.action_laws(), other)
