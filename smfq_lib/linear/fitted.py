"""Kernels of fitted value iteration on the k-agent mean-field subsystem (docs/design.md §10):
the design compositions and the regression targets of eq. (9).

Design. The ``M`` compositions ``zc`` of the ``t = k - 1`` others at which the model is fitted
are drawn once (:func:`polya_design`) from the Dirichlet-multinomial law with concentration
``alpha`` per cell, by a Polya urn: agent ``j`` (``j = 0 .. t - 1``) takes a uniform cell with
probability ``Z_l alpha / (Z_l alpha + j)`` (agent 0 always: it has no earlier agent), else the
cell of a uniformly chosen earlier agent. ``learn_linear`` keeps ``alpha`` in
``[ALPHA_MIN, ALPHA_MAX]``, so ``Z_l alpha + j`` is finite and positive and every cell index
drawn is in ``[0, Z_l)``.
Small ``alpha`` gives concentrated profiles (most others in few cells, as the populations that
execution visits), ``alpha = 1`` is uniform over the simplex of distributions. Every design
composition is combined with every ``(s_g, s_1, a_1, a_g)``: ``S_g S_l A_l A_g M`` subsystem
states per iteration.

Targets (eq. 9). For entry ``e`` (flat index of ``(s_g, s_1, i, a_1, a_g)``, ``i`` the design
row) and sample ``j``: ``s_g^j ~ P_g[s_g, a_g]``, ``s_1^j ~ P_l[s_1, s_g, a_1]`` and each other
agent ``~ P_l[s, s_g, a]``, from ``uniform(stream_key(seed, e), j (k + 1) + d)`` with ``d = 0``
(global), ``1`` (agent 1), ``2 ..`` (the others in ascending cell order): the keys of
Algorithm 2's sampler (:func:`smfq_lib.learning.mean_field_kernels.sample_mean_field`), so with
every composition as the design, in rank order, the samples ARE the tabular learner's. They are
pure functions of their keys: :func:`draw_fixed_samples` draws them once (the learner keeps the
distinct next states and an index per sample; :func:`stored_values`, :func:`stored_targets`
then evaluate the model once per distinct state each iteration), and :func:`fitted_targets`
redraws them every iteration where that store would not fit; the ``m`` samples are fixed
(docs/design.md §9) either way, and both give the same bits. ``Y[e] = R[e] + gamma/m sum_j
V(s_g^j, s_1^j, c^j)``, with ``V`` the model's value: closed form (affine features,
:func:`smfq_lib.linear.greedy.model_value`) or a value table over the state compositions.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from smfq_lib._utils.rng import stream_key, uniform
from smfq_lib.learning.mean_field_kernels import binom_table, draw_next, rank_tab
from smfq_lib.linear.greedy import model_value
from smfq_lib.model.combinatorics import expand_cells, n_compositions, unrank

__all__ = [
    "ALPHA_MAX",
    "ALPHA_MIN",
    "draw_fixed_samples",
    "fitted_targets",
    "max_change",
    "polya_design",
    "stored_targets",
    "stored_values",
    "unique_bounded",
    "unrank_states",
]

#: The range of the design's concentration ``alpha``: beyond it the urn's odds ``Z_l alpha /
#: (Z_l alpha + j)`` would overflow to inf or underflow to 0 (and the urn is indistinguishable
#: from ``alpha`` = the bound anyway: all agents in one cell, or i.i.d. uniform cells).
ALPHA_MIN, ALPHA_MAX = 1e-100, 1e100

#: Design rows per parallel block of :func:`fitted_targets` (scratch arrays once per block).
_ROWS = 64


@njit(cache=True)
def polya_design(M, t, Z_l, alpha, key_seed, out):
    """Fill ``out`` (int64, ``(M, Z_l)``, zeroed) with ``M`` Dirichlet-multinomial compositions
    of ``t`` (module docstring); row ``i`` from ``uniform(stream_key(key_seed, i), .)``."""
    cells = np.empty(max(t, 1), np.int64)
    for i in range(M):
        key = stream_key(key_seed, i)
        for j in range(t):
            if j == 0 or uniform(key, 2 * j) * (Z_l * alpha + j) < Z_l * alpha:
                z = min(np.int64(uniform(key, 2 * j + 1) * Z_l), Z_l - 1)
            else:
                z = cells[min(np.int64(uniform(key, 2 * j + 1) * j), j - 1)]
            cells[j] = z
            out[i, z] += 1


@njit(cache=True)
def _draw_row(row, Zd, S_l, A_l, A_g, cdf_g, last_g, cdf_l, last_l, m, seed, ag_s, ag_a, cnt, nxt):
    """The ``m`` samples of every entry ``(a_1, a_g)`` of design row ``row`` (flat ``(s_g, s_1,
    i)``), drawn with the module docstring's keys: ``nxt[(a_1 A_g + a_g) m + j] = (s_g^j, s_1^j,
    c^j)``. The one loop of the samples, shared by :func:`fitted_targets` (which redraws them)
    and :func:`draw_fixed_samples` (which stores them), so both see the same draws."""
    M = Zd.shape[0]
    sg = row // (S_l * M)
    s1 = (row // M) % S_l
    expand_cells(Zd[row % M], A_l, ag_s, ag_a)
    for a1 in range(A_l):
        for ag in range(A_g):
            key = stream_key(seed, (row * A_l + a1) * A_g + ag)
            for j in range(m):
                sgn, s1n = draw_next(
                    cdf_g, last_g, cdf_l, last_l, sg, s1, a1, ag, ag_s, ag_a, key, j, cnt
                )
                u = (a1 * A_g + ag) * m + j
                nxt[u, 0] = sgn
                nxt[u, 1] = s1n
                for s in range(S_l):
                    nxt[u, 2 + s] = cnt[s]


@njit(cache=True, parallel=True)
def fitted_targets(
    R, Zd, cdf_g, last_g, cdf_l, last_l, m, seed, gamma, closed, B, mw, Vtab, btab, Y
):  # fmt: skip
    """``Y = R + gamma/m sum_j V(next_j)`` on the design (module docstring); all arrays shaped
    ``(S_g, S_l, M, A_l, A_g)`` like Algorithm 2's ``Q``. ``closed``: ``V`` from the split tables
    ``B``, ``mw`` (:func:`smfq_lib.linear.greedy.split_tables`); else ``Vtab[s_g, s_1, rank(c)]``
    (``btab``: binomials for the ranks). Rows run in fixed blocks on the threads; each entry is
    computed by one fixed sequence of operations, whatever the thread count."""
    S_g, S_l, M, A_l, A_g = R.shape
    t = Zd[0].sum()  # k - 1 (as in sample_mean_field: one specialisation of rank_tab)
    scale = 1.0 / max(t, 1)
    rows = S_g * S_l * M
    blocks = (rows + _ROWS - 1) // _ROWS
    for blk in prange(blocks):
        ag_s = np.empty(t, np.int64)
        ag_a = np.empty(t, np.int64)
        cnt = np.zeros(S_l, np.int64)
        nxt = np.empty((A_l * A_g * m, 2 + S_l), np.int64)
        present = np.empty(S_l, np.int64)
        for row in range(blk * _ROWS, min(rows, (blk + 1) * _ROWS)):
            _draw_row(
                row, Zd, S_l, A_l, A_g, cdf_g, last_g, cdf_l, last_l, m, seed, ag_s, ag_a, cnt,
                nxt,
            )  # fmt: skip
            sg = row // (S_l * M)
            s1 = (row // M) % S_l
            i = row % M
            for a1 in range(A_l):
                for ag in range(A_g):
                    acc = 0.0
                    for j in range(m):
                        u = (a1 * A_g + ag) * m + j
                        c = nxt[u, 2:]
                        if closed:
                            acc += model_value(B, mw, nxt[u, 0], nxt[u, 1], c, scale, present)
                        else:
                            acc += Vtab[nxt[u, 0], nxt[u, 1], rank_tab(c, t, btab)]
                    Y[sg, s1, i, a1, ag] = R[sg, s1, i, a1, ag] + gamma * acc / m


@njit(cache=True, parallel=True)
def draw_fixed_samples(Zd, S_g, S_l, A_l, A_g, cdf_g, last_g, cdf_l, last_l, m, seed, out):
    """The samples of :func:`fitted_targets`, drawn once (the same keys, the same draws):
    ``out[e m + j] = (s_g^j S_l + s_1^j) Cs + rank(c^j)``, the flat index into a table shaped
    ``(S_g, S_l, Cs)`` (``Cs`` compositions of ``k - 1`` into ``S_l``) of sample ``j`` of entry
    ``e``. The caller checks that ``S_g S_l Cs`` fits an int64."""
    M = Zd.shape[0]
    t = Zd[0].sum()  # k - 1 (as in fitted_targets: one specialisation of rank_tab)
    btab = binom_table(t + S_l, S_l)
    Cs = btab[t + S_l - 1, S_l - 1]
    rows = S_g * S_l * M
    per_row = A_l * A_g * m  # entries e = row A_l A_g + a_1 A_g + a_g, m samples each
    blocks = (rows + _ROWS - 1) // _ROWS
    for blk in prange(blocks):
        ag_s = np.empty(t, np.int64)
        ag_a = np.empty(t, np.int64)
        cnt = np.zeros(S_l, np.int64)
        nxt = np.empty((per_row, 2 + S_l), np.int64)
        for row in range(blk * _ROWS, min(rows, (blk + 1) * _ROWS)):
            _draw_row(
                row, Zd, S_l, A_l, A_g, cdf_g, last_g, cdf_l, last_l, m, seed, ag_s, ag_a, cnt,
                nxt,
            )  # fmt: skip
            for u in range(per_row):
                idx = (nxt[u, 0] * S_l + nxt[u, 1]) * Cs + rank_tab(nxt[u, 2:], t, btab)
                out[row * per_row + u] = idx


@njit(cache=True)
def unrank_states(flat, t, S_l, sg, s1, cnt):
    """The states of flat indices ``(s_g S_l + s_1) Cs + rank(c)`` (:func:`draw_fixed_samples`):
    ``sg[u]``, ``s1[u]`` and the counts ``cnt[u, :]`` of ``c``."""
    Cs = n_compositions(t, S_l)
    for u in range(flat.shape[0]):
        r = flat[u] % Cs
        sg[u] = flat[u] // (S_l * Cs)
        s1[u] = (flat[u] // Cs) % S_l
        c = unrank(r, t, S_l)
        for s in range(S_l):
            cnt[u, s] = c[s]


@njit(cache=True, parallel=True)
def stored_values(B, mw, sg, s1, cnt, scale, out):
    """``out[u] = V(sg[u], s1[u], cnt[u])`` of the affine model (:func:`model_value`): the
    closed-form value at each distinct next state of the fixed samples."""
    nu = out.shape[0]
    blocks = (nu + 16 * _ROWS - 1) // (16 * _ROWS)
    for blk in prange(blocks):
        present = np.empty(cnt.shape[1], np.int64)
        for u in range(blk * 16 * _ROWS, min(nu, (blk + 1) * 16 * _ROWS)):
            out[u] = model_value(B, mw, sg[u], s1[u], cnt[u], scale, present)


@njit(cache=True, parallel=True)
def stored_targets(R, inv, Vu, m, gamma, M, P, Yt):
    """``Y[e] = R[e] + gamma/m sum_j Vu[inv[e m + j]]`` over the flat entries ``e = (g M + i) P +
    p`` (``g = (s_g, s_1)``, ``i`` the design row, ``p = (a_1, a_g)``), the samples summed in
    ``j`` order: :func:`fitted_targets`' arithmetic on the stored samples (same bits), written
    transposed to ``Yt[i, g P + p]`` (flat), the layout the least-squares fit reads."""
    E = R.shape[0]
    G = E // (M * P)
    blocks = (E + 16 * _ROWS - 1) // (16 * _ROWS)
    for blk in prange(blocks):
        for e in range(blk * 16 * _ROWS, min(E, (blk + 1) * 16 * _ROWS)):
            acc = 0.0
            for j in range(m):
                acc += Vu[inv[e * m + j]]
            row, p = e // P, e % P
            Yt[(row % M) * (G * P) + (row // M) * P + p] = R[e] + gamma * acc / m


def unique_bounded(flat, size):
    """``np.unique(flat, return_inverse=True)`` of int indices in ``[0, size)``, by a mark table
    of length ``size`` instead of a sort where ``size <= 4 len(flat)`` (the same sorted distinct
    values and the same inverse; about the memory of the sort's copies); else ``np.unique``."""
    if size > 4 * flat.shape[0]:
        return np.unique(flat, return_inverse=True)
    seen = np.zeros(size, np.bool_)
    seen[flat] = True
    uniq = np.flatnonzero(seen)
    del seen
    index = np.empty(size, np.int64)
    index[uniq] = np.arange(uniq.shape[0])
    return uniq, index[flat]


@njit(cache=True)
def max_change(fit, fit_old):
    """``max |fit - fit_old|`` over two arrays of one shape (C order), as
    ``np.max(np.abs(fit - fit_old))`` without the temporaries: NaN if any difference is NaN."""
    a, b = fit.ravel(), fit_old.ravel()
    r = 0.0
    for i in range(a.shape[0]):
        d = abs(a[i] - b[i])
        if d != d:
            return d
        if d > r:
            r = d
    return r
