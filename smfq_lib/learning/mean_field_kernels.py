"""Algorithm 2's sampling kernels and composition tables: Q over ``S_g x S_l x mu_{k-1}(Z_l) x
A_l x A_g`` (eq. 9; the exact operator, eq. 12, is :mod:`smfq_lib.learning.mean_field_exact`).

Layout. ``Q[s_g, s_1, r, a_1, a_g]`` with ``r = rank(zc)``, ``zc`` the (state, action) composition
of the ``k - 1`` other agents over the cells ``z = s * A_l + a``; the value table of an iteration
is ``V[s_g, s_1, c]`` over state-only compositions ``c`` of ``k - 1`` into ``S_l`` parts
(``argmax.mf_argmax``).

Empirical operator (eq. 9). For entry ``e`` (flat index of ``(s_g, s_1, r, a_1, a_g)``) and
sample ``j``: ``s_g^j ~ P_g[s_g, a_g]``, ``s_1^j ~ P_l[s_1, s_g, a_1]``, and each of the ``zc[z]``
agents of every cell ``z = (s, a)`` independently ``~ P_l[s, s_g, a]``, giving the next state
composition ``c^j`` of the others. The draws use ``rng.uniform(stream_key(seed, e), counter)``
with ``counter = j * (k + 1) + d`` (``d = 0``: global agent, ``1``: agent 1, ``2..k``: the others
in ascending cell order), so they do not depend on which thread draws them. They are made once;
the flat index ``(s_g^j * S_l + s_1^j) * Cs + rank(c^j)`` into ``V`` is stored
(:func:`smfq_lib.learning.sampled.draw_samples`), and each iteration is the weighted gather
:func:`smfq_lib.learning.sampled.apply_sampled`, shared with Algorithm 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib._utils.rng import (
    categorical,
    counter_hashes,
    stream_key,
    uniform,
    uniform_hashed,
)
from smfq_lib.model.combinatorics import binom, compositions, expand_cells

__all__ = [
    "add_tables",
    "binom_table",
    "draw_next",
    "next_index",
    "rank_tab",
    "sample_base",
    "sample_mean_field",
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


@njit(cache=True)
def sample_base(j, t):
    """The first counter of sample ``j`` of an entry with ``t = k - 1`` others (its global
    draw; agent 1 at ``+ 1``, the others at ``+ 2 + i``): ``j (t + 2)``, so that the ``t + 2``
    draws of consecutive samples never share a uniform; the one definition, shared by
    :func:`draw_next` and the oracle's uniforms (:mod:`~.oracle_samples`)."""
    return j * (t + 2)


@njit(cache=True, nogil=True)
def draw_next(cdf_g, last_g, cdf_l, last_l, sg, s1, a1, ag, ag_s, ag_a, key, j, cnt):
    """Sample ``j`` of eq. (9) for the entry keyed ``key``: the next global state, agent 1's next
    state (returned) and the others' next state counts (written into ``cnt``), from uniforms
    ``j (k + 1) + 0``, ``+ 1``, ``+ 2 + i`` of the entry's stream (:func:`sample_base`).
    ``ag_s``, ``ag_a``: the ``k - 1`` others' states and actions. The one definition of an
    Algorithm 2 sample, shared by the oracle's uniforms and the linear learner's fitted targets;
    the stored samples (:func:`sample_mean_field`) draw the same with its lookups hoisted."""
    t = ag_s.shape[0]
    base = sample_base(j, t)
    sgn = categorical(cdf_g[sg, ag], last_g[sg, ag], uniform(key, base))
    s1n = categorical(cdf_l[s1, sg, a1], last_l[s1, sg, a1], uniform(key, base + 1))
    cnt[:] = 0
    for i in range(t):
        s, a = ag_s[i], ag_a[i]
        cnt[categorical(cdf_l[s, sg, a], last_l[s, sg, a], uniform(key, base + 2 + i))] += 1
    return sgn, s1n


