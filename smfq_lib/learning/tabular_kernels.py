"""Algorithm 1's kernels: Q over ``S_g x S_l^k x A_g x A_l^k`` (eq. 8 and, exactly, eq. 12).

Layout. Mixed radix, row-major over ``(s_g, s_1, ..., s_k, a_g, a_1, ..., a_k)``: a flat 2-D view
``Q[row, col]`` with ``row = s_g * S_l^k + sum_i s_i S_l^(k-i)`` (``Ns = S_g S_l^k`` rows) and
``col = a_g * A_l^k + sum_i a_i A_l^(k-i)`` (``Na = A_g A_l^k`` columns). The value table of an
iteration is ``V1[row] = max_col Q[row, col]``, the ``max over a'_g, a'_Delta`` of eq. (8).

Empirical operator (8): entry ``e = row * Na + col``, sample ``j``: ``s_g^j ~ P_g[s_g, a_g]``
(counter ``j * (k + 1)``), ``s_i^j ~ P_l[s_i, s_g, a_i]`` (counter ``j * (k + 1) + i``), keyed by
``rng.stream_key(seed, e)``. The next row index is stored once; iterations then use the shared
``sampled.apply_sampled``. The exact operator (12) is sum-factorised: per ``(s_g, a_g)``
block it contracts ``s_g'`` and then one agent at a time, so each entry costs ``~S_l``
multiply-adds rather than a sum over all ``S_g S_l^k`` next joint states. The kernels are
``nogil`` and take a range of rows (sampling) or ``(s_g, a_g)`` blocks (exact operator), which
the operator runs on threads (``_utils.chunks.run_chunks``: no ``parallel=True`` compilation).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib._utils.rng import categorical, counter_hashes, stream_key, uniform_hashed
from smfq_lib.model.combinatorics import expand_cells

__all__ = ["sample_tabular", "apply_exact_tabular", "fold"]


@njit(cache=True)
def _decode(x, base, k, out):
    """Digits of ``x`` in radix ``base`` (``k`` digits, most significant first) into ``out``."""
    for i in range(k - 1, -1, -1):
        out[i] = x % base
        x //= base


@njit(cache=True, nogil=True)
def sample_tabular(cdf_g, last_g, cdf_l, last_l, k, m, seed, row_lo, row_hi, out):
    """Draw the ``m`` fixed samples of the Algorithm 1 entries of rows ``row_lo .. row_hi - 1``
    (eq. 8): ``out[(e - e_lo) * m + j]`` is the flat row (next ``(s_g, s_1..s_k)``) of sample
    ``j`` of entry ``e``, where ``e_lo`` is the first entry of row ``row_lo``. Sample ``j``
    draws ``uniform(stream_key(seed, e), j (k + 1))`` for the global agent and ``+ 1 + i`` for
    agent ``i``; the counters' hashes are computed once per call and the CDF rows once per
    entry (the same uniforms: :func:`~smfq_lib._utils.rng.uniform_hashed`)."""
    A_g = cdf_g.shape[1]
    S_l = cdf_l.shape[0]
    A_l = cdf_l.shape[2]
    nl = S_l**k
    na = A_l**k
    Na = A_g * na
    e_lo = row_lo * Na
    sv = np.empty(k, dtype=np.int64)
    av = np.empty(k, dtype=np.int64)
    hashes = counter_hashes(m * (k + 1))  # uniform(key, c) = uniform_hashed(key, hashes[c])
    cdf_a = np.empty((k, S_l))  # the agents' rows of P_l's CDF, agent by agent
    last_a = np.empty(k, dtype=np.int64)
    for row in range(row_lo, row_hi):
        sg = row // nl
        _decode(row % nl, S_l, k, sv)
        for col in range(Na):
            ag = col // na
            _decode(col % na, A_l, k, av)
            for i in range(k):
                cdf_a[i] = cdf_l[sv[i], sg, av[i]]
                last_a[i] = last_l[sv[i], sg, av[i]]
            cg, lg = cdf_g[sg, ag], last_g[sg, ag]
            e = row * Na + col
            key = stream_key(seed, e)
            for j in range(m):
                base = j * (k + 1)
                nxt = categorical(cg, lg, uniform_hashed(key, hashes[base]))
                for i in range(k):
                    u = uniform_hashed(key, hashes[base + 1 + i])
                    nxt = nxt * S_l + categorical(cdf_a[i], last_a[i], u)
                out[(e - e_lo) * m + j] = nxt


@njit(cache=True, nogil=True)
def apply_exact_tabular(lo, hi, R, V1, P_g, P_l, k, gamma, Q_old, Q_new):
    """Exact operator (12) on the 2-D view ``(Ns, Na)``, for the ``(s_g, a_g)`` blocks
    ``lo .. hi - 1`` (block ``b``: ``s_g = b // A_g``, ``a_g = b % A_g``); returns their
    ``max |Q_new - Q_old|``.

    Sum factorisation of ``E V1[s_g', s_1', ..., s_k'] = sum_{s_g'} P_g[s_g, a_g, s_g']
    sum_{s_1'} P_l[s_1, s_g, a_1, s_1'] ... sum_{s_k'} P_l[s_k, s_g, a_k, s_k'] V1[s_g', s']``,
    one ``(s_g, a_g)`` block of ``Q`` at a time (every ``P_l`` reads the current ``s_g``):
    ``W[s'] = sum_{s_g'} P_g[s_g, a_g, s_g'] V1[s_g', s']`` first, then agent ``k``, ``k - 1``,
    ..., ``1``: the step for agent ``i`` maps ``T[x, s_i', ys, ya]`` (``x``: the next states of
    agents ``1..i-1``; ``ys``, ``ya``: the current states and actions of agents ``i+1..k``) to
    ``T'[x, s_i, ys, a_i, ya] = sum_{s_i'} P_l[s_i, s_g, a_i, s_i'] T[x, s_i', ys, ya]``, so that
    after agent 1 it is the block ``[s_1..s_k, a_1..a_k]`` of ``Q``, written as
    ``R + gamma T``. Cost ``~ S_g A_g S_l (S_l A_l)^k`` per sweep (``S_l`` multiply-adds per
    entry) instead of ``S_g S_l^k`` per entry; two buffers of ``S_l (S_l A_l)^(k-1)`` floats.
    Blocks are independent (callers run them on threads); each entry has one fixed summation
    order, so the result does not depend on the thread count.
    """
    S_g = P_g.shape[0]
    A_g = P_g.shape[1]
    S_l = P_l.shape[0]
    A_l = P_l.shape[2]
    nl = S_l**k
    na = A_l**k
    cap = S_l * (S_l * A_l) ** (k - 1)
    buf = np.empty(cap)
    tmp = np.empty(cap)
    acc = np.empty(A_l ** (k - 1))
    mx = 0.0
    for blk in range(lo, hi):
        sg = blk // A_g
        ag = blk % A_g
        for x in range(nl):
            buf[x] = 0.0
        for g in range(S_g):
            p = P_g[sg, ag, g]
            for x in range(nl):
                buf[x] += p * V1[g * nl + x]
        X = nl // S_l
        Ys = 1
        Ya = 1
        for _ in range(k - 1):  # agents k, k - 1, ..., 2
            for x in range(X):
                for s in range(S_l):
                    for ys in range(Ys):
                        for a in range(A_l):
                            o = (((x * S_l + s) * Ys + ys) * A_l + a) * Ya
                            for ya in range(Ya):
                                tmp[o + ya] = 0.0
                            for sn in range(S_l):
                                p = P_l[s, sg, a, sn]
                                b = ((x * S_l + sn) * Ys + ys) * Ya
                                for ya in range(Ya):
                                    tmp[o + ya] += p * buf[b + ya]
            buf, tmp = tmp, buf
            X //= S_l
            Ys *= S_l
            Ya *= A_l
        # agent 1: X == 1, write the (s_g, a_g) block of Q
        for s in range(S_l):
            for ys in range(Ys):
                row = sg * nl + s * Ys + ys
                for a in range(A_l):
                    for ya in range(Ya):
                        acc[ya] = 0.0
                    for sn in range(S_l):
                        p = P_l[s, sg, a, sn]
                        b = (sn * Ys + ys) * Ya
                        for ya in range(Ya):
                            acc[ya] += p * buf[b + ya]
                    c0 = ag * na + a * Ya
                    for ya in range(Ya):
                        q = R[row, c0 + ya] + gamma * acc[ya]
                        d = abs(q - Q_old[row, c0 + ya])
                        if d > mx:
                            mx = d
                        Q_new[row, c0 + ya] = q
    return mx


@njit(cache=True)
def fold(Q2, Zt, k, S_g, S_l, A_l, A_g):
    """A tabular ``Q`` (2-D view ``(Ns, Na)``) read at canonical representatives, in the
    mean-field shape ``(S_g, S_l, Cz, A_l, A_g)``.

    Entry ``(s_g, s_1, zc, a_1, a_g)`` is ``Q[s_g, s_1, s_2..s_k, a_g, a_1, a_2..a_k]`` where
    agent 1 is ``(s_1, a_1)`` and the other ``k - 1`` agents' pairs are ``zc`` expanded in
    ascending cell order ``z = s * A_l + a`` (so their states are sorted ascending,
    docs/design.md §9).
    """
    Cz, Z_l = Zt.shape
    out = np.empty((S_g, S_l, Cz, A_l, A_g))
    t = k - 1
    ss = np.empty(t, dtype=np.int64)
    aa = np.empty(t, dtype=np.int64)
    nl1 = S_l**t
    na1 = A_l**t
    for r in range(Cz):
        expand_cells(Zt[r], A_l, ss, aa)
        so = 0
        ao = 0
        for i in range(t):
            so = so * S_l + ss[i]
            ao = ao * A_l + aa[i]
        for sg in range(S_g):
            for s1 in range(S_l):
                row = (sg * S_l + s1) * nl1 + so
                for a1 in range(A_l):
                    for ag in range(A_g):
                        col = (ag * A_l + a1) * na1 + ao
                        out[sg, s1, r, a1, ag] = Q2[row, col]
    return out
