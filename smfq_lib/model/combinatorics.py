"""Compositions of an integer: the index set of the empirical distributions of Definition 0.8.

An empirical distribution ``F_{z_Delta}`` of ``t`` agents over ``d`` cells (eq. 7) is a
*composition* of ``t`` into ``d`` parts: an int64 vector ``c >= 0`` of length ``d`` with
``sum(c) = t`` (the agent counts; ``F = c / t``). There are ``C(t + d - 1, d - 1)`` of them.

Order. Compositions are enumerated in lexicographic ascending order of ``(c[0], ..., c[d-1])``;
``rank(c)`` is the position in that list (for ``t = 2, d = 3``: ``(0,0,2), (0,1,1), (0,2,0),
(1,0,1), (1,1,0), (2,0,0)``). Every table of the package that is indexed by a composition
(``mu_{k-1}(Z_l)`` and ``mu_{k-1}(S_l)`` of Algorithm 2, the count states of the n-agent
system) uses this order.

All functions are Numba kernels (``cache=True``), callable from Python and from other kernels,
except the two counts :func:`binom` and :func:`n_compositions`, which have two implementations:
called from Python they return exact Python integers (any size, ``math.comb``), so that a size
can be checked before anything is allocated; inside a kernel they compute in int64, which is
exact for every table that passed such a check (each fits in memory). :func:`log_binom` gives
the natural logarithm of a binomial coefficient of any size as a float, in constant time.
"""

from __future__ import annotations

import math
import operator

import numpy as np
from numba import njit
from numba.extending import overload

__all__ = [
    "binom",
    "log_binom",
    "n_compositions",
    "compositions",
    "rank",
    "unrank",
    "next_composition",
    "state_marginal",
    "expand_cells",
    "marginal_ranks",
    "marginal_ranks_of",
    "cell_sums",
    "log_multinomial_pmf",
    "multinomial_pmf",
    "mv_hypergeometric_pmf",
]


def binom(n, k):
    """Binomial coefficient ``C(n, k)`` (0 outside ``0 <= k <= n``).

    From Python: an exact Python int of any size. Inside a kernel: int64 arithmetic (see the
    module docstring)."""
    n, k = operator.index(n), operator.index(k)
    if k < 0 or n < 0 or k > n:
        return 0
    return math.comb(n, k)


@overload(binom, jit_options={"cache": True})
def _binom_int64(n, k):
    def impl(n, k):
        if k < 0 or n < 0 or k > n:
            return 0
        k = min(k, n - k)
        out = 1
        for i in range(k):
            out = out * (n - i) // (i + 1)
        return out

    return impl


def n_compositions(t, d):
    """Number of compositions of ``t`` into ``d`` parts, ``C(t + d - 1, d - 1)``: ``|mu_t|``.

    From Python: an exact Python int of any size; inside a kernel: int64 (module docstring)."""
    t, d = operator.index(t), operator.index(d)
    if d == 0:
        return 1 if t == 0 else 0
    return binom(t + d - 1, d - 1)


@overload(n_compositions, jit_options={"cache": True})
def _n_compositions_int64(t, d):
    def impl(t, d):
        if d == 0:
            return 1 if t == 0 else 0
        return binom(t + d - 1, min(d - 1, t))

    return impl


def log_binom(n, k) -> float:
    """``ln C(n, k)`` for integers of any size, as a float (``-inf`` outside ``0 <= k <= n``).

    Exact sums of logarithms for ``min(k, n - k) <= 64``; beyond, Stirling's series for
    ``ln n! - ln (n-k)!`` written with ``log1p`` (no cancellation between the two large terms)
    and ``lgamma(k + 1)``: relative error about 1e-13 at any size, constant time.
    """
    n, k = operator.index(n), operator.index(k)
    if k < 0 or n < 0 or k > n:
        return -math.inf
    k = min(k, n - k)
    if k <= 64:
        return math.fsum(math.log(n - k + i) - math.log(i) for i in range(1, k + 1))
    m = n - k  # >= k > 64: the series' remainder is below 1e-12

    def series(x):  # ln x! - (x + 1/2) ln x + x - ln(2 pi) / 2
        x = float(x)
        return (1.0 - 1.0 / (30.0 * x * x)) / (12.0 * x)

    # ln n! - ln m! = (m + 1/2) ln(n / m) + k ln n - k + series(n) - series(m)
    head = -(m + 0.5) * math.log1p(-k / n) + k * math.log(n) - k
    return head + series(n) - series(m) - math.lgamma(k + 1)


