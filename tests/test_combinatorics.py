"""Compositions (Definition 0.8's empirical distributions): enumeration order, rank/unrank,
state marginals, and the multinomial / multivariate hypergeometric pmfs, checked exhaustively
on small sizes against itertools and scipy."""

import itertools
import math

import numpy as np
import pytest
from numba import njit
from scipy import stats

from smfq_lib.model.combinatorics import (
    binom,
    compositions,
    log_binom,
    log_multinomial_pmf,
    marginal_ranks,
    multinomial_pmf,
    mv_hypergeometric_pmf,
    n_compositions,
    next_composition,
    rank,
    state_marginal,
    unrank,
)

T_MAX, D_MAX = 8, 6


def _itertools_compositions(t, d):
    """Sorted list of all d-tuples of non-negative ints summing to t (independent of the kernel)."""
    return sorted(c for c in itertools.product(range(t + 1), repeat=d) if sum(c) == t)


def test_spec_example_order():
    expect = [(0, 0, 2), (0, 1, 1), (0, 2, 0), (1, 0, 1), (1, 1, 0), (2, 0, 0)]
    assert [tuple(c) for c in compositions(2, 3)] == expect


def test_binom_matches_math_comb():
    for n in range(0, 30):
        for k in range(-2, n + 3):
            assert binom(n, k) == (math.comb(n, k) if 0 <= k <= n else 0)


def test_counts_from_python_are_exact_beyond_int64():
    # int64 wraps past 9.2e18: C(70, 35) = 1.1e20, C(2**63 + 1, 2) = 4.3e37
    assert binom(70, 35) == math.comb(70, 35)
    assert n_compositions(2**63 - 2, 3) == math.comb(2**63, 2)
    assert isinstance(n_compositions(10**30, 5), int)


@njit
def _in_kernel(n, k, t, d):
    return binom(n, k), n_compositions(t, d)


def test_counts_inside_kernels_match_python():
    for n in range(0, 25):
        for k in range(-1, n + 2):
            for d in range(0, 5):
                assert _in_kernel(n, k, n, d) == (binom(n, k), n_compositions(n, d))


