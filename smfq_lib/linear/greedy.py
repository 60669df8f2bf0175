"""The greedy step of a linear-in-``F`` model in closed form (Algorithm 2 line 10, the max of
eq. (9)), under the tie rules of :mod:`smfq_lib.learning.policy` (docs/design.md §4, §10).

With affine features ``phi(F) = b + W F`` (:mod:`~.features`), an entry of the model is
``Q(s_g, s_1, zc, a_1, a_g) = B[p] + (1/t) sum_{s, a} zc[s, a] w[p, s, a]`` for the pair
``p = (s_g, s_1, a_1, a_g)``, with ``B = theta . b``, ``w = theta W`` (``S_l x A_l`` per pair) and
``t = max(k - 1, 1)``. Given the others' state counts ``c``, the max over their action split
``zc`` (every composition with state marginal ``c``) is separable: each state's ``c_s`` agents all
go to the action of largest ``w[p, s, :]``, so

    V(s_g, s_1, c) = max_{a_1, a_g} B[p] + (1/t) sum_s c_s max_a w[p, s, a],

``O(S_l A_l)`` per pair instead of a sum over ``prod_s C(c_s + A_l - 1, A_l - 1)`` compositions.

Ties use the learners' tolerance: an entry is a maximizer when ``Q >= V - TIE_RTOL (1 + |V|)``
(:mod:`smfq_lib.learning.argmax`), with ``V`` the max over the rule's candidates. The maximizing
``zc`` of a pair with slack ``sigma = Q_best(p) - floor`` are the splits whose total deficiency
``(1/t) sum c_s (max_a w[p, s, :] - w[p, s, x_s])`` is at most ``sigma``; the lexicographically
first of them (lowest rank, the order of :mod:`smfq_lib.model.combinatorics`) puts each state's
agents, state by state, on the LARGEST action whose deficiency still fits (a lower cell left empty
makes a composition lexicographically smaller), all agents of a state on one action. Hence:

* ``"first"`` (:func:`first_reading`): the first maximizer in the order ``(rank(zc), a_1, a_g)``:
  over the candidate pairs, the lexicographically first split, then the lowest ``(a_1, a_g)``.
* ``"coordinated"`` (:func:`coordinated_reading`): one joint maximizer per ``(s_g, c_k)``, read at
  the profile's expansion (agent 1 in the lowest non-empty cell ``z_1 = (s_min, a_1)``, ``s_min``
  the lowest state of ``c_k``, and the other agents of ``s_min`` on actions ``>= a_1``), first in
  lexicographic order of the profile (``a_1`` descending, then the split, then ``a_g``).

These equal the brute force over compositions (:func:`smfq_lib.learning.argmax.mf_argmax`,
:func:`smfq_lib.learning.tie_rules.mf_laws` on the tabulated model): tests/test_linear_greedy.py.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib._utils.blas import one_blas_thread
from smfq_lib.learning.argmax import TIE_RTOL
from smfq_lib.model.combinatorics import compositions

__all__ = [
    "closed_form_laws",
    "coordinated_reading",
    "first_reading",
    "model_value",
    "reading_tables",
    "split_tables",
    "value_tables",
]


@one_blas_thread
def split_tables(theta, features):
    """``(B, w, mw)`` of the model ``theta`` (shape ``(S_g, S_l, A_l, A_g, d)``) with affine
    ``features``: ``B[p] = theta[p] . b``, ``w[p] = theta[p] W`` reshaped ``(S_l, A_l)`` and
    ``mw[p, s] = max_a w[p, s, a]``."""
    S_g, S_l, A_l, A_g, _ = theta.shape
    B = np.ascontiguousarray(theta @ features.b)
    w = np.ascontiguousarray((theta @ features.W).reshape(S_g, S_l, A_l, A_g, S_l, A_l))
    mw = w[..., 0].copy()  # the max over a, one action at a time (a reduction over the short
    for a in range(1, A_l):  # last axis is several times slower; max is exact: same bits)
        np.maximum(mw, w[..., a], out=mw)
    return B, w, mw


@one_blas_thread
def value_tables(theta, features):
    """``(B, mw)`` of :func:`split_tables` (what the value :func:`model_value` reads), without
    the ``w`` table where every column of ``W`` has at most one nonzero entry (``[1, F]``,
    ``[1, mean]``, a state or cell indicator): then ``w[p, z] = theta[p, d_z] W[d_z, z]``, the
    one nonzero product of the dot product (its other terms are exact zeros, ``theta`` being
    finite), so ``mw`` comes from ``S_l A_l`` products per pair instead of a matrix product,
    with the same values (tests/test_linear_greedy.py)."""
    W = features.W
    nonzero = W != 0
    if nonzero.sum(axis=0).max() > 1:
        B, _, mw = split_tables(theta, features)
        return B, mw
    S_g, S_l, A_l, A_g, d = theta.shape
    B = np.ascontiguousarray(theta @ features.b)
    rows = np.where(nonzero.any(axis=0), nonzero.argmax(axis=0), -1)
    vals = W[np.maximum(rows, 0), np.arange(W.shape[1])]
    mw = np.empty((S_g, S_l, A_l, A_g, S_l))
    _sparse_max(theta.reshape(-1, d), rows, vals, S_l, A_l, mw.reshape(-1, S_l))
    return B, mw


@njit(cache=True)
def _sparse_max(theta, rows, vals, S_l, A_l, mw):
    """``mw[p, s] = max_a theta[p, rows[z]] vals[z]`` over the cells ``z = s A_l + a`` (0 where
    ``rows[z] = -1``: a zero column of ``W``): :func:`value_tables`."""
    for p in range(theta.shape[0]):
        for s in range(S_l):
            top = 0.0
            for a in range(A_l):
                z = s * A_l + a
                x = theta[p, rows[z]] * vals[z] if rows[z] >= 0 else 0.0
                top = x if a == 0 else max(top, x)
            mw[p, s] = top


def reading_tables(theta, features):
    """``(B, w, mws)`` of the readings (:func:`first_reading`, :func:`coordinated_reading`):
    :func:`split_tables`' ``B``, ``w`` and ``mws[s_g, s_1, s, a_1 A_g + a_g] = mw[s_g, s_1, a_1,
    a_g, s]``, the pairs' ``max_a w`` of one state side by side (a reading sums over the few
    states of its sample for every pair)."""
    B, w, mw = split_tables(theta, features)
    S_g, S_l, A_l, A_g = B.shape
    mws = np.ascontiguousarray(mw.transpose(0, 1, 4, 2, 3)).reshape(S_g, S_l, S_l, A_l * A_g)
    return B, w, mws


@njit(cache=True)
def _present(c, present):
    """The states with others in them (``c[s] > 0``), ascending, in ``present``; their number."""
    n_present = 0
    for s in range(c.shape[0]):
        if c[s] > 0:
            present[n_present] = s
            n_present += 1
    return n_present


@njit(cache=True)
def model_value(B, mw, sg, s1, c, scale, present):
    """``V(s_g, s_1, c)``: the max of the model over ``a_1``, ``a_g`` and every split of the
    others' state counts ``c`` (module docstring); ``scale = 1 / max(k - 1, 1)``; ``present``:
    scratch of length ``S_l`` (the states with others in them)."""
    A_l, A_g = B.shape[2], B.shape[3]
    n_present = _present(c, present)
    best = -np.inf
    for a1 in range(A_l):
        for ag in range(A_g):
            v = 0.0
            for i in range(n_present):
                v += c[present[i]] * mw[sg, s1, a1, ag, present[i]]
            v = B[sg, s1, a1, ag] + scale * v
            if v > best:
                best = v
    return best


@njit(cache=True)
def _pair_values(B, w, mws, sg, s1, c, scale, s_lo, present, n_present, q):
    """Each pair's best entry ``q[a_1 A_g + a_g] = B[p] + scale sum_s c_s max_a w[p, s, a]``
    over the ``n_present`` states of ``present`` (ascending), state ``s_lo``'s agents restricted
    to actions ``>= a_1`` (``s_lo = -1``: no restriction); returns their max ``V``. The sum runs
    state by state over every pair at once, reading ``mws[s_g, s_1, s]`` (contiguous in the
    pairs, :func:`reading_tables`); each pair still adds its states in ascending order."""
    A_l, A_g = B.shape[2], B.shape[3]
    q[:] = 0.0
    for i in range(n_present):
        s = present[i]
        if s == s_lo:
            for a1 in range(A_l):
                for ag in range(A_g):
                    top = w[sg, s1, a1, ag, s, a1]
                    for a in range(a1 + 1, A_l):
                        top = max(top, w[sg, s1, a1, ag, s, a])
                    q[a1 * A_g + ag] += c[s] * top
        else:
            for p in range(A_l * A_g):
                q[p] += c[s] * mws[sg, s1, s, p]
    V = -np.inf
    for a1 in range(A_l):
        for ag in range(A_g):
            v = B[sg, s1, a1, ag] + scale * q[a1 * A_g + ag]
            q[a1 * A_g + ag] = v
            V = max(V, v)
    return V


@njit(cache=True)
def _split(w, sg, s1, a1, ag, c, scale, s_lo, slack, x, present, n_present):
    """The lexicographically first split of pair ``(s_g, s_1, a_1, a_g)`` within ``slack``
    (module docstring), state ``s_lo``'s agents on actions ``>= a_1``: ``x[s]`` the action of
    state ``s``'s agents, for the ``n_present`` states of ``present`` (the others have none;
    ``x`` is not written there)."""
    A_l = w.shape[5]
    for i in range(n_present):
        s = present[i]
        x[s] = -1
        lo = a1 if s == s_lo else 0
        top = w[sg, s1, a1, ag, s, lo]
        for a in range(lo + 1, A_l):
            top = max(top, w[sg, s1, a1, ag, s, a])
        for a in range(A_l - 1, lo - 1, -1):
            loss = scale * c[s] * (top - w[sg, s1, a1, ag, s, a])
            if loss <= slack:
                x[s] = a
                slack -= loss
                break


@njit(cache=True)
def _earlier(x, y, present, n_present):
    """Whether split ``x`` is lexicographically before ``y`` as compositions: at the first state
    (of the ``n_present`` of ``present``, where the splits have agents) where they differ, ``x``
    uses the larger action."""
    for i in range(n_present):
        s = present[i]
        if x[s] != y[s]:
            return x[s] > y[s]
    return False


@njit(cache=True)
def _keep(x, xb, present, n_present):
    """Copy the split ``x`` into ``xb`` at the states with agents."""
    for i in range(n_present):
        xb[present[i]] = x[present[i]]


@njit(cache=True)
def first_reading(B, w, mws, sg, s1, c, scale, x, xb, present, q):
    """Rule ``"first"`` at ``(s_g, s_1, c)``: returns ``(a_1, a_g, V)`` of the first maximizer in
    the order ``(rank(zc), a_1, a_g)``; its split in ``xb`` (-1 where ``c[s] = 0``). ``(B, w,
    mws)``: :func:`reading_tables`; scratch: ``x``, ``present`` (int, length ``S_l``), ``q``
    (float, length ``A_l A_g``: each pair's best entry, computed once over the states present in
    ``c`` only)."""
    A_l, A_g = B.shape[2], B.shape[3]
    n_present = _present(c, present)
    V = _pair_values(B, w, mws, sg, s1, c, scale, -1, present, n_present, q)
    floor = V - TIE_RTOL * (1.0 + abs(V))
    xb[:] = -1
    b1, bg = -1, -1
    for a1 in range(A_l):
        for ag in range(A_g):
            v = q[a1 * A_g + ag]
            if v < floor:
                continue
            _split(w, sg, s1, a1, ag, c, scale, -1, v - floor, x, present, n_present)
            if b1 < 0 or _earlier(x, xb, present, n_present):
                _keep(x, xb, present, n_present)
                b1, bg = a1, ag
    return b1, bg, V


@njit(cache=True)
def coordinated_reading(B, w, mws, sg, ck, scale, c, x, xb, present, q):
    """Rule ``"coordinated"`` at ``(s_g, c_k)`` (``c_k`` the k-sample's state counts): returns
    ``(s_min, a_1, a_g)`` of the first joint maximizer of the profile (module docstring); the
    split of the other ``k - 1`` agents in ``xb`` (-1 at states without them). Tables and
    scratch (``c`` too) as :func:`first_reading`."""
    A_l, A_g = B.shape[2], B.shape[3]
    s0 = 0
    while ck[s0] == 0:
        s0 += 1
    for s in range(ck.shape[0]):
        c[s] = ck[s]
    c[s0] -= 1
    n_present = _present(c, present)
    V = _pair_values(B, w, mws, sg, s0, c, scale, s0, present, n_present, q)
    floor = V - TIE_RTOL * (1.0 + abs(V))
    xb[:] = -1
    b1, bg = -1, -1
    for a1 in range(A_l - 1, -1, -1):  # a lower first cell is a later profile
        for ag in range(A_g):
            v = q[a1 * A_g + ag]
            if v < floor:
                continue
            _split(w, sg, s0, a1, ag, c, scale, s0, v - floor, x, present, n_present)
            if b1 < 0 or (a1 == b1 and _earlier(x, xb, present, n_present)):
                _keep(x, xb, present, n_present)
                b1, bg = a1, ag
    return s0, b1, bg


@njit(cache=True)
def closed_form_laws(B, w, mws, k, rule, prob_g, prob_l):
    """Fill the law tables ``prob_g``, ``prob_l`` (``(S_g, S_l, Cs, A)``, as
    :class:`smfq_lib.learning.policy.ActionLaws`) of rule 0 ``"first"`` or 1 ``"coordinated"``,
    reading by reading over every composition ``c`` of the ``k - 1`` others (rank order);
    ``(B, w, mws)``: :func:`reading_tables`."""
    S_g, S_l = B.shape[0], B.shape[1]
    scale = 1.0 / max(k - 1, 1)
    comps = compositions(k - 1, S_l)
    x = np.empty(S_l, np.int64)
    xb = np.empty(S_l, np.int64)
    present = np.empty(S_l, np.int64)
    q = np.empty(B.shape[2] * B.shape[3])
    ck = np.empty(S_l, np.int64)
    cc = np.empty(S_l, np.int64)
    prob_g[:] = 0.0
    prob_l[:] = 0.0
    for sg in range(S_g):
        for s1 in range(S_l):
            for r in range(comps.shape[0]):
                if rule == 0:
                    a1, ag, _ = first_reading(B, w, mws, sg, s1, comps[r], scale, x, xb, present, q)
                    prob_g[sg, s1, r, ag] = 1.0
                    prob_l[sg, s1, r, a1] = 1.0
                    continue
                for s in range(S_l):
                    ck[s] = comps[r, s]
                ck[s1] += 1
                s0, a1, ag = coordinated_reading(B, w, mws, sg, ck, scale, cc, x, xb, present, q)
                prob_g[sg, s1, r, ag] = 1.0
                if s1 != s0:
                    prob_l[sg, s1, r, xb[s1]] = 1.0
                else:  # agent 1 on a_1, the other ck[s1] - 1 agents of its state on xb[s1]
                    own = 1 + (ck[s1] - 1 if xb[s1] == a1 else 0)
                    prob_l[sg, s1, r, a1] = own / ck[s1]
                    if own < ck[s1]:
                        prob_l[sg, s1, r, xb[s1]] = (ck[s1] - own) / ck[s1]