@njit(cache=True)
def next_composition(c):
    """Advance ``c`` in place to its successor in lexicographic order; False if it was last.

    The successor increments the rightmost part ``c[i]`` (``i < d - 1``) whose suffix
    ``c[i+1:]`` is not empty of agents, then puts the suffix's remaining agents in the last part.
    """
    d = c.shape[0]
    suffix = c[d - 1]
    for i in range(d - 2, -1, -1):
        if suffix > 0:
            c[i] += 1
            for j in range(i + 1, d - 1):
                c[j] = 0
            c[d - 1] = suffix - 1
            return True
        suffix += c[i]
    return False


@njit(cache=True)
def compositions(t, d):
    """All compositions of ``t`` into ``d`` parts, in rank order.

    Shape ``(n_compositions(t, d), d)``.
    """
    out = np.zeros((n_compositions(t, d), d), dtype=np.int64)
    c = np.zeros(d, dtype=np.int64)
    if d == 0:
        return out
    c[d - 1] = t
    r = 0
    while True:
        for i in range(d):  # element by element: a row assignment compiles ~3 s more
            out[r, i] = c[i]
        r += 1
        if not next_composition(c):
            break
    return out


@njit(cache=True)
def rank(c):
    """Position of composition ``c`` in the lexicographic order (see the module docstring).

    Compositions that come before ``c`` are counted part by part: with ``T`` agents left and
    ``p`` parts after position ``i``, the values ``0 .. c[i]-1`` at ``i`` account for
    ``C(T + p, p) - C(T - c[i] + p, p)`` compositions (hockey-stick identity).
    """
    d = c.shape[0]
    T = 0
    for i in range(d):
        T += c[i]
    r = 0
    for i in range(d - 1):
        p = d - 1 - i
        ci = c[i]
        if ci > 0:
            r += binom(T + p, p) - binom(T - ci + p, p)
        T -= ci
    return r


@njit(cache=True)
def unrank(r, t, d):
    """The composition of ``t`` into ``d`` parts with rank ``r`` (inverse of :func:`rank`).

    Raises ValueError unless ``0 <= r < n_compositions(t, d)`` (out of range, the search below
    would never end).
    """
    if r < 0 or r >= n_compositions(t, d):
        raise ValueError("unrank: r must satisfy 0 <= r < n_compositions(t, d)")
    c = np.zeros(d, dtype=np.int64)
    if d == 0:
        return c
    T = t
    for i in range(d - 1):
        p = d - 1 - i
        v = 0
        # compositions with c[i] = v number n_compositions(T - v, p)
        while True:
            block = binom(T - v + p - 1, p - 1)
            if r < block:
                break
            r -= block
            v += 1
        c[i] = v
        T -= v
    c[d - 1] = T
    return c


@njit(cache=True)
def state_marginal(zc, S_l, A_l):
    """State counts of a (state, action) composition: ``c[s] = sum_a zc[s * A_l + a]``.

    Cells are folded as ``z = s * A_l + a`` (docs/design.md §2); this maps ``F_{z}`` of eq. (7) to
    ``F_{s}``, the empirical distribution of states only.

    ``zc``: the composition over ``S_l * A_l`` cells; ``S_l``, ``A_l``: the local sizes.
    """
    c = np.zeros(S_l, dtype=np.int64)
    for s in range(S_l):
        for a in range(A_l):
            c[s] += zc[s * A_l + a]
    return c


