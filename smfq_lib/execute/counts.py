"""Algorithm 3 (SUBSAMPLE-MFQ: Execution) in distribution: the count-level executor.

:func:`rollout_counts` runs the same process in distribution on the sufficient statistic
``(s_g, counts)``: ``a_g ~ p_g`` and, per local state ``s``, the action histogram of its
``counts[s]`` agents ``~ Multinomial(counts[s], p_l[s])``: under every tie rule each agent's
sample and its draw from its reading's law are independent of the other agents', so agents in
one state act i.i.d. given the population (``p_g``, ``p_l`` are the mixture laws of eq. (10),
(11), :func:`smfq_lib.policy.action_distributions_into`); per (state, action) cell the next
states ``~ Multinomial(n_sa, P_l[s, s_g, a])``. Cost per step independent of ``n``.

Random numbers: Numba's ``np.random``, re-seeded per rollout (:mod:`~.rollouts`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib.execute.initial import initial_states
from smfq_lib.execute.rollouts import Rollouts, phi_table, run_rollouts, validate_common
from smfq_lib.policy import action_distributions_into, policy_tables
from smfq_lib.system import CooperativeSystem

__all__ = ["rollout_counts"]


@njit(cache=True)
def _sample_dist(p, u):
    """Inverse-CDF draw from the probability vector ``p`` (sums to 1 up to rounding); if
    rounding leaves ``u`` above the total, the last outcome of positive probability."""
    acc = 0.0
    last = p.shape[0] - 1
    for j in range(last):
        acc += p[j]
        if u < acc:
            return j
    # fall through: the last index with positive probability
    for j in range(last, -1, -1):
        if p[j] > 0.0:
            return j
    return last


@njit(cache=True)
def _multinomial_add(m, p, out):
    """``out += Multinomial(m, p)`` by sequential binomials on exact tail sums."""
    rem = m
    d = p.shape[0]
    for j in range(d):
        if rem == 0:
            return
        tail = 0.0
        for q in range(j, d):
            tail += p[q]
        if tail <= 0.0:
            break
        pj = p[j] / tail
        if pj >= 1.0:
            out[j] += rem
            return
        if pj > 0.0:
            x = np.random.binomial(rem, pj)  # noqa: NPY002 (Numba's per-thread RNG)
            out[j] += x
            rem -= x
    if rem > 0:  # only reachable through rounding: give them to the last positive entry
        for j in range(d - 1, -1, -1):
            if p[j] > 0.0:
                out[j] += rem
                return


@njit(cache=True, nogil=True)
def _count_kernel(
    lo, hi, P_g, P_l, r_g, r_l, phi, prob_g, prob_l, n, comps_km1, comps_k, ck_s1, ck_rank, sg0,
    counts0, seeds, rewards, xs, sgs, ags, counts_tr, noisy, w_g, w_l, nseeds,
):  # fmt: skip
    """Rollouts ``lo .. hi-1`` of the count-level process, each on its own seeded stream.

    With ``noisy``: the (state, action) cell counts of every step are kept, and after the
    trajectory the generator is re-seeded with ``nseeds[r]`` to add the reward noise
    (Theorem 0.13): ``w_g xi`` and, per cell, ``w_l (2 Binomial(n_sa, 1/2) - n_sa) / n``."""
    H = rewards.shape[1]
    S_l = counts0.shape[1]
    A_g = P_g.shape[1]
    A_l = P_l.shape[2]
    record = counts_tr.shape[1] > 0
    cells = np.zeros((H if noisy else 0, S_l * A_l), np.int64)
    for r in range(lo, hi):
        np.random.seed(np.int64(seeds[r] & np.uint64(0xFFFFFFFF)))  # noqa: NPY002
        counts = counts0[r].copy()
        nxt = np.zeros(S_l, np.int64)
        hist = np.zeros(A_l, np.int64)
        p_g = np.zeros(A_g)
        p_l = np.zeros((S_l, A_l))
        work = np.zeros((S_l + 1, comps_k[0].sum() + 1))
        s_g = sg0[r]
        for t in range(H):
            action_distributions_into(
                p_g, p_l, prob_g, prob_l, s_g, counts, comps_km1, comps_k, ck_s1, ck_rank, work
            )
            a_g = _sample_dist(p_g, np.random.random())  # noqa: NPY002
            rew_l = 0.0
            x = 0.0
            nxt[:] = 0
            if noisy:
                cells[t, :] = 0
            for s in range(S_l):
                if counts[s] == 0:
                    continue
                hist[:] = 0
                _multinomial_add(counts[s], p_l[s], hist)
                for a in range(A_l):
                    m = hist[a]
                    if noisy:
                        cells[t, s * A_l + a] = m
                    if m > 0:
                        rew_l += m * r_l[s, s_g, a]
                        x += m * phi[s, a]
                        _multinomial_add(m, P_l[s, s_g, a], nxt)
            rewards[r, t] = r_g[s_g, a_g] + rew_l / n
            xs[r, t] = x
            sgs[r, t] = s_g
            ags[r, t] = a_g
            if record:
                counts_tr[r, t, :] = counts
            s_g = _sample_dist(P_g[s_g, a_g], np.random.random())  # noqa: NPY002
            counts[:] = nxt
        if noisy:  # the rewards' noise, on a stream of its own (trajectory unchanged)
            np.random.seed(np.int64(nseeds[r] & np.uint64(0xFFFFFFFF)))  # noqa: NPY002
            for t in range(H):
                sg = sgs[r, t]
                xi = 2 * np.random.binomial(1, 0.5) - 1  # noqa: NPY002
                noise_l = 0.0
                for z in range(S_l * A_l):
                    m = cells[t, z]
                    if m > 0:
                        b = 2 * np.random.binomial(m, 0.5) - m  # noqa: NPY002
                        noise_l += w_l[z // A_l, sg, z % A_l] * b
                rewards[r, t] += w_g[sg, ags[r, t]] * xi + noise_l / n


def rollout_counts(
    system: CooperativeSystem,
    policy,
    n: int,
    s_g,
    counts,
    horizon: int,
    rollouts: int,
    seed: int,
    *,
    initial=None,
    local_states=None,
    record_counts: bool = False,
    progress: bool = False,
    rule: str | None = None,
) -> Rollouts:
    """Algorithm 3 in distribution on ``(s_g, counts)``: same law as :func:`rollout_agents`.

    Arguments as :func:`rollout_agents` (``local_states`` is reduced to its counts; ``rule``
    names the tie rule, ``None`` the policy's own). The cost of
    a step is ``O(C(k, S_l) + S_l C(k-1, S_l) + S_l A_l S_l)`` binomial draws and pmf terms,
    independent of ``n``.
    """
    n, H, R, seed, laws = validate_common(system, policy, n, horizon, rollouts, seed, rule)
    sg0, c0, _ = initial_states(
        system, n, s_g, counts, initial, local_states, R, seed, agent_level=False
    )
    tables = policy_tables(laws.k, system.S_l)
    phi = phi_table(system)

    def call(a, b, seeds, rew, xs, sgs, ags, ctr, noisy, w_g, w_l, nseeds):
        _count_kernel(
            a, b, system.P_g, system.P_l, system.r_g, system.r_l, phi, laws.prob_g, laws.prob_l, n,
            *tables, sg0, c0, seeds, rew, xs, sgs, ags, ctr, noisy, w_g, w_l, nseeds,
        )  # fmt: skip

    return run_rollouts(call, system, n, laws, seed, R, H, "counts", record_counts, progress)
