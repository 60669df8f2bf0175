"""The empirical operators' fixed samples, shared by Algorithms 1 and 2 (eq. 8 and 9).

Both learners draw the ``m`` next states of every (state, action) entry once, before value
iteration, by inverse CDF on the rows of ``P_g`` and ``P_l`` (:func:`cdf_tables`). Redrawing every
sweep would give a stochastic iteration with no fixed point.

Storage. An entry's ``m`` samples are indices into the iteration's value table, which is small
(a few thousand entries), so they repeat: the samples are stored per entry as their distinct
indices, ascending, each with its multiplicity (:class:`Samples`, CSR-like: per-entry offsets
``ptr``, then ``idx`` and ``mult`` in the narrowest integer types that fit). One iteration is then
the same weighted gather for both learners (:func:`apply_sampled`):
``Q[e] = R[e] + gamma / m * sum_i mult_i V[idx_i]`` over the entry's distinct indices, which is
``R[e] + gamma / m * sum_j V[next state of sample j]`` up to the order of the additions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba import njit

from smfq_lib._utils.chunks import run_chunks
from smfq_lib._utils.rng import stream_key, uniform
from smfq_lib.model.oracle import cdf_rows

__all__ = [
    "Samples",
    "apply_sampled",
    "cdf_tables",
    "draw_samples",
    "entry_queries",
    "index_dtype",
    "sample_bytes",
]

#: Entries per block of the sampling pass (each block is drawn at full width, ``m`` indices per
#: entry, then compressed; blocks run on threads).
_BLOCK_ENTRIES = 1 << 16
#: Samples per entry up to which :func:`_compress` sorts an entry by insertion (faster on short
#: runs; above, its quadratic time dominated learning at large ``m``) ...
_INSERTION_MAX = 32
#: ... and value-table sizes up to which longer entries are counted (a table of this many int64
#: per block), not sorted.
_COUNTED_MAX = 1 << 16


def index_dtype(n_targets: int):
    """Narrowest integer type of stored indices into a value table of ``n_targets`` entries."""
    if n_targets <= 1 << 16:
        return np.uint16
    return np.int32 if n_targets < 2**31 else np.int64


def _mult_dtype(m: int):
    return np.uint8 if m < 1 << 8 else (np.uint16 if m < 1 << 16 else np.int32)


def sample_bytes(entries: int, m: int, n_targets: int) -> int:
    """Upper bound on the bytes of :class:`Samples` (every sample distinct) plus the sampling
    pass's per-thread blocks (and count tables, :func:`_compress_counted`)."""
    pair = np.dtype(index_dtype(n_targets)).itemsize + np.dtype(_mult_dtype(m)).itemsize
    distinct = min(m, n_targets)
    counted = 8 * n_targets if m > _INSERTION_MAX and n_targets <= _COUNTED_MAX else 0
    block = min(entries, _BLOCK_ENTRIES) * m * (16 + pair) + counted
    return 8 * (entries + 1) + entries * distinct * pair + block * max(1, numba.get_num_threads())


@dataclass
class Samples:
    """The fixed samples of every entry ``e``: ``idx[ptr[e]:ptr[e+1]]`` are its distinct
    next-state indices into the value table (ascending) and ``mult`` their multiplicities
    (summing to ``m``)."""

    m: int
    ptr: np.ndarray
    idx: np.ndarray
    mult: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.ptr.nbytes + self.idx.nbytes + self.mult.nbytes


def cdf_tables(P_g, P_l):
    """Cumulative rows of ``P_g``, ``P_l`` and, per row, the last outcome of positive mass
    (:func:`smfq_lib.model.oracle.cdf_rows`, also the inverse CDF of ``GenerativeOracle.
    from_system``)."""
    return (*cdf_rows(P_g), *cdf_rows(P_l))


@njit(cache=True, nogil=True)
def _compress_counted(raw, m, n_targets, cnt, idx, mult):
    """:func:`_compress` by counting: each sample's value counted in a table of ``n_targets``,
    then only the entry's distinct values sorted (``O(m + d log d)`` for ``d`` distinct)."""
    seen = np.zeros(n_targets, dtype=np.int64)
    distinct = np.empty(min(m, n_targets), dtype=raw.dtype)
    o = 0
    for e in range(cnt.shape[0]):
        d = 0
        for j in range(e * m, (e + 1) * m):
            x = raw[j]
            if seen[x] == 0:
                distinct[d] = x
                d += 1
            seen[x] += 1
        values = distinct[:d]
        values.sort()
        for i in range(d):
            x = values[i]
            idx[o] = x
            mult[o] = seen[x]
            seen[x] = 0
            o += 1
        cnt[e] = d
    return o


@njit(cache=True, nogil=True)
def _compress(raw, m, n_targets, cnt, idx, mult):
    """Per entry of ``raw`` (``m`` samples each, values in ``0 .. n_targets - 1``): its distinct
    values ascending into ``idx``, their multiplicities into ``mult``, their number into
    ``cnt``; returns the pairs written. Short entries are sorted by insertion; long ones counted
    (:func:`_compress_counted`) if the count table is small, else sorted (``m`` reaches 10^5 and
    more: chapter 13's matched ``m``)."""
    if m > _INSERTION_MAX and n_targets <= _COUNTED_MAX:
        return _compress_counted(raw, m, n_targets, cnt, idx, mult)
    buf = np.empty(m, dtype=raw.dtype)
    o = 0
    for e in range(cnt.shape[0]):
        if m <= _INSERTION_MAX:
            for j in range(m):
                x = raw[e * m + j]
                i = j
                while i > 0 and buf[i - 1] > x:
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = x
        else:
            for j in range(m):  # a loop: no slice assignment in kernels (docs/design.md)
                buf[j] = raw[e * m + j]
            buf.sort()
        c = 0
        j = 0
        while j < m:
            x = buf[j]
            r = j
            while r < m and buf[r] == x:
                r += 1
            idx[o] = x
            mult[o] = r - j
            o += 1
            c += 1
            j = r
        cnt[e] = c
    return o