@njit(cache=True)
def expand_cells(zc, A_l, s_out, a_out):
    """Write the agents of a (state, action) composition into ``s_out``, ``a_out``, one agent per
    position, in ascending cell order ``z = s * A_l + a`` (so the states come sorted ascending):
    the canonical representative of the agents an empirical distribution ``F_z`` counts.

    ``zc``: the composition over the ``Z_l`` cells; ``A_l``: local actions; ``s_out``,
    ``a_out``: int64 arrays of length ``sum(zc)``, overwritten.
    """
    n = 0
    for z in range(zc.shape[0]):
        for _ in range(zc[z]):
            s_out[n] = z // A_l
            a_out[n] = z % A_l
            n += 1


@njit(cache=True)
def marginal_ranks(t, S_l, A_l):
    """For every composition ``zc`` of ``t`` into ``S_l * A_l`` cells (rank order), the rank of
    its state marginal among the compositions of ``t`` into ``S_l`` parts."""
    return marginal_ranks_of(compositions(t, S_l * A_l), S_l, A_l)


@njit(cache=True)
def marginal_ranks_of(Z, S_l, A_l):
    """:func:`marginal_ranks` of the rows of ``Z`` (compositions into ``S_l * A_l`` cells)."""
    out = np.empty(Z.shape[0], dtype=np.int64)
    c = np.empty(S_l, dtype=np.int64)
    for r in range(Z.shape[0]):
        for s in range(S_l):  # state_marginal, into one buffer
            c[s] = 0
            for a in range(A_l):
                c[s] += Z[r, s * A_l + a]
        out[r] = rank(c)
    return out


@njit(cache=True)
def cell_sums(Zt, w):
    """``out[r, q] = sum_z Zt[r, z] w[z, q]`` (``Zt @ w`` for integer compositions, summed over
    the cells ``z`` in ascending order: the same bits on every machine, no BLAS). ``w`` finite:
    the empty cells add ``0 w = 0``."""
    out = np.empty((Zt.shape[0], w.shape[1]))
    for r in range(Zt.shape[0]):
        for q in range(w.shape[1]):
            acc = 0.0  # in a register: no store-to-load chain through out[r, q]
            for z in range(Zt.shape[1]):
                acc += Zt[r, z] * w[z, q]
            out[r, q] = acc
    return out


@njit(cache=True)
def log_multinomial_pmf(c, p):
    """``log P[X = c]`` for ``X ~ Multinomial(sum(c), p)`` (``-inf`` where impossible)."""
    n = 0
    out = 0.0
    for i in range(c.shape[0]):
        if c[i] > 0:
            if p[i] <= 0.0:
                return -np.inf
            out += c[i] * math.log(p[i]) - math.lgamma(c[i] + 1.0)
        n += c[i]
    return out + math.lgamma(n + 1.0)


@njit(cache=True)
def multinomial_pmf(c, p):
    """``P[X = c]`` for ``X ~ Multinomial(sum(c), p)``: next-state counts of one cell (eq. 2)."""
    return math.exp(log_multinomial_pmf(c, p))


@njit(cache=True)
def mv_hypergeometric_pmf(c, counts):
    """``P[X = c]`` for the state counts ``X`` of ``sum(c)`` agents drawn uniformly without
    replacement from a population with ``counts[s]`` agents in state ``s`` (eq. 10, 11):
    ``prod_s C(counts[s], c[s]) / C(sum(counts), sum(c))``, computed in logs."""
    N = 0
    t = 0
    out = 0.0
    for s in range(c.shape[0]):
        if c[s] > counts[s] or c[s] < 0:
            return 0.0
        out += (
            math.lgamma(counts[s] + 1.0)
            - math.lgamma(c[s] + 1.0)
            - math.lgamma(counts[s] - c[s] + 1.0)
        )
        N += counts[s]
        t += c[s]
    out -= math.lgamma(N + 1.0) - math.lgamma(t + 1.0) - math.lgamma(N - t + 1.0)
    return math.exp(out)
