"""Algorithm 2's exact operator (eq. 12 in mean-field form), by sum factorisation: no
next-composition distribution is stored.

Row ``(s_g, zc)`` of the mean-field ``Q`` needs, for every ``(s_g', s_1')``,
``W[s_g', s_1'] = E V[s_g', s_1', c']``: the expectation over the next state composition ``c'``
of the ``k - 1`` others, each of the ``zc[z]`` agents of cell ``z = (s, a)`` moving
independently by ``p_z = P_l[s, s_g, a, :]``. With the one-agent operator
``(A_p f)(c) = sum_s p[s] f(c + e_s)`` (``f`` over compositions of ``T``, ``A_p f`` over those of
``T - 1``), ``E f(sum of the agents' one-hot moves) = (A_{p_1} ... A_{p_T} f)(0)``, and the
``A_p`` commute. So ``W(zc) = A_{p_0}^{zc[0]} ... A_{p_{Z-3}}^{zc[Z-3]} V`` read under the law
of the last two cells' ``zc[Z-2] + zc[Z-1]`` agents (a table, :class:`ExactTables`).

Sweep. Rows are visited depth first over the cells, in rank order (lexicographic, the order of
``smfq_lib.model.combinatorics``): level ``d`` holds ``A_{p_d}^{zc[d]}`` applied to level ``d -
1``'s table, and moving to the next prefix ``zc[0..Z-3]`` adds ONE agent to one cell, i.e. one
application of ``A_p`` to a table over compositions of fewer agents; for each prefix with ``T``
agents left, the rows ``zc[Z-2] = 0..T`` are dot products of that table with the tabulated laws
of the last two cells. Cost per sweep ``~ S_g S_l`` multiply-adds per (composition of ``k - 1``
into ``Z_l + S_l - 1`` parts), several times fewer than an expectation per row over a stored
distribution of ``Cs`` points, and no storage beyond the last two cells' laws and ``O(Z_l Cs)``
per thread. Work units are ``(s_g, zc[0])``; every ``Q`` entry is computed by one fixed sequence
of operations, so the result does not depend on the thread count.

Policy iteration (:mod:`smfq_lib.learning.solvers`) also needs the distribution itself for the
rows its policy picks (:func:`next_composition_laws`: agent by agent, one row at a time).

The count MDP. With no agent kept apart and ``t = n``, the same sweep is the Bellman operator of
the whole ``n``-agent system on its count states ``(s_g, c)`` with actions ``(a_g, zc)``
(:func:`apply_exact_count`): ``V*`` of :func:`smfq_lib.evaluate.optimal_value_table`. There the
next global state does not depend on the compositions given the action, so ``V`` is first mixed
by ``P_g`` (``A_g`` channels per ``s_g``) and a row's value is its channel's sum.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from numba import njit

from smfq_lib._utils.chunks import run_chunks
from smfq_lib.learning.mean_field_kernels import add_tables, binom_table, rank_tab

__all__ = [
    "ExactTables",
    "apply_exact_count",
    "apply_exact_mean_field",
    "exact_bytes",
    "exact_tables",
    "next_composition_laws",
    "refresh_laws",
]


class ExactTables:
    """Index and weight tables of the exact sweep for ``t = k - 1`` others: ``tab``, ``off``
    (``mean_field_kernels.add_tables``), ``btab`` (binomials for ranks over ``Z_l`` cells) and
    ``law2[s_g, loff[T] + j * C(T) + x]``: the law over the compositions ``x`` of ``T`` of the
    next states of ``j`` agents of cell ``Z_l - 2`` and ``T - j`` of cell ``Z_l - 1`` (``C(T)``
    compositions of ``T``; ``0 <= j <= T <= t``; with one cell, ``j = 0`` only).

    With two cells or fewer (``Z_l = S_l A_l <= 2``) every row has all ``t`` agents in the last
    two cells, so the sweep and :func:`next_composition_laws` read only the laws of ``T = t``:
    only they are kept (``loff[t] = 0``, ``loff[t + 1]`` their size; the other ``loff`` are not
    used), built through the smaller ``T`` without storing them (the count MDP's ``t = n``: the
    whole table is ``~ t^3 / 3`` numbers, 2.7 GB per ``s_g`` at ``n = 1000``)."""

    def __init__(self, P_l, S_g, A_l, t):
        self.t = t
        self.tab, self.off, self.btab, self.loff = _index_tables(t, P_l.shape[0], A_l)
        last_only = _last_only(P_l.shape[0], A_l)
        if last_only:
            self.loff = np.zeros(t + 2, dtype=np.int64)
            self.loff[t + 1] = (t + 1) * (self.off[t + 1] - self.off[t])
            self.loff.setflags(write=False)  # read-only as the shared tables: one signature
        self.law2 = np.zeros((S_g, self.loff[-1]))
        _two_cell_laws(P_l, A_l, t, self.tab, self.off, self.loff, self.law2, last_only)


def _last_only(S_l, A_l) -> bool:
    """True if :class:`ExactTables` keeps only the laws of ``T = t`` (two cells or fewer)."""
    return S_l * A_l <= 2


@functools.lru_cache(maxsize=16)
def _index_tables(t, S_l, A_l):
    """``tab``, ``off``, ``btab``, ``loff`` of :class:`ExactTables`: they depend only on ``(t,
    S_l, A_l)``, so they are built once and shared (read-only) by every table set of that
    shape (a small solve, ``V*`` on 25 agents, spends as long building them as sweeping)."""
    tab, off = add_tables(t + 1, S_l)
    btab = binom_table(t + S_l * A_l, S_l * A_l)
    sizes = np.arange(1, t + 2) * np.diff(off)[: t + 1]  # (T + 1) C(T + S_l - 1, T)
    loff = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    for a in (tab, off, btab, loff):
        a.setflags(write=False)
    return tab, off, btab, loff


def exact_tables(P_l, S_g, A_l, t) -> ExactTables:
    """The tables of :func:`apply_exact_mean_field` for ``t = k - 1`` others."""
    return ExactTables(P_l, S_g, A_l, t)


@njit(cache=True)
def _two_cell_laws(P_l, A_l, t, tab, off, loff, law2, last_only):
    """``law2`` of :class:`ExactTables` (zeroed on entry), agent by agent:
    ``(0, T)`` is ``(0, T - 1)`` with one agent of cell ``Z_l - 1`` added, and ``(j, T - j)``,
    ``j >= 1``, is ``(j - 1, T - j)`` with one agent of cell ``Z_l - 2`` added. With
    ``last_only``, the laws of each ``T`` go to a scratch table that the next ``T`` reads (the
    same operations in the same order), and only those of ``T = t`` into ``law2``."""
    S_g = law2.shape[0]
    S_l = P_l.shape[0]
    Z = S_l * A_l
    b_s, b_a = (Z - 1) // A_l, (Z - 1) % A_l
    a_s, a_a = max(Z - 2, 0) // A_l, max(Z - 2, 0) % A_l
    size = (t + 1) * (off[t + 1] - off[t]) if last_only else 0
    scratch = np.zeros((2, size))
    for sg in range(S_g):
        prev = scratch[0] if last_only else law2[sg]
        cur = scratch[1] if last_only else law2[sg]
        prev[0] = 1.0  # T = 0 (loff[0] = 0)
        for T in range(1, t + 1):
            n = off[T + 1] - off[T]
            n_prev = off[T] - off[T - 1]
            src0 = 0 if last_only else loff[T - 1]
            dst0 = 0 if last_only else loff[T]
            if last_only:
                cur[: (T + 1) * n] = 0.0
            for j in range(T + 1 if Z > 1 else 1):
                if j == 0:
                    src, s, a = src0, b_s, b_a
                else:
                    src, s, a = src0 + (j - 1) * n_prev, a_s, a_a
                dst = dst0 + j * n
                for s2 in range(S_l):  # one next state at a time: no two updates of the inner
                    w = P_l[s, sg, a, s2]  # loop hit the same entry (no store-to-load chain)
                    for r in range(n_prev):
                        cur[dst + tab[off[T - 1] + r, s2]] += prev[src + r] * w
            if last_only:
                prev, cur = cur, prev
        if last_only:
            law2[sg, :size] = prev[:size]
            scratch[:] = 0.0


@njit(cache=True)
def _add_agent(bufs, i_src, T, P_l, s_p, sg, a_p, tab, off, i_dst):
    """``bufs[i_dst] = A_p bufs[i_src]``, ``p = P_l[s_p, sg, a_p]``: ``dst[r] = sum_s p[s]
    src[rank(c_r + e_s)]`` over the compositions ``c_r`` of ``T - 1`` (``src`` over compositions
    of ``T``; rows of ``K`` channels). Indices, not views: a view per call costs as much as the
    work of a small table."""
    S_l = P_l.shape[0]
    K = bufs.shape[2]
    base = off[T - 1]
    for r in range(off[T] - base):
        for q in range(K):
            acc = 0.0  # in a register: no store-to-load chain through dst[r, q]
            for s in range(S_l):
                w = P_l[s_p, sg, a_p, s]
                if w != 0.0:
                    acc += w * bufs[i_src, tab[base + r, s], q]
            bufs[i_dst, r, q] = acc


@njit(cache=True, nogil=True)
def _prefix_sums(bufs, i, law2, sg, base, nT, nj, W2):
    """``W2[q, j] = sum_x l2[base + j nT + x] L[x, q]`` (``x`` ascending) for ``j < nj``, with
    ``L = bufs[i]`` and ``l2 = law2[sg]`` (indices, not views, as in :func:`_add_agent`): the
    rows of one prefix, each the law of its last two cells (``law2``) against the table ``L``.
    Four rows by two channels at once, the eight sums in registers: the loops are short (``nT``
    and ``nj`` about ``T``), and sums kept in memory would wait on each other's stores."""
    K = bufs.shape[2]
    for q in range(0, K, 2):
        p = min(q + 1, K - 1)  # the second channel (q again when K is odd: written twice)
        j0 = 0
        while j0 + 4 <= nj:
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = 0.0
            lt = base + j0 * nT
            for x in range(nT):
                Lq, Lp = bufs[i, x, q], bufs[i, x, p]
                w0, w1, w2, w3 = (
                    law2[sg, lt + x],
                    law2[sg, lt + nT + x],
                    law2[sg, lt + 2 * nT + x],
                    law2[sg, lt + 3 * nT + x],
                )
                a0 += w0 * Lq
                a1 += w1 * Lq
                a2 += w2 * Lq
                a3 += w3 * Lq
                b0 += w0 * Lp
                b1 += w1 * Lp
                b2 += w2 * Lp
                b3 += w3 * Lp
            W2[q, j0], W2[q, j0 + 1], W2[q, j0 + 2], W2[q, j0 + 3] = a0, a1, a2, a3
            W2[p, j0], W2[p, j0 + 1], W2[p, j0 + 2], W2[p, j0 + 3] = b0, b1, b2, b3
            j0 += 4
        for j in range(j0, nj):
            a0 = b0 = 0.0
            lt = base + j * nT
            for x in range(nT):
                a0 += law2[sg, lt + x] * bufs[i, x, q]
                b0 += law2[sg, lt + x] * bufs[i, x, p]
            W2[q, j] = a0
            W2[p, j] = b0


