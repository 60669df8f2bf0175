"""Algorithm 3 (SUBSAMPLE-MFQ: Execution) in distribution: the count-level executor.

:func:`rollout_counts` runs the same process in distribution on the sufficient statistic
``(s_g, counts)``: ``a_g ~ p_g`` and, per local state ``s``, the action histogram of its
``counts[s]`` agents ``~ Multinomial(counts[s], p_l[s])``: under every tie rule each agent's
sample and its draw from its reading's law are independent of the other agents', so agents in
one state act i.i.d. given the population (``p_g``, ``p_l`` are the mixture laws of eq. (10),
(11), :func:`smfq_lib.learning.policy.action_distributions_into`); per (state, action) cell the next
states ``~ Multinomial(n_sa, P_l[s, s_g, a])``. Cost per step independent of ``n``.

Speed: the laws ``p_g``, ``p_l`` are a function of ``(s_g, counts)``, so a chunk of rollouts
memoises them per visited state (up to ``_MEMO_MAX`` numbers; tests/test_execute_fast_paths.py:
the same numbers bit for bit); with few agents the states repeat and a step costs its binomials.

Random numbers: one counter-based stream per rollout, keyed by ``(seed, rollout)``, and exact
binomial draws on it (:mod:`smfq_lib._utils.binomial`); no ``np.random`` (:mod:`~.rollouts`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib._utils.binomial import binomial, multinomial_add, sample_dist
from smfq_lib._utils.rng import next_counter_uniform, stream_key
from smfq_lib.execute.agents import _rank_table
from smfq_lib.execute.initial import check_start, draw_start
from smfq_lib.execute.rollouts import Rollouts, keep_step, noise_key
from smfq_lib.execute.run import check_memory, document, phi_table, run_rollouts, validate_common
from smfq_lib.learning.policy import action_distributions_into, policy_tables
from smfq_lib.model.combinatorics import binom
from smfq_lib.model.system import CooperativeSystem

__all__ = ["rollout_counts"]


# float64 numbers per chunk of rollouts for memoised laws (16 MiB), and the largest B table
_MEMO_MAX = 2**21
_RANK_MAX = 2**20


@njit(cache=True)
def _memo_slot(keys, key):
    """The slot of ``key`` in the open-addressing table ``keys`` (size a power of two, -1 for
    empty): where it is, or the empty slot where it goes (linear probing)."""
    mask = keys.shape[0] - 1
    h = (np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    i = np.int64(h) & mask
    while keys[i] != -1 and keys[i] != key:
        i = (i + 1) & mask
    return i


@njit(cache=True)
def _store_laws(memo_g, memo_l, row, p_g, p_l):
    """Row ``row`` of the memo gets the laws ``p_g`` (A_g,), ``p_l`` (S_l, A_l)."""
    for a in range(p_g.shape[0]):
        memo_g[row, a] = p_g[a]
    for s in range(p_l.shape[0]):
        for a in range(p_l.shape[1]):
            memo_l[row, s, a] = p_l[s, a]


@njit(cache=True)
def _load_laws(memo_g, memo_l, row, p_g, p_l):
    """The laws ``p_g``, ``p_l`` get row ``row`` of the memo."""
    for a in range(p_g.shape[0]):
        p_g[a] = memo_g[row, a]
    for s in range(p_l.shape[0]):
        for a in range(p_l.shape[1]):
            p_l[s, a] = memo_l[row, s, a]


def _memo(system, n):
    """``(entries, slots, B)`` for :func:`_count_kernel`: memoise up to ``entries`` states'
    laws (``_MEMO_MAX`` numbers) in a table of ``slots`` keys, ranking ``counts`` with ``B[t, p]
    = C(t + p, p)``; ``(0, 1, empty)`` when the keys ``s_g C(n + S_l - 1, S_l - 1) + rank``
    would overflow int64 or ``B`` exceed ``_RANK_MAX`` numbers."""
    S_g, S_l = system.S_g, system.S_l
    states = S_g * binom(n + S_l - 1, S_l - 1)
    if states >= 2**62 or (n + 1) * S_l > _RANK_MAX:
        return 0, 1, np.zeros((0, 0), np.int64)
    entries = min(states, _MEMO_MAX // (system.A_g + S_l * system.A_l))
    slots = 1 << (2 * entries - 1).bit_length()  # at most half full
    B = np.array([[binom(t + p, p) for p in range(S_l)] for t in range(n + 1)], dtype=np.int64)
    return int(entries), slots, B


@njit(cache=True, nogil=True)
def _count_kernel(
    lo, hi, P_g, P_l, r_g, r_l, phi, prob_g, prob_l, n, comps_km1, comps_k, ck_s1, ck_rank, B,
    entries, slots, sg0, counts0, seed, disc, returns, rewards, xs, sgs, ags, counts_tr, noisy,
    w_g, w_l,
):  # fmt: skip
    """Rollouts ``lo .. hi-1`` of the count-level process, rollout ``r`` on the counter stream
    of key ``stream_key(seed, r)``, writing row ``r - lo`` of the output arrays.

    ``returns`` gets ``sum_t disc[t] r_t``; per-step arrays of width 0 are not written; the start
    is row ``r`` of ``sg0``, ``counts0`` (row 0 if they have one row). With ``noisy``: the reward
    noise (Theorem 0.13), ``w_g xi`` and, per (state, action) cell with ``n_sa`` agents,
    ``w_l (2 Binomial(n_sa, 1/2) - n_sa) / n``, from the rollout's second counter stream
    (:func:`~.rollouts.noise_key`), so the trajectory does not depend on it.

    With ``entries > 0`` the laws ``p_g``, ``p_l`` of a state ``(s_g, counts)`` (a function of
    the state) are computed at its first visit in these rollouts and copied at later visits, for
    the first ``entries`` states visited (key ``s_g C(n + S_l - 1, S_l - 1) + rank(counts)``,
    ranked with ``B[t, p] = C(t + p, p)``, in an open-addressing table of ``slots`` keys): the
    same numbers as computing them every step."""
    H = disc.shape[0]
    S_l = counts0.shape[1]
    A_g = P_g.shape[1]
    A_l = P_l.shape[2]
    st = np.zeros(2, np.uint64)  # [key, counter] of the trajectory's stream
    nst = np.zeros(2, np.uint64)  # and of the noise's
    counts = np.zeros(S_l, np.int64)
    nxt = np.zeros(S_l, np.int64)
    hist = np.zeros(A_l, np.int64)
    p_g = np.zeros(A_g)
    p_l = np.zeros((S_l, A_l))
    work = np.zeros((S_l + 1, comps_k[0].sum() + 1))
    n_states = B[n, S_l - 1] if entries > 0 else 0  # C(n + S_l - 1, S_l - 1)
    keys = np.full(slots, -1, np.int64)
    where = np.zeros(slots, np.int64)
    memo_g = np.zeros((entries, A_g))
    memo_l = np.zeros((entries, S_l, A_l))
    stored = 0
    for r in range(lo, hi):
        j = r - lo
        st[0] = stream_key(seed, r)
        st[1] = 0
        if noisy:
            nst[0] = noise_key(st[0])
            nst[1] = 0
        i0 = r if sg0.shape[0] > 1 else 0
        for q in range(S_l):  # loops, not slice assignments (cheaper to compile)
            counts[q] = counts0[i0, q]
        s_g = sg0[i0]
        ret = 0.0
        for t in range(H):
            slot, key = -1, -1
            if entries > 0:
                key = s_g * n_states + _rank_table(B, counts, n)
                slot = _memo_slot(keys, key)
            if slot >= 0 and keys[slot] == key:
                _load_laws(memo_g, memo_l, where[slot], p_g, p_l)
            else:
                action_distributions_into(
                    p_g, p_l, prob_g, prob_l, s_g, counts, comps_km1, comps_k, ck_s1, ck_rank, work
                )
                if slot >= 0 and stored < entries:
                    keys[slot] = key
                    where[slot] = stored
                    _store_laws(memo_g, memo_l, stored, p_g, p_l)
                    stored += 1
            a_g = sample_dist(p_g, next_counter_uniform(st))
            rew_l = 0.0
            noise_l = 0.0
            x = 0.0
            nxt[:] = 0
            for s in range(S_l):
                if counts[s] == 0:
                    continue
                hist[:] = 0
                multinomial_add(counts[s], p_l[s], hist, st)
                for a in range(A_l):
                    m = hist[a]
                    if m > 0:
                        rew_l += m * r_l[s, s_g, a]
                        x += m * phi[s, a]
                        if noisy:  # the sum of m signs +-1
                            noise_l += w_l[s, s_g, a] * (2 * binomial(nst, m, 0.5) - m)
                        multinomial_add(m, P_l[s, s_g, a], nxt, st)
            rew = r_g[s_g, a_g] + rew_l / n
            if noisy:
                xi = 1.0 if next_counter_uniform(nst) < 0.5 else -1.0
                rew += w_g[s_g, a_g] * xi + noise_l / n
            ret += disc[t] * rew
            keep_step(j, t, rew, x, s_g, a_g, counts, rewards, xs, sgs, ags, counts_tr)
            s_g = sample_dist(P_g[s_g, a_g], next_counter_uniform(st))
            for q in range(S_l):
                counts[q] = nxt[q]
        returns[j] = ret


@document(
    local_states="The count-level executor reduces them to their counts (the process is "
    "exchangeable)."
)
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
    keep: str = "steps",
    record_counts: bool = False,
    progress: bool = False,
    rule: str | None = None,
    memory_budget=None,
) -> Rollouts:
    """Algorithm 3 in distribution on ``(s_g, counts)``: the law of :func:`rollout_agents`, at a
    cost per step independent of ``n``.

    Every step, given ``(s_g, counts)``: ``a_g ~ p_g`` and, per local state ``s``, the action
    histogram of its ``counts[s]`` agents ``~ Multinomial(counts[s], p_l[s])``, where ``p_g``,
    ``p_l`` are the laws of eq. (10), (11) mixed over the sample ``Delta`` (a multivariate
    hypergeometric draw of the population;
    :func:`smfq_lib.learning.policy.action_distributions_into`): agents in one state act i.i.d.
    given the population under every tie rule. The stage reward is eq. (3), ``r_g(s_g, a_g) + (1/n)
    sum_(s, a) n_sa r_l(s, s_g, a)``; ``s_g' ~ P_g(. | s_g, a_g)`` (eq. 1) and, per (state, action)
    cell with ``n_sa`` agents, their next states ``~ Multinomial(n_sa, P_l(. | s, s_g, a))`` (eq.
    2). A step costs ``O(C(k, S_l) + S_l C(k-1, S_l) + S_l A_l S_l)`` binomial draws and pmf terms;
    rollouts run in parallel on
    ``numba.get_num_threads()`` threads. Every number comes from the rollout's counter stream
    through exact binomial draws (:mod:`smfq_lib._utils.binomial`).

    Parameters
    ----------
    {parameters}
    """
    n, H, R, seed, laws, budget = validate_common(
        system, policy, n, horizon, rollouts, seed, rule, keep, record_counts, memory_budget
    )
    sg0, c0, _, law = check_start(system, n, s_g, counts, initial, local_states, False)
    check_memory("rollout_counts", system, R, H, keep, record_counts, law is not None, [], budget)
    if law is not None:
        sg0, c0 = draw_start(system, n, law, R, seed)
    tables = policy_tables(laws.k, system.S_l)
    phi = phi_table(system)
    entries, slots, B = _memo(system, n)  # tens of MiB per thread at most: not in the guard

    def call(a, b, *run):
        _count_kernel(
            a, b, system.P_g, system.P_l, system.r_g, system.r_l, phi, laws.prob_g, laws.prob_l, n,
            *tables, B, entries, slots, sg0, c0, *run,
        )  # fmt: skip

    return run_rollouts(call, system, n, laws, seed, R, H, "counts", keep, record_counts, progress)
