"""Algorithm 1 kernels: Q over ``S_g x S_l^k x A_g x A_l^k`` (eq. 8 and, exactly, eq. 12).

Layout. Mixed radix, row-major over ``(s_g, s_1, ..., s_k, a_g, a_1, ..., a_k)``: a flat 2-D view
``Q[row, col]`` with ``row = s_g * S_l^k + sum_i s_i S_l^(k-i)`` (``Ns = S_g S_l^k`` rows) and
``col = a_g * A_l^k + sum_i a_i A_l^(k-i)`` (``Na = A_g A_l^k`` columns). The value table of an
iteration is ``V1[row] = max_col Q[row, col]``, the ``max over a'_g, a'_Delta`` of eq. (8).

Empirical operator (8): entry ``e = row * Na + col``, sample ``j``: ``s_g^j ~ P_g[s_g, a_g]``
(counter ``j * (k + 1)``), ``s_i^j ~ P_l[s_i, s_g, a_i]`` (counter ``j * (k + 1) + i``), keyed by
``rng.stream_key(seed, e)``. The next row index is stored once; iterations then use the shared
``mean_field.apply_sampled``. The exact operator (12) enumerates the next joint states by
contracting ``V1`` one agent at a time. Algorithm 1's tables grow like ``(S_l A_l)^k``, so they are
small whenever they fit at all: these kernels are serial (less to compile); the per-iteration
gather of the sampled operator is the shared parallel kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib.rng import categorical, stream_key, uniform

__all__ = ["sample_tabular", "apply_exact_tabular", "fold"]


@njit(cache=True)
def _decode(x, base, k, out):
    """Digits of ``x`` in radix ``base`` (``k`` digits, most significant first) into ``out``."""
    for i in range(k - 1, -1, -1):
        out[i] = x % base
        x //= base


@njit(cache=True)
def sample_tabular(cdf_g, last_g, cdf_l, last_l, k, m, seed, out):
    """Draw the ``m`` fixed samples of every Algorithm 1 entry (eq. 8): ``out[e * m + j]`` is the
    flat row (next ``(s_g, s_1..s_k)``) of sample ``j`` of entry ``e``."""
    S_g = cdf_g.shape[0]
    A_g = cdf_g.shape[1]
    S_l = cdf_l.shape[0]
    A_l = cdf_l.shape[2]
    nl = S_l**k
    na = A_l**k
    Na = A_g * na
    for row in range(S_g * nl):
        sg = row // nl
        sv = np.empty(k, dtype=np.int64)
        av = np.empty(k, dtype=np.int64)
        _decode(row % nl, S_l, k, sv)
        for col in range(Na):
            ag = col // na
            _decode(col % na, A_l, k, av)
            e = row * Na + col
            key = stream_key(seed, e)
            for j in range(m):
                base = j * (k + 1)
                nxt = categorical(cdf_g[sg, ag], last_g[sg, ag], uniform(key, base))
                for i in range(k):
                    s = sv[i]
                    a = av[i]
                    sn = categorical(cdf_l[s, sg, a], last_l[s, sg, a], uniform(key, base + 1 + i))
                    nxt = nxt * S_l + sn
                out[e * m + j] = nxt


@njit(cache=True)
def apply_exact_tabular(R, V1, P_g, P_l, k, gamma, Q_old, Q_new):
    """Exact operator (12) on the 2-D view ``(Ns, Na)``; returns ``max |Q_new - Q_old|``.

    For each row and local action vector, ``Y[s_g'] = E V1[s_g', s']`` with ``s'_i ~
    P_l[s_i, s_g, a_i]`` independently, computed by contracting the last agent first.
    """
    S_g = P_g.shape[0]
    A_g = P_g.shape[1]
    S_l = P_l.shape[0]
    A_l = P_l.shape[2]
    nl = S_l**k
    na = A_l**k
    Ns = S_g * nl
    res = np.zeros(Ns)
    for row in range(Ns):
        sg = row // nl
        sv = np.empty(k, dtype=np.int64)
        av = np.empty(k, dtype=np.int64)
        _decode(row % nl, S_l, k, sv)
        buf = np.empty(S_g * nl)
        tmp = np.empty(S_g * nl)
        Y = np.empty(S_g)
        mx = 0.0
        for al in range(na):
            _decode(al, A_l, k, av)
            for x in range(S_g * nl):
                buf[x] = V1[x]
            size = nl
            for i in range(k - 1, -1, -1):
                new = size // S_l
                for g in range(S_g):
                    for x in range(new):
                        acc = 0.0
                        for sn in range(S_l):
                            acc += P_l[sv[i], sg, av[i], sn] * buf[g * size + x * S_l + sn]
                        tmp[g * new + x] = acc
                size = new
                for x in range(S_g * size):
                    buf[x] = tmp[x]
            for g in range(S_g):
                Y[g] = buf[g]
            for ag in range(A_g):
                acc = 0.0
                for g in range(S_g):
                    acc += P_g[sg, ag, g] * Y[g]
                col = ag * na + al
                q = R[row, col] + gamma * acc
                d = abs(q - Q_old[row, col])
                if d > mx:
                    mx = d
                Q_new[row, col] = q
        res[row] = mx
    out = 0.0
    for i in range(Ns):
        if res[i] > out:
            out = res[i]
    return out


@njit(cache=True)
def fold(Q2, Zt, k, S_g, S_l, A_l, A_g):
    """A tabular ``Q`` (2-D view ``(Ns, Na)``) read at canonical representatives, in the
    mean-field shape ``(S_g, S_l, Cz, A_l, A_g)``.

    Entry ``(s_g, s_1, zc, a_1, a_g)`` is ``Q[s_g, s_1, s_2..s_k, a_g, a_1, a_2..a_k]`` where
    agent 1 is ``(s_1, a_1)`` and the other ``k - 1`` agents' pairs are ``zc`` expanded in
    ascending cell order ``z = s * A_l + a`` (so their states are sorted ascending, DESIGN §9).
    """
    Cz, Z_l = Zt.shape
    out = np.empty((S_g, S_l, Cz, A_l, A_g))
    t = k - 1
    ss = np.empty(t, dtype=np.int64)
    aa = np.empty(t, dtype=np.int64)
    nl1 = S_l**t
    na1 = A_l**t
    for r in range(Cz):
        n = 0
        for z in range(Z_l):
            for _ in range(Zt[r, z]):
                ss[n] = z // A_l
                aa[n] = z % A_l
                n += 1
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