@njit(cache=True, nogil=True)
def sample_mean_field(cdf_g, last_g, cdf_l, last_l, Zt, A_l, m, seed, row_lo, row_hi, out):
    """Draw the ``m`` fixed samples of the Algorithm 2 entries of rows ``row_lo .. row_hi - 1``
    (row ``(s_g, s_1, r)``, entries ``(a_1, a_g)``; eq. 9): ``out[(e - e_lo) * m + j]`` is the flat
    index into ``V`` (shape ``(S_g, S_l, Cs)``) of sample ``j`` of entry ``e``, where ``e_lo`` is
    the first entry of row ``row_lo``.

    The draws of :func:`draw_next` (same uniforms, same inverse-CDF rows), with its lookups
    hoisted out of the sample loop: the counters' hashes once per call
    (:func:`~smfq_lib._utils.rng.counter_hashes`), the others' CDF rows once per row and the
    global and agent-1 rows once per entry (tests/test_mean_field_sampling.py checks every
    sample against :func:`draw_next`)."""
    A_g = cdf_g.shape[1]
    S_l = cdf_l.shape[0]
    Cz, Z_l = Zt.shape
    t = Zt[0].sum()  # k - 1 (a loop from a literal 0 would compile rank_tab twice)
    btab = binom_table(t + S_l, S_l)
    Cs = btab[t + S_l - 1, S_l - 1]
    e_lo = row_lo * A_l * A_g
    ag_s = np.empty(t, dtype=np.int64)
    ag_a = np.empty(t, dtype=np.int64)
    cnt = np.zeros(S_l, dtype=np.int64)
    hashes = counter_hashes(sample_base(m, t))
    cdf_o = np.empty((t, S_l))  # the others' rows of P_l's CDF, agent by agent
    last_o = np.empty(t, dtype=np.int64)
    for row in range(row_lo, row_hi):
        sg = row // (S_l * Cz)
        s1 = (row // Cz) % S_l
        r = row % Cz
        # the k-1 others, as (state, action) in ascending cell order
        expand_cells(Zt[r], A_l, ag_s, ag_a)
        for i in range(t):
            cdf_o[i] = cdf_l[ag_s[i], sg, ag_a[i]]
            last_o[i] = last_l[ag_s[i], sg, ag_a[i]]
        for a1 in range(A_l):
            c1, l1 = cdf_l[s1, sg, a1], last_l[s1, sg, a1]
            for ag in range(A_g):
                cg, lg = cdf_g[sg, ag], last_g[sg, ag]
                e = ((row * A_l) + a1) * A_g + ag
                key = stream_key(seed, e)
                for j in range(m):
                    base = sample_base(j, t)
                    sgn = categorical(cg, lg, uniform_hashed(key, hashes[base]))
                    s1n = categorical(c1, l1, uniform_hashed(key, hashes[base + 1]))
                    cnt[:] = 0
                    for i in range(t):
                        u = uniform_hashed(key, hashes[base + 2 + i])
                        cnt[categorical(cdf_o[i], last_o[i], u)] += 1
                    out[(e - e_lo) * m + j] = (sgn * S_l + s1n) * Cs + rank_tab(cnt, t, btab)


@njit(cache=True, nogil=True)
def next_index(next_g, next_l, k, S_l, out):
    """The flat index into ``V`` (shape ``(S_g, S_l, Cs)``) of the samples whose next global
    state is ``next_g[p]`` and whose ``k`` local agents' next states are ``next_l[p k .. p k + k
    - 1]`` (agent 1 first, then the others): ``(s_g' S_l + s_1') Cs + rank(c')``, ``c'`` the
    others' next state counts, as :func:`sample_mean_field` stores it (the oracle's samples,
    :mod:`~.oracle_samples`)."""
    t = k - 1
    btab = binom_table(t + S_l, S_l)
    Cs = btab[t + S_l - 1, S_l - 1]
    cnt = np.zeros(S_l, dtype=np.int64)
    for p in range(out.shape[0]):
        cnt[:] = 0
        for i in range(1, k):
            cnt[next_l[p * k + i]] += 1
        out[p] = (next_g[p] * S_l + next_l[p * k]) * Cs + rank_tab(cnt, t, btab)


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