def test_log_binom_matches_exact_integers():
    for n in [*range(0, 160), 1000, 5000]:
        for k in {*range(0, min(n, 140) + 1), n // 3, n // 2, n}:
            assert log_binom(n, k) == pytest.approx(math.log(math.comb(n, k)), rel=1e-12, abs=1e-12)
    for n in (10**9, 2**63 - 1, 10**30):  # the Stirling branch (k > 64) at huge n
        for k in (1, 64, 65, 500, 3000):
            assert log_binom(n, k) == pytest.approx(math.log(math.comb(n, k)), rel=1e-12)
    assert log_binom(3, 4) == log_binom(3, -1) == -math.inf
    assert log_binom(2**63, 2**62) == pytest.approx(2**63 * math.log(2), rel=1e-12)


@pytest.mark.parametrize("d", range(1, D_MAX + 1))
def test_compositions_exhaustive(d):
    for t in range(T_MAX + 1):
        expect = _itertools_compositions(t, d)
        got = compositions(t, d)
        assert got.dtype == np.int64 and got.shape == (len(expect), d)
        assert [tuple(int(x) for x in row) for row in got] == expect
        assert n_compositions(t, d) == len(expect) == math.comb(t + d - 1, d - 1)
        for r, c in enumerate(got):
            assert rank(c) == r
            np.testing.assert_array_equal(unrank(r, t, d), c)


def test_next_composition_walks_and_stops():
    c = np.array([0, 0, 3], dtype=np.int64)
    seen = [tuple(c)]
    while next_composition(c):
        seen.append(tuple(c))
    assert seen == _itertools_compositions(3, 3)
    assert tuple(c) == (3, 0, 0)  # the last one is left in place


def test_degenerate_sizes():
    assert n_compositions(0, 0) == 1 and n_compositions(3, 0) == 0
    assert n_compositions(0, 4) == 1
    np.testing.assert_array_equal(compositions(0, 4), np.zeros((1, 4), dtype=np.int64))
    np.testing.assert_array_equal(compositions(5, 1), [[5]])
    assert compositions(0, 0).shape == (1, 0) and compositions(2, 0).shape == (0, 0)
    assert unrank(0, 0, 0).shape == (0,)


@pytest.mark.parametrize("r, t, d", [(6, 2, 3), (-1, 2, 3), (1, 0, 3), (0, 2, 0), (10, 9, 1)])
def test_unrank_out_of_range(r, t, d):
    with pytest.raises(ValueError, match="n_compositions"):
        unrank(r, t, d)


def test_rank_large_round_trip():
    # beyond the exhaustive range: a few spot checks in a big space (k-1 = 20 into Z_l = 45)
    t, d = 20, 45
    total = n_compositions(t, d)
    assert total == math.comb(t + d - 1, d - 1)
    for r in [0, 1, total // 3, total // 2, total - 2, total - 1]:
        assert rank(unrank(r, t, d)) == r
    np.testing.assert_array_equal(unrank(0, t, d), [0] * (d - 1) + [t])
    np.testing.assert_array_equal(unrank(total - 1, t, d), [t] + [0] * (d - 1))


# marginals -----------------------------------------------------------------------------------
def test_state_marginal_small():
    # S_l = 2, A_l = 3: z = s * 3 + a
    zc = np.array([1, 0, 2, 0, 3, 1], dtype=np.int64)
    np.testing.assert_array_equal(state_marginal(zc, 2, 3), [3, 4])
    np.testing.assert_array_equal(state_marginal(zc, 3, 2), [1, 2, 4])
    np.testing.assert_array_equal(state_marginal(zc, 6, 1), zc)


@pytest.mark.parametrize("t, S_l, A_l", [(0, 2, 2), (1, 2, 3), (3, 2, 2), (2, 3, 2), (4, 1, 3)])
def test_marginal_ranks(t, S_l, A_l):
    got = marginal_ranks(t, S_l, A_l)
    Z = _itertools_compositions(t, S_l * A_l)
    S = _itertools_compositions(t, S_l)
    assert got.shape == (len(Z),)
    for zc, r in zip(Z, got, strict=True):
        marg = tuple(sum(zc[s * A_l : (s + 1) * A_l]) for s in range(S_l))
        assert S[r] == marg
    # every state composition is hit, by C(c_s + A_l - 1, A_l - 1) products of action splits
    for r, c in enumerate(S):
        expect = math.prod(math.comb(x + A_l - 1, A_l - 1) for x in c)
        assert int(np.sum(got == r)) == expect


# pmfs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", range(1, 5))
@pytest.mark.parametrize("t", [0, 1, 3, 6])
def test_multinomial_pmf_against_scipy(t, d):
    rng = np.random.default_rng(10 * t + d)
    for p in (rng.dirichlet(np.ones(d)), np.eye(d)[0], np.full(d, 1.0 / d)):
        total = 0.0
        for c in compositions(t, d):
            got = multinomial_pmf(c, p)
            want = stats.multinomial.pmf(c, t, p)
            assert got == pytest.approx(want, rel=1e-10, abs=1e-300)
            if want == 0.0:
                assert got == 0.0 and log_multinomial_pmf(c, p) == -np.inf
            total += got
        assert total == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("counts", [[3, 0, 2], [1, 1, 1, 1], [5], [0, 4], [2, 3, 1, 0, 2], [7, 1]])
def test_mv_hypergeometric_pmf_against_scipy(counts):
    counts = np.array(counts, dtype=np.int64)
    N, d = int(counts.sum()), len(counts)
    for t in range(N + 1):
        total = 0.0
        for c in compositions(t, d):
            got = mv_hypergeometric_pmf(c, counts)
            want = stats.multivariate_hypergeom.pmf(c, m=counts, n=t)
            assert got == pytest.approx(want, rel=1e-10, abs=1e-15)
            if np.any(c > counts):
                assert got == 0.0
            total += got
        assert total == pytest.approx(1.0, abs=1e-12)


def test_mv_hypergeometric_by_hand():
    # draw 2 of {a, a, b}: P[one a, one b] = 2/3, P[two a] = 1/3, P[two b] = 0
    counts = np.array([2, 1], dtype=np.int64)
    assert mv_hypergeometric_pmf(np.array([1, 1]), counts) == pytest.approx(2 / 3)
    assert mv_hypergeometric_pmf(np.array([2, 0]), counts) == pytest.approx(1 / 3)
    assert mv_hypergeometric_pmf(np.array([0, 2]), counts) == 0.0
