"""Action-law tables of a learned ``Q`` under each tie rule (Algorithm 1 line 10, Algorithm 2
line 10): the laws of ``a_g`` and ``a_1`` that :class:`smfq_lib.learning.policy.ActionLaws` carries.

The paper's ``argmax`` says nothing about ties, and ties are structural here (homogeneous agents;
an aggregate reward that depends on the sum only). The rules are defined in
:mod:`smfq_lib.learning.policy` (``RULES``); entries within ``TIE_RTOL * (1 + |max|)`` of the
maximum over the rule's candidates are maximizers (:mod:`smfq_lib.learning.argmax`), identically in
both learners. Tables have shape ``(S_g, S_l, Cs, A)``: ``prob_g[s_g, s_1, rank(c), a_g]``,
``prob_l[s_g, s_1, rank(c), a_1]``, ``c`` the others' state composition.

* ``"first"``: the one-hot rows of ``pi_g``, ``pi_l`` (:func:`~.argmax.mf_argmax`); nothing here.
* ``"uniform"``: Algorithm 2 (:func:`mf_laws`): every maximizing mean-field entry
  ``(zc, a_1, a_g)`` weighs as many ordered joint actions as orderings of the others' actions
  given their (sorted) states, ``prod_s c_s! / prod_{s,a} zc[s, a]!``, summed in log space
  (``k`` may be large). Algorithm 1: the raw tabular row at the
  canonical state (agent 1, then the others' states ascending), every ordered joint action
  enumerated: a sampled tabular ``Q`` is not permutation invariant, so the orderings may differ
  (:meth:`~.tabular.TabularOperator.uniform_laws`).
* ``"coordinated"``, ``"authors"``: :func:`mf_laws` on the mean-field ``Q`` (Algorithm 1: its
  fold at canonical representatives, :meth:`~.tabular.TabularOperator.mean_field_q`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from smfq_lib.learning.argmax import TIE_RTOL
from smfq_lib.learning.policy import RULES, ActionLaws
from smfq_lib.learning.registry import operator_class
from smfq_lib.model.combinatorics import compositions, marginal_ranks, rank

__all__ = ["action_laws", "mf_laws"]

#: Rule codes of :func:`mf_laws` (``"first"`` is read off ``pi_g``, ``pi_l``).
_CODES = {"uniform": 0, "coordinated": 1, "authors": 2}


@njit(cache=True)
def _floor(top):
    """The smallest value that still counts as a maximizer of a maximum ``top``."""
    return top - TIE_RTOL * (1.0 + abs(top))


@njit(cache=True)
def mf_laws(Q5, Zt, mr, rule, prob_g, prob_l):
    """Fill ``prob_g``, ``prob_l`` (``(S_g, S_l, Cs, A)``, zeroed here) from a mean-field-shaped
    ``Q5[s_g, s_1, rank(zc), a_1, a_g]``; ``Zt`` = compositions of ``k - 1`` into ``Z_l``, ``mr``
    their state marginals' ranks; ``rule``: 0 uniform, 1 coordinated, 2 authors (``_CODES``).

    uniform: every maximizer ``(zc, a_1, a_g)`` of the row weighs ``exp(lw(zc))``,
    ``lw = -sum_z log zc_z!`` (the factor ``prod_s c_s!`` is common to the row), accumulated
    against a running reference (the largest ``lw`` so far) so that nothing overflows.
    authors: the first maximizer in ``(rank(zc), a_1, a_g)`` order; ``a_g`` as is, the local agent
    takes the most common action of its state among ``zc[s_1, :] + e_{a_1}`` (lowest on a count
    tie). coordinated: see :func:`_coordinated`.
    """
    S_g, S_l, Cz, A_l, A_g = Q5.shape
    Cs = prob_g.shape[2]
    prob_g[:] = 0.0
    prob_l[:] = 0.0
    if rule == 1:
        _coordinated(Q5, Zt, mr, prob_g, prob_l)
        return
    lw = np.zeros(Cz)
    for r in range(Cz):
        for z in range(Zt.shape[1]):
            if Zt[r, z] > 1:
                lw[r] -= math.lgamma(Zt[r, z] + 1.0)
    top = np.empty(Cs)
    ref = np.empty(Cs)  # uniform: the row's reference log-weight; authors: < 0 while undecided
    for sg in range(S_g):
        for s1 in range(S_l):
            top[:] = -np.inf
            ref[:] = -np.inf
            for r in range(Cz):
                for a1 in range(A_l):
                    for ag in range(A_g):
                        top[mr[r]] = max(top[mr[r]], Q5[sg, s1, r, a1, ag])
            for r in range(Cz):
                c = mr[r]
                row_g, row_l = prob_g[sg, s1, c], prob_l[sg, s1, c]
                for a1 in range(A_l):
                    for ag in range(A_g):
                        if Q5[sg, s1, r, a1, ag] < _floor(top[c]):
                            continue
                        if rule == 2:
                            if ref[c] < 0.0:
                                _authors_row(Zt[r], s1, a1, ag, row_g, row_l)
                                ref[c] = 0.0
                            continue
                        if lw[r] > ref[c]:  # rescale the row to the new reference
                            scale = math.exp(ref[c] - lw[r])
                            row_g *= scale
                            row_l *= scale
                            ref[c] = lw[r]
                        w = math.exp(lw[r] - ref[c])
                        row_g[ag] += w
                        row_l[a1] += w
            if rule == 0:
                for c in range(Cs):
                    tot = prob_g[sg, s1, c].sum()
                    prob_g[sg, s1, c] /= tot
                    prob_l[sg, s1, c] /= tot


@njit(cache=True)
def _authors_row(zc, s1, a1, ag, row_g, row_l):
    """The authors' reading of the first maximizer ``(zc, a_1, a_g)``: ``a_g``; for the local
    agent the most common action of state ``s_1`` in ``zc + e_{(s_1, a_1)}``, lowest on a tie."""
    A_l = row_l.shape[0]
    row_g[ag] = 1.0
    best = 0
    most = -1
    for a in range(A_l):
        cnt = zc[s1 * A_l + a] + (1 if a == a1 else 0)
        if cnt > most:
            best = a
            most = cnt
    row_l[best] = 1.0


@njit(cache=True)
def _coordinated(Q5, Zt, mr, prob_g, prob_l):
    """The ``"coordinated"`` rule: one joint maximizer per ``(s_g, c_k)``, every reader alike.

    A profile ``zc_k`` (composition of ``k`` into ``Z_l``) read at its expansion in ascending
    cells is the mean-field entry ``(s_1', zc, a_1')`` with ``z_1 = s_1' A_l + a_1'`` its lowest
    non-empty cell and ``zc = zc_k - e_{z_1}``, so each profile is visited once as ``(z_1, zc)``
    with ``z_1 <=`` every non-empty cell of ``zc``. Lexicographic ascending order of ``zc_k`` is
    ``z_1`` DESCENDING (a profile with a lower first cell is larger), then ``rank(zc)``; then
    ``a_g``. Pass 1: the maximum per ``(s_g, c_k)``; pass 2: the first maximizer in that order;
    then every ``(s_1, c)`` with ``c + e_{s_1} = c_k`` gets its ``a_g`` and state ``s_1``'s share
    ``zc_k[s_1, :] / c_k[s_1]``.
    """
    S_g, S_l, Cz, A_l, A_g = Q5.shape
    Z_l = Zt.shape[1]
    Cs = prob_g.shape[2]
    comps = compositions(Zt[0].sum(), S_l)  # the others' state compositions c
    up = np.empty((Cs, S_l), np.int64)  # rank of c + e_s among compositions of k
    for c in range(Cs):
        for s in range(S_l):
            comps[c, s] += 1
            up[c, s] = rank(comps[c])
            comps[c, s] -= 1
    low = np.full(Cz, Z_l)  # lowest non-empty cell of zc (Z_l: none, k = 1)
    for r in range(Cz):
        for z in range(Z_l - 1, -1, -1):
            if Zt[r, z] > 0:
                low[r] = z
    Ck = up.max() + 1
    for sg in range(S_g):
        top = np.full(Ck, -np.inf)
        for z1 in range(Z_l):
            for r in range(Cz):
                if low[r] >= z1:
                    ck = up[mr[r], z1 // A_l]
                    for ag in range(A_g):
                        top[ck] = max(top[ck], Q5[sg, z1 // A_l, r, z1 % A_l, ag])
        best = np.full((Ck, 3), -1, np.int64)  # (z_1, r, a_g) of the first maximizer
        for z1 in range(Z_l - 1, -1, -1):
            for r in range(Cz):
                if low[r] < z1:
                    continue
                ck = up[mr[r], z1 // A_l]
                for ag in range(A_g):
                    if best[ck, 0] < 0 and Q5[sg, z1 // A_l, r, z1 % A_l, ag] >= _floor(top[ck]):
                        best[ck, 0] = z1
                        best[ck, 1] = r
                        best[ck, 2] = ag
        for s1 in range(S_l):
            for c in range(Cs):
                z1, r, ag = best[up[c, s1]]
                prob_g[sg, s1, c, ag] = 1.0
                share = comps[c, s1] + 1  # agents of state s1 in the profile
                for a in range(A_l):
                    z = s1 * A_l + a
                    prob_l[sg, s1, c, a] = (Zt[r, z] + (1 if z == z1 else 0)) / share


def action_laws(Q, k: int, algorithm: str, rule: str) -> ActionLaws:
    """The laws of ``rule`` (``"uniform"``, ``"coordinated"`` or ``"authors"``) of a learned
    ``Q`` (Algorithm 1: ``algorithm="tabular"``, Algorithm 2: ``"mean_field"``)."""
    if rule not in _CODES:
        raise ValueError(
            f"rule must be one of {tuple(_CODES)} here (rule 'first' is the one-hot pi_g, pi_l); "
            f"got {rule!r}. The rules: {RULES}."
        )
    op = operator_class(algorithm)
    S_g, S_l, A_g, A_l = op.q_sizes(Q, k)
    raw = op.uniform_laws(Q, k) if rule == "uniform" else None
    if raw is not None:
        return ActionLaws(k, rule, *raw)
    Zt = compositions(k - 1, S_l * A_l)
    Q5 = op.mean_field_q(Q, k)
    Cs = int(math.comb(k - 1 + S_l - 1, S_l - 1))
    prob_g = np.empty((S_g, S_l, Cs, A_g))
    prob_l = np.empty((S_g, S_l, Cs, A_l))
    mf_laws(
        np.ascontiguousarray(Q5), Zt, marginal_ranks(k - 1, S_l, A_l), _CODES[rule], prob_g, prob_l
    )
    return ActionLaws(k, rule, prob_g, prob_l)
