"""The one argmax routine: value table ``V`` and greedy tables ``pi_g``, ``pi_l`` from a
mean-field-shaped ``Q[s_g, s_1, rank(zc), a_1, a_g]``.

``V[s_g, s_1, c] = max Q[s_g, s_1, zc, a_1, a_g]`` over ``a_1``, ``a_g`` and every (state, action)
composition ``zc`` of the ``k - 1`` others whose state marginal is ``c``: the
``max over a'_g, a'_1, F_{a'}`` of eq. (9), and the greedy policy of Algorithm 2, line 10.

Ties go to the lowest index in the flattened order ``(rank(zc), a_1, a_g)``: compositions in
ascending rank (lexicographic order of ``smfq_lib.model.combinatorics``), then ``a_1``, then
``a_g``; the first entry in that order within ``TIE_RTOL * (1 + |V|)`` of the maximum wins.
Algorithm 1 uses this same routine, on its tabular ``Q`` folded to this shape (see
:func:`smfq_lib.learning.tabular_kernels.fold`), so both learners break ties identically
(docs/design.md §9). This is tie rule ``"first"``; the laws of the other rules
(``smfq_lib.learning.policy``) come from :mod:`smfq_lib.learning.tie_rules`, with the same
``TIE_RTOL``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["TIE_RTOL", "mf_argmax", "mf_argmax_at"]

#: Entries within ``TIE_RTOL * (1 + |max|)`` of the maximum count as ties, so that ties which are
#: exact in exact arithmetic (e.g. two agents in one state swapping actions) are broken by the
#: order below and not by round-off; far below any sampling noise of the empirical operators.
TIE_RTOL = 1e-11


@njit(cache=True, parallel=True)
def mf_argmax(Q, mr, V, pi_g, pi_l):
    """Fill ``V``, ``pi_g``, ``pi_l`` (shape ``(S_g, S_l, Cs)``) from ``Q`` (shape
    ``(S_g, S_l, Cz, A_l, A_g)``); ``mr[r]`` is the rank of the state marginal of composition ``r``
    (``combinatorics.marginal_ranks``). ``V`` is the exact maximum; the greedy actions are those
    of the first entry in ``(r, a_1, a_g)`` order within ``TIE_RTOL * (1 + |V|)`` of it."""
    S_g, S_l, Cz, A_l, A_g = Q.shape
    Cs = V.shape[2]
    for row in prange(S_g * S_l):
        sg = row // S_l
        s1 = row % S_l
        for c in range(Cs):
            pi_g[sg, s1, c] = -1
            pi_l[sg, s1, c] = -1
            V[sg, s1, c] = -np.inf
        for r in range(Cz):
            c = mr[r]
            best = V[sg, s1, c]
            for a1 in range(A_l):
                for ag in range(A_g):
                    q = Q[sg, s1, r, a1, ag]
                    if q > best:
                        best = q
            V[sg, s1, c] = best
        for r in range(Cz):
            c = mr[r]
            if pi_g[sg, s1, c] >= 0:
                continue
            floor = V[sg, s1, c] - TIE_RTOL * (1.0 + abs(V[sg, s1, c]))
            for a1 in range(A_l):
                for ag in range(A_g):
                    if pi_g[sg, s1, c] < 0 and Q[sg, s1, r, a1, ag] >= floor:
                        pi_g[sg, s1, c] = ag
                        pi_l[sg, s1, c] = a1


@njit(cache=True)
def mf_argmax_at(Q, members, lo, hi, sg, s1):
    """:func:`mf_argmax` at the one value state ``(sg, s1, c)``: ``(V, pi_g, pi_l)`` there, from
    the compositions ``members[lo:hi]`` (ascending ranks ``r`` with ``mr[r] = c``). The same
    maximum and the same first maximizer in ``(r, a_1, a_g)`` order within ``TIE_RTOL * (1 +
    |V|)``, so a table refreshed entry by entry (the online learner) equals :func:`mf_argmax`'s."""
    A_l = Q.shape[3]
    A_g = Q.shape[4]
    best = -np.inf
    for i in range(lo, hi):
        r = members[i]
        for a1 in range(A_l):
            for ag in range(A_g):
                if Q[sg, s1, r, a1, ag] > best:
                    best = Q[sg, s1, r, a1, ag]
    floor = best - TIE_RTOL * (1.0 + abs(best))
    for i in range(lo, hi):
        r = members[i]
        for a1 in range(A_l):
            for ag in range(A_g):
                if Q[sg, s1, r, a1, ag] >= floor:
                    return best, ag, a1
    return best, -1, -1
