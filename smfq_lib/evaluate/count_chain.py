"""The Markov chain that ``pi_k^est`` induces on the count states (kernel of
:mod:`smfq_lib.evaluate`).

Row ``j`` of the chain is the count state ``(s_g, counts) = (j // C, comps_n[j % C])``. Given
it, the policy's action distributions ``p_g``, ``p_l`` (eq. 10, 11, from its action laws
``prob_g``, ``prob_l`` under a tie rule; :func:`smfq_lib.learning.policy.action_distributions_into`)
give the expected decomposed reward (3), the law of the next global state, and the law of the next
counts: the convolution over local states ``s`` of ``Multinomial(counts[s], q_s)`` with
``q_s = sum_a p_l[s, a] P_l[s, s_g, a, :]`` (the most populated state's multinomial, then the
other agents added one at a time). With an aggregate term, the row also gets the exact
law of ``x = sum_i phi[s_i, a_i]`` on the integer lattice. See :mod:`smfq_lib.evaluate` for how
the rows are solved.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib.learning.policy import action_distributions_into
from smfq_lib.model.combinatorics import compositions, multinomial_pmf

__all__ = ["chain_rows"]


@njit(cache=True, nogil=True)
def chain_rows(
    lo, hi, P_g, P_l, r_g, r_l, phi_int, prob_g, prob_l, n, comps_n, comps_km1, comps_k, ck_s1,
    ck_rank, tab, off, Pmat, rdec, pg_all, xpmf, use_x, wmin, width,
):  # fmt: skip
    """Rows ``lo .. hi-1`` of the count chain (see :func:`_chain_row`)."""
    C = comps_n.shape[0]
    cur = np.empty(C)
    nxt = np.empty(C)
    for j in range(lo, hi):
        _chain_row(
            j, P_g, P_l, r_g, r_l, phi_int, prob_g, prob_l, n, comps_n, comps_km1, comps_k, ck_s1,
            ck_rank, tab, off, cur, nxt, Pmat, rdec, pg_all, xpmf, use_x, wmin, width,
        )  # fmt: skip


@njit(cache=True)
def _chain_row(
    j, P_g, P_l, r_g, r_l, phi_int, prob_g, prob_l, n, comps_n, comps_km1, comps_k, ck_s1, ck_rank,
    tab, off, cur, nxt, Pmat, rdec, pg_all, xpmf, use_x, wmin, width,
):  # fmt: skip
    """Row ``j`` of the count chain: transition probabilities, expected reward, law of x.

    The next counts are the sum of the ``n`` agents' independent one-hot moves (agent in state
    ``s``: law ``q_s``): the multinomial law of the most populated state's agents, then every
    other agent added one at a time (``tab``, ``off``: ``mean_field_kernels.add_tables``), in
    ``cur`` (``nxt`` is scratch)."""
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
    for a in range(A_g):
        pg_all[j, a] = p_g[a]
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
    # next counts: Multinomial(counts[s], q_s) of the most populated state, then one agent at a time
    q = np.zeros((S_l, S_l))
    for s in range(S_l):
        for a in range(A_l):
            for s2 in range(S_l):
                q[s, s2] += p_l[s, a] * P_l[s, s_g, a, s2]
    big = np.argmax(counts)
    first = compositions(counts[big], S_l)
    for i in range(first.shape[0]):
        cur[i] = multinomial_pmf(first[i], q[big])
    T = counts[big]
    for s in range(S_l):
        if s == big:
            continue
        for _ in range(counts[s]):
            lo = off[T]
            for i in range(off[T + 2] - off[T + 1]):
                nxt[i] = 0.0
            for r in range(off[T + 1] - lo):
                p = cur[r]
                if p == 0.0:
                    continue
                for s2 in range(S_l):
                    w = q[s, s2]
                    if w != 0.0:
                        nxt[tab[lo + r, s2]] += p * w
            T += 1
            for i in range(off[T + 1] - off[T]):
                cur[i] = nxt[i]
    dist = cur
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
                for v in range(top + 1):
                    px[v] = tmp[v]
        for v in range(n * width + 1):
            xpmf[j, v] = px[v]
