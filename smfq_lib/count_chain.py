"""The Markov chain that ``pi_k^est`` induces on the count states (kernel of
:mod:`smfq_lib.evaluate`).

Row ``j`` of the chain is the count state ``(s_g, counts) = (j // C, comps_n[j % C])``. Given
it, the policy's action distributions ``p_g``, ``p_l`` (eq. 10, 11, from its action laws
``prob_g``, ``prob_l`` under a tie rule; :func:`smfq_lib.policy.action_distributions_into`) give
the expected decomposed reward (3), the law of the next global state, and the law of the next
counts: the convolution over local states ``s`` of ``Multinomial(counts[s], q_s)`` with
``q_s = sum_a p_l[s, a] P_l[s, s_g, a, :]``. With an aggregate term, the row also gets the exact
law of ``x = sum_i phi[s_i, a_i]`` on the integer lattice. See :mod:`smfq_lib.evaluate` for how
the rows are solved.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib.combinatorics import compositions, multinomial_pmf, n_compositions, rank
from smfq_lib.policy import action_distributions_into

__all__ = ["chain_rows"]


@njit(cache=True)
def _convolve_into(dist, m, w, ms, S_l):
    """Distribution over compositions of ``m + ms`` of the sum of independent compositions with
    laws ``dist`` (over compositions of ``m``) and ``w`` (over compositions of ``ms``)."""
    out = np.zeros(n_compositions(m + ms, S_l))
    ca = compositions(m, S_l)
    cb = compositions(ms, S_l)
    cc = np.empty(S_l, np.int64)
    for i in range(ca.shape[0]):
        if dist[i] == 0.0:
            continue
        for j in range(cb.shape[0]):
            if w[j] == 0.0:
                continue
            for q in range(S_l):
                cc[q] = ca[i, q] + cb[j, q]
            out[rank(cc)] += dist[i] * w[j]
    return out


@njit(cache=True, nogil=True)
def chain_rows(
    lo, hi, P_g, P_l, r_g, r_l, phi_int, prob_g, prob_l, n, comps_n, comps_km1, comps_k, ck_s1,
    ck_rank, Pmat, rdec, pg_all, xpmf, use_x, wmin, width,
):  # fmt: skip
    """Rows ``lo .. hi-1`` of the count chain (see :func:`_chain_row`)."""
    for j in range(lo, hi):
        _chain_row(
            j, P_g, P_l, r_g, r_l, phi_int, prob_g, prob_l, n, comps_n, comps_km1, comps_k, ck_s1,
            ck_rank, Pmat, rdec, pg_all, xpmf, use_x, wmin, width,
        )  # fmt: skip


@njit(cache=True)
def _chain_row(
    j, P_g, P_l, r_g, r_l, phi_int, prob_g, prob_l, n, comps_n, comps_km1, comps_k, ck_s1, ck_rank,
    Pmat, rdec, pg_all, xpmf, use_x, wmin, width,
):  # fmt: skip
    """Row ``j`` of the count chain: transition probabilities, expected reward, law of x."""
    S_g, A_g = P_g.shape[0], P_g.shape[1]
    S_l, A_l = P_l.shape[0], P_l.shape[2]
    C = comps_n.shape[0]
    s_g = j // C
    counts = comps_n[j % C]
    p_g = np.zeros(A_g)
    p_l = np.zeros((S_l, A_l))
    work = np.zeros((S_l + 1, comps_k[0].sum() + 1))
    action_distributions_into(
        p_g, p_l, prob_g, prob_l, s_g, counts, comps_km1, comps_k, ck_s1, ck_rank, work
    )
    pg_all[j] = p_g
    # expected decomposed reward, eq. (3)
    rew = 0.0
    for a in range(A_g):
        rew += p_g[a] * r_g[s_g, a]
    loc = 0.0
    for s in range(S_l):
        for a in range(A_l):
            loc += counts[s] * p_l[s, a] * r_l[s, s_g, a]
    rdec[j] = rew + loc / n
    # next global state
    pgmix = np.zeros(S_g)
    for a in range(A_g):
        for s2 in range(S_g):
            pgmix[s2] += p_g[a] * P_g[s_g, a, s2]
    # next counts: convolution of Multinomial(counts[s], q_s)
    dist = np.ones(1)
    m = 0
    q = np.zeros(S_l)
    for s in range(S_l):
        ms = counts[s]
        if ms == 0:
            continue
        q[:] = 0.0
        for a in range(A_l):
            for s2 in range(S_l):
                q[s2] += p_l[s, a] * P_l[s, s_g, a, s2]
        cb = compositions(ms, S_l)
        w = np.empty(cb.shape[0])
        for i in range(cb.shape[0]):
            w[i] = multinomial_pmf(cb[i], q)
        dist = _convolve_into(dist, m, w, ms, S_l)
        m += ms
    for s2 in range(S_g):
        if pgmix[s2] == 0.0:
            continue
        for i in range(C):
            Pmat[j, s2 * C + i] = pgmix[s2] * dist[i]
    # law of x - n * wmin = sum_i (phi[s_i, a_i] - wmin), on 0 .. n * width
    if use_x:
        px = np.zeros(n * width + 1)
        px[0] = 1.0
        top = 0
        tmp = np.zeros(n * width + 1)
        for s in range(S_l):
            for _ in range(counts[s]):
                tmp[: top + width + 1] = 0.0
                for v in range(top + 1):
                    if px[v] == 0.0:
                        continue
                    for a in range(A_l):
                        tmp[v + phi_int[s, a] - wmin] += px[v] * p_l[s, a]
                top += width
                px[: top + 1] = tmp[: top + 1]
        xpmf[j] = px
