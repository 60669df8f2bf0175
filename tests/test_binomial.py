"""smfq_lib._utils.binomial: the exact binomial sampler of the count-level executor, checked against
scipy.stats.binom by chi-square on a grid of (n, p) covering both regimes (inversion below
n min(p, 1-p) = 10, BTRD above), n = 1, p near 0 and 1, and n up to 10**9."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from smfq_lib._utils.binomial import BTRD_MIN_MEAN, binomial
from smfq_lib._utils.rng import stream_key

DRAWS = 20_000
P_MIN = 1e-4  # per-case significance; the draws are seeded, so the outcome is fixed


def _key(seed, stream):
    return np.uint64(stream_key(seed, stream))


@njit(cache=False)
def _draws(key, n, p, size):
    state = np.zeros(2, np.uint64)
    state[0] = key
    out = np.empty(size, np.int64)
    for i in range(size):
        out[i] = binomial(state, n, p)
    return out


def _chi_square(x, n, p, bins=40):
    """Chi-square p-value of the draws ``x`` against Binomial(n, p): bins between quantiles of
    the exact law (each expected count >= 5), tails included."""
    law = stats.binom(n, p)
    qs = np.unique(law.ppf(np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate([[-1], qs, [n]])  # bins (edges[i], edges[i+1]]
    expected = np.diff(law.cdf(edges)) * x.size
    observed = np.diff(np.searchsorted(np.sort(x), edges, side="right"))
    keep = expected > 0
    assert expected[keep].min() >= 5, (n, p)
    if keep.sum() < 2:  # a single bin holds all the mass (n = 1, p tiny is not in the grid)
        return 1.0
    return stats.chisquare(observed[keep], expected[keep] * x.size / expected[keep].sum()).pvalue


GRID = [
    (1, 0.5),
    (1, 0.03),
    (1, 0.97),
    (5, 0.2),
    (19, 0.5),  # n p = 9.5: inversion
    (20, 0.5),  # n p = 10: BTRD at its smallest mean
    (100, 0.05),
    (100, 0.95),
    (1000, 0.001),
    (1000, 0.999),
    (1000, 0.3),
    (10**6, 3e-6),
    (10**6, 1e-5),  # n p = 10: BTRD
    (10**6, 0.02),
    (10**6, 0.5),
    (10**6, 1 - 4e-6),
    (10**9, 0.3),
]


@pytest.mark.parametrize("n, p", GRID)
def test_binomial_matches_scipy(n, p):
    x = _draws(_key(7, n ^ int(p * 2**40)), n, p, DRAWS)
    assert x.min() >= 0 and x.max() <= n
    assert _chi_square(x, n, p) > P_MIN


def test_both_regimes_are_in_the_grid():
    means = [n * min(p, 1 - p) for n, p in GRID]
    assert min(means) < 1 and any(m < BTRD_MIN_MEAN for m in means)
    assert any(m == BTRD_MIN_MEAN for m in means) and max(means) > 1e8


def test_chi_square_detects_a_wrong_law():
    """The test has power: the same draws fail against a slightly different law."""
    for n, p, wrong in ((100, 0.05, 0.058), (10**6, 0.5, 0.5 + 3e-4), (20, 0.5, 0.53)):
        x = _draws(_key(7, n ^ int(p * 2**40)), n, p, DRAWS)
        assert _chi_square(x, n, p) > P_MIN
        assert _chi_square(x, n, wrong) < 1e-6, (n, p, wrong)


def test_edges_and_determinism():
    state = np.array([_key(1, 2), 0], dtype=np.uint64)
    assert binomial(state, 0, 0.5) == 0 and binomial(state, 7, 0.0) == 0
    assert binomial(state, 7, 1.0) == 7 and binomial(state, 7, 1.0 + 1e-16) == 7
    assert state[1] == 0  # no number drawn for a certain outcome
    assert binomial(state, 2**63 - 1, 0.5) > 0
    with pytest.raises(ValueError, match="p is NaN"):
        binomial(state, 5, float("nan"))
    a, b = _draws(_key(3, 0), 1000, 0.3, 50), _draws(_key(3, 0), 1000, 0.3, 50)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, _draws(_key(3, 1), 1000, 0.3, 50))