@njit(cache=True, nogil=True)
def _sweep_lanes(
    lo, hi, lanes, R, VT, mixed, P_g, P_l, P_1, tab, off, law2, loff, btab, gamma, Q_old, Q_new, res
):
    """Lanes ``lo .. hi - 1`` of the exact sweep; lane ``L`` does the work units ``L, L + lanes,
    ...`` (unit ``u``: with three cells or more ``s_g = u // (t + 1)`` and ``zc[0] = u % (t +
    1)``, else ``s_g = u``) and writes its residual to ``res[L]``. A lane keeps the table of the
    cell-0 agents from one unit to its next of the same ``s_g`` and adds only the new agents:
    the same operations as from ``V``, so every entry's bits do not depend on the lanes. ``P_l``
    moves the others; ``P_1[s_1, s_g, a_1, s_1']`` moves agent 1 (``R`` is ``(S_g, S_1, Cz,
    A_1, A_g)``, ``VT`` ``(1, Cs, S_g S_1')``). ``mixed`` (the count MDP, no agent 1):
    ``VT[s_g, c, a_g] = sum_g P_g[s_g, a_g, g] V[g, c]`` already holds the global move, so the
    rows of ``s_g`` read channel ``a_g`` of their sums directly (``P_1`` is not read)."""
    S_g, S_1, Cz, A_1, A_g = R.shape
    S_l, A_l = P_l.shape[0], P_l.shape[2]
    S_1n = P_1.shape[3]
    Z = S_l * A_l
    Cs, K = VT.shape[1], VT.shape[2]
    t = loff.shape[0] - 2
    last = max(Z - 3, 0)  # deepest level of the prefix zc[0..Z-3]
    depth = min(Z - 2, t + 1) + 1 if Z > 2 else 1  # tables alive at once (+ a spare)
    bufs = np.empty((depth, Cs, K))
    W2 = np.empty((K, t + 1))
    free = np.empty(depth, dtype=np.int64)
    src = np.zeros(Z, dtype=np.int64)
    own = np.zeros(Z, dtype=np.bool_)
    Tn = np.zeros(Z, dtype=np.int64)
    zc = np.zeros(Z, dtype=np.int64)
    X = np.empty((S_g, t + 1))
    acc = np.empty(t + 1)
    units = S_g * (t + 1) if Z > 2 else S_g
    for lane in range(lo, hi):
        mx = 0.0
        held, sg_held = -1, -1  # the cell-0 table in bufs[src[0]]: its agents, its s_g
        for u in range(lane, units, lanes):
            sg = u // (t + 1) if Z > 2 else u
            n0 = u % (t + 1) if Z > 2 else 0
            if held < 0 or sg != sg_held or n0 < held:  # start again from V
                src[0] = 0
                v = sg if mixed else 0
                for r in range(Cs):
                    for q in range(K):
                        bufs[0, r, q] = VT[v, r, q]
                held, sg_held = 0, sg
            nfree = 0
            for i in range(depth):
                if i != src[0]:
                    free[nfree] = i
                    nfree += 1
            while held < n0:  # the unit's agents into cell 0, on from the last unit's table
                f = free[nfree - 1]
                _add_agent(bufs, src[0], t - held, P_l, 0, sg, 0, tab, off, f)
                free[nfree - 1] = src[0]
                src[0] = f
                held += 1
            Tn[0] = t - n0
            for d in range(1, last + 1):
                src[d] = src[0]
                own[d] = False
                Tn[d] = Tn[0]
            rr = 0
            if Z > 2:  # rank of (n0, 0, ..., 0, t - n0), the unit's first row
                zc[:] = 0
                zc[0] = n0
                zc[Z - 1] = t - n0
                rr = rank_tab(zc, t, btab)
            while True:
                # the rows of this prefix: j agents in cell Z - 2, the other T - j in cell Z - 1
                T = Tn[last]
                nT = off[T + 1] - off[T]
                nj = T + 1 if Z > 1 else 1
                _prefix_sums(bufs, src[last], law2, sg, loff[T], nT, nj, W2)
                if mixed:  # the backup: W2[a_g, j] = E sum_g P_g[s_g, a_g, g] V[g, c']
                    for j in range(nj):
                        for ag in range(A_g):
                            qv = R[sg, 0, rr + j, 0, ag] + gamma * W2[ag, j]
                            mx = max(mx, abs(qv - Q_old[sg, 0, rr + j, 0, ag]))
                            Q_new[sg, 0, rr + j, 0, ag] = qv
                # else, for the nj rows at once: agent 1's move, the global move, the backup
                for s1 in range(0 if mixed else S_1):
                    for a1 in range(A_1):
                        Xa = X
                        if S_1n == 1 and P_1[s1, sg, a1, 0] == 1.0:
                            Xa = W2  # one local state: X = W2, bit for bit
                        else:
                            for g in range(S_g):
                                for j in range(nj):
                                    X[g, j] = 0.0
                                for s in range(S_1n):
                                    w = P_1[s1, sg, a1, s]
                                    for j in range(nj):
                                        X[g, j] += w * W2[g * S_1n + s, j]
                        for ag in range(A_g):
                            for j in range(nj):
                                acc[j] = 0.0
                            for g in range(S_g):
                                w = P_g[sg, ag, g]
                                for j in range(nj):
                                    acc[j] += w * Xa[g, j]
                            for j in range(nj):
                                qv = R[sg, s1, rr + j, a1, ag] + gamma * acc[j]
                                mx = max(mx, abs(qv - Q_old[sg, s1, rr + j, a1, ag]))
                                Q_new[sg, s1, rr + j, a1, ag] = qv
                rr += nj
                # next prefix: one more agent in the deepest cell 1 <= d <= Z - 3 that takes one
                d = last
                while d >= 1 and Tn[d] == 0:
                    d -= 1
                if d < 1:
                    break
                nfree -= 1
                f = free[nfree]
                _add_agent(bufs, src[d], Tn[d], P_l, d // A_l, sg, d % A_l, tab, off, f)
                if own[d]:
                    free[nfree] = src[d]
                    nfree += 1
                src[d] = f
                own[d] = True
                Tn[d] -= 1
                for e in range(d + 1, last + 1):
                    if own[e]:
                        free[nfree] = src[e]
                        nfree += 1
                        own[e] = False
                    src[e] = f
                    Tn[e] = Tn[d]
        res[lane] = mx


def apply_exact_mean_field(R, V, P_g, P_l, tables, gamma, Q_old, Q_new) -> float:
    """Exact operator of Algorithm 2 (eq. 12 in mean-field form) on 5-D tables: ``Q_new = R +
    gamma E V(next)`` for the value table ``V`` (shape ``(S_g, S_l, Cs)``); returns
    ``max |Q_new - Q_old|``. Runs on ``numba.get_num_threads()`` threads (nogil kernel)."""
    S_g, S_l, Cs = V.shape
    VT = np.ascontiguousarray(V.reshape(S_g * S_l, Cs).T)[None]
    return _backup(R, VT, False, P_g, P_l, P_l, tables, gamma, Q_old, Q_new)


@njit(cache=True)
def _premix(P_g, V, out):
    """``out[s_g, c, a_g] = sum_g P_g[s_g, a_g, g] V[g, c]`` (``g`` ascending)."""
    S_g, A_g = P_g.shape[0], P_g.shape[1]
    for sg in range(S_g):
        for c in range(V.shape[1]):
            for ag in range(A_g):
                acc = 0.0
                for g in range(S_g):
                    acc += P_g[sg, ag, g] * V[g, c]
                out[sg, c, ag] = acc


def apply_exact_count(R, V, P_g, P_l, tables, gamma, Q_old, Q_new) -> float:
    """The Bellman operator of the count MDP of the whole ``n``-agent system (the sweep with no
    agent kept apart, ``tables`` for ``t = n``): ``Q_new[s_g, r, a_g] = R + gamma sum_{s_g'}
    P_g[s_g, a_g, s_g'] E V[s_g', c']``, ``c'`` the next state composition of the ``n`` agents
    of composition ``zc_r`` (eq. 2), for ``V`` of shape ``(S_g, Cs)`` and ``R``, ``Q`` of shape
    ``(S_g, Cz, A_g)``; returns ``max |Q_new - Q_old|``. ``s_g'`` does not depend on ``c'``
    given the action, so the sum over ``s_g'`` is taken first, on ``V`` (:func:`_premix`: ``A_g``
    channels per ``s_g``), and the sweep reads each row's value from its channel."""
    S_g, Cz, A_g = R.shape
    five = (S_g, 1, Cz, 1, A_g)
    VT = np.empty((S_g, V.shape[1], A_g))
    _premix(P_g, V, VT)
    return _backup(
        R.reshape(five), VT, True, P_g, P_l, P_l, tables, gamma, Q_old.reshape(five),
        Q_new.reshape(five),
    )  # fmt: skip


def _backup(R, VT, mixed, P_g, P_l, P_1, tables, gamma, Q_old, Q_new) -> float:
    """The sweep (:func:`_sweep_lanes`) for the value table ``VT`` (``(1, Cs, S_g S_1')``, or
    ``mixed`` by ``P_g``: ``(S_g, Cs, A_g)``) on ``numba.get_num_threads()`` threads; returns
    its residual."""
    threads = numba.get_num_threads()
    lanes = 4 * threads if threads > 1 else 1  # one lane: each unit carries on from the last
    res = np.zeros(lanes)
    run_chunks(
        lambda a, b: _sweep_lanes(
            a, b, lanes, R, VT, mixed, P_g, P_l, P_1, tables.tab, tables.off, tables.law2,
            tables.loff, tables.btab, gamma, Q_old, Q_new, res,
        ),
        lanes,
    )  # fmt: skip
    return float(res.max())


def refresh_laws(P_l, A_l, Zt, sg, r, tables, laws, law_of) -> None:
    """``laws[v]`` = the next-composition law (:func:`next_composition_laws`) of the agents of
    composition ``Zt[r[v]]`` under global state ``sg[v]``, for every value state ``v`` of a
    policy; recomputed only where ``law_of[v]`` (``sg * Cz + r`` of the law held) changed."""
    law = sg * Zt.shape[0] + r
    todo = np.flatnonzero(law != law_of)
    if todo.size:
        D = np.empty((todo.size, laws.shape[1]))
        run_chunks(
            lambda a, b: next_composition_laws(
                P_l, A_l, Zt, sg[todo[a:b]], r[todo[a:b]], tables.tab, tables.off, tables.law2,
                tables.loff, D[a:b],
            ),
            todo.size,
        )  # fmt: skip
        laws[todo] = D
        law_of[todo] = law[todo]


def exact_bytes(S_g, S_l, A_l, t, K) -> int:
    """Bytes of :class:`ExactTables` for ``t`` agents (the last two cells' laws:
    ``sum_T (T + 1) C(T + S_l - 1, S_l - 1) = S_l C(t + S_l + 1, S_l + 1) - (S_l - 1) C(t + S_l,
    S_l)`` per ``s_g``; with two cells or fewer those of ``T = t`` and the build's scratch) and
    the sweep's per-thread tables of ``K`` channels over ``C(t + S_l - 1, S_l - 1)`` compositions
    (and over the ``t + 1`` rows of a prefix)."""
    Cs = math.comb(t + S_l - 1, S_l - 1)
    if _last_only(S_l, A_l):  # the laws of T = t, and two scratch tables while building them
        laws = 3 * (t + 1) * Cs
    else:
        laws = S_l * math.comb(t + S_l + 1, S_l + 1) - (S_l - 1) * math.comb(t + S_l, S_l)
    depth = min(S_l * A_l, t + 2) + 1
    return 8 * S_g * laws + 8 * K * (Cs * depth + t + 1) * numba.get_num_threads()


@njit(cache=True, nogil=True)
def next_composition_laws(P_l, A_l, Zt, sgs, rows, tab, off, law2, loff, out):
    """``out[i, c']`` = probability that the agents of composition ``Zt[rows[i]]`` (global state
    ``sgs[i]``) move to state composition ``c'`` (rank order; eq. 12): the law of the last two
    cells' agents from ``law2`` (:class:`ExactTables`, the sweep's own table), then the other
    cells' agents added one by one in ascending cell order. Built from the tables the sweep
    reads, a policy's chain agrees with the backup to rounding, which is what lets
    policy iteration certify its last policy without extra sweeps."""
    Z_l = Zt.shape[1]
    S_l = P_l.shape[0]
    Cs = out.shape[1]
    nxt = np.empty(Cs)
    for i in range(rows.shape[0]):
        sg = sgs[i]
        zc = Zt[rows[i]]
        cur = out[i]
        j = zc[Z_l - 2] if Z_l > 1 else 0
        t = zc[Z_l - 1] + j
        n_t = off[t + 1] - off[t]
        base = loff[t] + j * n_t
        for q in range(Cs):
            cur[q] = law2[sg, base + q] if q < n_t else 0.0
        for z in range(Z_l - 2):
            s = z // A_l
            a = z % A_l
            for _ in range(zc[z]):
                n_next = off[t + 2] - off[t + 1]
                for q in range(n_next):
                    nxt[q] = 0.0
                for sn in range(S_l):  # one next state at a time (as in _two_cell_laws)
                    w = P_l[s, sg, a, sn]
                    if w != 0.0:
                        for rr in range(off[t + 1] - off[t]):
                            nxt[tab[off[t] + rr, sn]] += cur[rr] * w
                for q in range(n_next):
                    cur[q] = nxt[q]
                t += 1
