"""The empirical operators' fixed samples, shared by Algorithms 1 and 2 (eq. 8 and 9).

Both learners draw the ``m`` next states of every (state, action) entry once, before value
iteration, by inverse CDF on the rows of ``P_g`` and ``P_l`` (:func:`cdf_tables`), and store
for each sample the flat index of its next state in the iteration's value table (int32 while
every index fits, see :func:`index_dtype`). Redrawing every sweep would give a stochastic
iteration with no fixed point. One iteration is then the same gather for both
(:func:`apply_sampled`): ``Q = R + gamma / m sum_j V[idx]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["NBLOCKS", "apply_sampled", "cdf_tables", "index_dtype"]

#: Blocks of the gather's residual reduction (one ``prange`` iteration each).
NBLOCKS = 512


def index_dtype(n_targets: int):
    """Integer type of stored sample indices into a value table of ``n_targets`` entries."""
    return np.int32 if n_targets < 2**31 else np.int64


def cdf_tables(P_g, P_l):
    """Cumulative rows of ``P_g``, ``P_l`` and, per row, the last outcome of positive mass."""

    def last_pos(P):
        pos = P > 0
        return (P.shape[-1] - 1 - np.argmax(pos[..., ::-1], axis=-1)).astype(np.int64)

    return np.cumsum(P_g, axis=-1), last_pos(P_g), np.cumsum(P_l, axis=-1), last_pos(P_l)


@njit(cache=True, parallel=True)
def apply_sampled(R, V, idx, m, gamma, Q_old, Q_new, nblocks):
    """Empirical operator (8)/(9) on flat arrays: ``Q_new[e] = R[e] + gamma/m sum_j V[idx[e*m+j]]``.

    Returns the residual ``max_e |Q_new[e] - Q_old[e]|``. Shared by Algorithms 1 and 2.
    """
    N = R.shape[0]
    res = np.zeros(nblocks)
    step = (N + nblocks - 1) // nblocks
    scale = gamma / m
    for b in prange(nblocks):
        lo = b * step
        hi = min(N, lo + step)
        mx = 0.0
        for e in range(lo, hi):
            acc = 0.0
            base = e * m
            for j in range(m):
                acc += V[idx[base + j]]
            q = R[e] + scale * acc
            d = abs(q - Q_old[e])
            if d > mx:
                mx = d
            Q_new[e] = q
        res[b] = mx
    out = 0.0
    for b in range(nblocks):
        if res[b] > out:
            out = res[b]
    return out