def draw_samples(
    draw, n_rows: int, per_row: int, m: int, n_targets: int, rows_per=None, serial=False
) -> Samples:
    """Draw and compress the samples of ``n_rows * per_row`` entries.

    ``draw(row_lo, row_hi, out)`` (a sampling kernel, or the oracle's draws:
    :mod:`smfq_lib.learning.oracle_samples`) writes the ``m`` samples of the entries of rows
    ``row_lo .. row_hi - 1`` into ``out`` (``m`` per entry, entry-major). Blocks of ``rows_per``
    rows (default: about ``_BLOCK_ENTRIES`` entries) are drawn and compressed on
    ``numba.get_num_threads()`` threads, or in order on the calling thread if ``serial``; the
    samples do not depend on the blocking (each entry's draws are keyed by the entry).
    """
    if rows_per is None:
        rows_per = max(1, _BLOCK_ENTRIES // max(per_row, 1))
    edges = list(range(0, n_rows, rows_per)) + [n_rows]
    blocks = [None] * (len(edges) - 1)
    it, mt = index_dtype(n_targets), _mult_dtype(m)

    def run(a, b):
        for i in range(a, b):
            lo, hi = edges[i], edges[i + 1]
            ne = (hi - lo) * per_row
            raw = np.empty(ne * m, dtype=np.int64)
            draw(lo, hi, raw)
            cnt = np.empty(ne, dtype=np.int64)
            idx = np.empty(ne * m, dtype=it)
            mult = np.empty(ne * m, dtype=mt)
            used = _compress(raw, m, n_targets, cnt, idx, mult)
            blocks[i] = (cnt, idx[:used].copy(), mult[:used].copy())

    if serial:
        run(0, len(blocks))
    else:
        run_chunks(run, len(blocks))
    ptr = np.zeros(n_rows * per_row + 1, dtype=np.int64)
    np.cumsum(np.concatenate([b[0] for b in blocks]), out=ptr[1:])
    idx = np.concatenate([b[1] for b in blocks])
    mult = np.concatenate([b[2] for b in blocks])
    return Samples(m, ptr, idx, mult)


@njit(cache=True, nogil=True)
def entry_queries(seed, e_lo, m, stride, s_g, a_g, s, a, g_s, g_a, l_s, l_g, l_a, u_g, u_l):
    """The oracle's queries of ``E`` consecutive entries ``e_lo, e_lo + 1, ...`` whose current
    global state and action are ``s_g[e]``, ``a_g[e]`` and whose ``k`` local agents' states and
    actions are ``s[e]``, ``a[e]`` (shape ``(E, k)``): for sample ``j``, position ``p = e m + j``,
    the global query ``g_s[p], g_a[p]`` and the local queries ``l_s[q], l_g[q], l_a[q]`` of
    agents ``q = p k + i``. If ``u_g`` is not empty, also the uniforms of the built-in sampling
    kernels, same keys and counters: ``u_g[p] = uniform(key, j stride)`` (the global draw) and
    ``u_l[q] = uniform(key, j stride + 1 + i)``, ``key = stream_key(seed, e_lo + e)``
    (:func:`~.tabular_kernels.sample_tabular`: ``stride = k + 1``;
    :func:`~.mean_field_kernels.draw_next`: ``stride = sample_base(1, k - 1)``)."""
    E, k = s.shape
    uniforms = u_g.shape[0] > 0
    for e in range(E):
        key = stream_key(seed, e_lo + e)
        for j in range(m):
            p = e * m + j
            g_s[p] = s_g[e]
            g_a[p] = a_g[e]
            base = j * stride
            if uniforms:
                u_g[p] = uniform(key, base)
            for i in range(k):
                q = p * k + i
                l_s[q] = s[e, i]
                l_g[q] = s_g[e]
                l_a[q] = a[e, i]
                if uniforms:
                    u_l[q] = uniform(key, base + 1 + i)


@njit(cache=True, nogil=True)
def _gather(lo, hi, R, V, ptr, idx, mult, scale, Q_old, Q_new):
    mx = 0.0
    for e in range(lo, hi):
        acc = 0.0
        for i in range(ptr[e], ptr[e + 1]):
            acc += mult[i] * V[idx[i]]
        q = R[e] + scale * acc
        d = abs(q - Q_old[e])
        if d > mx:
            mx = d
        Q_new[e] = q
    return mx


def apply_sampled(R, V, samples: Samples, gamma, Q_old, Q_new) -> float:
    """Empirical operator (8)/(9) on flat arrays: ``Q_new[e] = R[e] + gamma/m sum_i mult_i
    V[idx_i]`` over entry ``e``'s distinct sample indices (ascending); returns the residual
    ``max_e |Q_new[e] - Q_old[e]|``. Shared by Algorithms 1 and 2; chunks of entries run on
    threads, and each entry is computed the same way whatever the chunking."""
    res = []
    s = samples
    scale = gamma / s.m
    run_chunks(
        lambda a, b: res.append(_gather(a, b, R, V, s.ptr, s.idx, s.mult, scale, Q_old, Q_new)),
        R.shape[0],
    )
    return max(res)
