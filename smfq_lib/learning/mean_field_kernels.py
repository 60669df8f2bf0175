"""Algorithm 2's kernels: Q over ``S_g x S_l x mu_{k-1}(Z_l) x A_l x A_g`` (eq. 9 and its exact
counterpart, eq. 12 in mean-field form).

Layout. ``Q[s_g, s_1, r, a_1, a_g]`` with ``r = rank(zc)``, ``zc`` the (state, action) composition
of the ``k - 1`` other agents over the cells ``z = s * A_l + a``; the value table of an iteration
is ``V[s_g, s_1, c]`` over state-only compositions ``c`` of ``k - 1`` into ``S_l`` parts
(``argmax.mf_argmax``). Every kernel works on flat arrays in a fixed loop order, one
``prange`` over rows, so results are bit-identical whatever the thread count.

Empirical operator (eq. 9). For entry ``e`` (flat index of ``(s_g, s_1, r, a_1, a_g)``) and
sample ``j``: ``s_g^j ~ P_g[s_g, a_g]``, ``s_1^j ~ P_l[s_1, s_g, a_1]``, and each of the ``zc[z]``
agents of every cell ``z = (s, a)`` independently ``~ P_l[s, s_g, a]``, giving the next state
composition ``c^j`` of the others. The draws use ``rng.uniform(stream_key(seed, e), counter)``
with ``counter = j * (k + 1) + d`` (``d = 0``: global agent, ``1``: agent 1, ``2..k``: the others
in ascending cell order). They are made once; the flat index ``(s_g^j * S_l + s_1^j) * Cs +
rank(c^j)`` into ``V`` is stored, and each iteration is ``Q = R + gamma / m * sum_j V[idx]``
(:func:`smfq_lib.learning.sampled.apply_sampled`, shared with Algorithm 1).

Exact operator. For every ``(s_g, zc)`` the distribution ``D`` of the next state composition of the
others (the convolution of the cells' multinomials, built agent by agent) is stored as CSR; an
iteration computes ``W[s_g', s_1'] = sum_c' D[c'] V[s_g', s_1', c']`` and
``Q = R + gamma sum_{s_g'} P_g[s_g, a_g, s_g'] sum_{s_1'} P_l[s_1, s_g, a_1, s_1'] W[s_g', s_1']``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from smfq_lib.combinatorics import binom, compositions, expand_cells
from smfq_lib.rng import categorical, stream_key, uniform

__all__ = [
    "binom_table",
    "sample_mean_field",
    "add_tables",
    "exact_mean_field",
    "apply_exact_mean_field",
]


@njit(cache=True)
def binom_table(nmax, pmax):
    """``T[n, p] = C(n, p)`` for ``0 <= n <= nmax``, ``0 <= p <= pmax`` (int64)."""
    T = np.zeros((nmax + 1, pmax + 1), dtype=np.int64)
    for n in range(nmax + 1):
        for p in range(pmax + 1):
            T[n, p] = binom(n, p)
    return T


@njit(cache=True)
def rank_tab(c, T, btab):
    """``combinatorics.rank(c)`` for a composition of ``T`` agents, with a binomial table."""
    d = c.shape[0]
    r = 0
    for i in range(d - 1):
        p = d - 1 - i
        ci = c[i]
        if ci > 0:
            r += btab[T + p, p] - btab[T - ci + p, p]
        T -= ci
    return r


@njit(cache=True, parallel=True)
def sample_mean_field(cdf_g, last_g, cdf_l, last_l, Zt, A_l, m, seed, out):
    """Draw the ``m`` fixed samples of every Algorithm 2 entry (eq. 9); write ``out[e * m + j]``,
    the flat index into ``V`` (shape ``(S_g, S_l, Cs)``) of sample ``j`` of entry ``e``."""
    S_g = cdf_g.shape[0]
    A_g = cdf_g.shape[1]
    S_l = cdf_l.shape[0]
    Cz, Z_l = Zt.shape
    t = 0
    for z in range(Z_l):
        t += Zt[0, z]
    btab = binom_table(t + S_l, S_l)
    Cs = btab[t + S_l - 1, S_l - 1]
    kk = t + 1
    for row in prange(S_g * S_l * Cz):
        sg = row // (S_l * Cz)
        s1 = (row // Cz) % S_l
        r = row % Cz
        # the k-1 others, as (state, action) in ascending cell order
        ag_s = np.empty(t, dtype=np.int64)
        ag_a = np.empty(t, dtype=np.int64)
        expand_cells(Zt[r], A_l, ag_s, ag_a)
        cnt = np.zeros(S_l, dtype=np.int64)
        for a1 in range(A_l):
            for ag in range(A_g):
                e = ((row * A_l) + a1) * A_g + ag
                key = stream_key(seed, e)
                for j in range(m):
                    base = j * kk
                    sgn = categorical(cdf_g[sg, ag], last_g[sg, ag], uniform(key, base))
                    s1n = categorical(cdf_l[s1, sg, a1], last_l[s1, sg, a1], uniform(key, base + 1))
                    for s in range(S_l):
                        cnt[s] = 0
                    for i in range(t):
                        s = ag_s[i]
                        a = ag_a[i]
                        sn = categorical(
                            cdf_l[s, sg, a], last_l[s, sg, a], uniform(key, base + 2 + i)
                        )
                        cnt[sn] += 1
                    out[e * m + j] = (sgn * S_l + s1n) * Cs + rank_tab(cnt, t, btab)


@njit(cache=True)
def add_tables(t_max, S_l):
    """For ``t = 0 .. t_max - 1``: ``tab[off[t] + r, s]`` = rank (among compositions of
    ``t + 1``) of composition ``r`` of ``t`` plus one agent in state ``s``; and ``off``."""
    btab = binom_table(t_max + S_l, S_l)
    off = np.zeros(t_max + 1, dtype=np.int64)
    for t in range(t_max):
        off[t + 1] = off[t] + btab[t + S_l - 1, S_l - 1]
    tab = np.zeros((off[t_max], S_l), dtype=np.int64)
    for t in range(t_max):
        C = compositions(t, S_l)
        for r in range(C.shape[0]):
            for s in range(S_l):
                C[r, s] += 1
                tab[off[t] + r, s] = rank_tab(C[r], t + 1, btab)
                C[r, s] -= 1
    return tab, off


@njit(cache=True)
def _convolve(P_l, sg, Zt, r, A_l, tab, off, cur, nxt):
    """Distribution of the next state composition of the others of row ``r`` (dense, in ``cur``),
    agent by agent in ascending cell order; returns the number of compositions ``Cs``."""
    Z_l = Zt.shape[1]
    S_l = P_l.shape[0]
    cur[0] = 1.0
    t = 0
    for z in range(Z_l):
        s = z // A_l
        a = z % A_l
        for _ in range(Zt[r, z]):
            n_next = off[t + 2] - off[t + 1]
            for q in range(n_next):
                nxt[q] = 0.0
            for rr in range(off[t + 1] - off[t]):
                p = cur[rr]
                if p == 0.0:
                    continue
                for sn in range(S_l):
                    w = P_l[s, sg, a, sn]
                    if w != 0.0:
                        nxt[tab[off[t] + rr, sn]] += p * w
            for q in range(n_next):
                cur[q] = nxt[q]
            t += 1
    return off[t + 1] - off[t]


@njit(cache=True, parallel=True)
def _support(P_l, S_g, Zt, A_l, tab, off, Cs, fill, nnz, offsets, cols, probs):
    """Pass 1 (``fill=False``): ``nnz[row]`` = support size of row ``s_g * Cz + r``; pass 2:
    write the support (ranks ascending) and probabilities at ``offsets[row]``."""
    Cz = Zt.shape[0]
    for row in prange(S_g * Cz):
        cur = np.zeros(Cs)
        nxt = np.zeros(Cs)
        n = _convolve(P_l, row // Cz, Zt, row % Cz, A_l, tab, off, cur, nxt)
        o = offsets[row]
        c = 0
        for q in range(n):
            if cur[q] != 0.0:
                if fill:
                    cols[o + c] = q
                    probs[o + c] = cur[q]
                c += 1
        nnz[row] = c


def exact_mean_field(P_l, S_g, Zt, A_l):
    """CSR ``(offsets, cols, probs)`` of ``D[s_g, zc]``: for row ``s_g * Cz + r``, the exact
    distribution over next state compositions ``c'`` (ranks) of the ``k - 1`` others of
    composition ``r`` (eq. 12: convolution of the cells' multinomials ``P_l[s, s_g, a]``)."""
    S_l = P_l.shape[0]
    t = int(Zt[0].sum())
    tab, off = add_tables(t + 1, S_l)
    Cs = int(off[t + 1] - off[t])
    nnz = np.zeros(S_g * Zt.shape[0], dtype=np.int64)
    offsets = np.zeros(nnz.shape[0] + 1, dtype=np.int64)
    cols = np.empty(0, dtype=np.int32)
    probs = np.empty(0)
    _support(P_l, S_g, Zt, A_l, tab, off, Cs, False, nnz, offsets, cols, probs)
    np.cumsum(nnz, out=offsets[1:])
    cols = np.empty(int(offsets[-1]), dtype=np.int32)  # ranks < Cs, far below 2**31 here
    probs = np.empty(int(offsets[-1]))
    _support(P_l, S_g, Zt, A_l, tab, off, Cs, True, nnz, offsets, cols, probs)
    return offsets, cols, probs


@njit(cache=True, parallel=True)
def apply_exact_mean_field(R, VT, P_g, P_l, offsets, cols, probs, gamma, Q_old, Q_new):
    """Exact operator of Algorithm 2 (eq. 12 in mean-field form) on 5-D tables.

    ``VT[c', s_g', s_1']`` is the value table transposed (contiguous in ``(s_g', s_1')``); returns
    the residual ``max |Q_new - Q_old|``.
    """
    S_g, S_l, Cz, A_l, A_g = R.shape
    res = np.zeros(S_g * Cz)
    for row in prange(S_g * Cz):
        sg = row // Cz
        r = row % Cz
        W = np.zeros((S_g, S_l))
        for o in range(offsets[row], offsets[row + 1]):
            p = probs[o]
            c = cols[o]
            for g in range(S_g):
                for s in range(S_l):
                    W[g, s] += p * VT[c, g, s]
        X = np.empty(S_g)
        mx = 0.0
        for s1 in range(S_l):
            for a1 in range(A_l):
                for g in range(S_g):
                    acc = 0.0
                    for s in range(S_l):
                        acc += P_l[s1, sg, a1, s] * W[g, s]
                    X[g] = acc
                for ag in range(A_g):
                    acc = 0.0
                    for g in range(S_g):
                        acc += P_g[sg, ag, g] * X[g]
                    q = R[sg, s1, r, a1, ag] + gamma * acc
                    d = abs(q - Q_old[sg, s1, r, a1, ag])
                    if d > mx:
                        mx = d
                    Q_new[sg, s1, r, a1, ag] = q
        res[row] = mx
    out = 0.0
    for i in range(res.shape[0]):
        if res[i] > out:
            out = res[i]
    return out
