"""Algorithm 3 (SUBSAMPLE-MFQ: Execution), literally, on ``n`` agents: the agent-level executor.

:func:`rollout_agents` is the literal algorithm. Each step the global agent draws ``Delta``,
``k`` of the ``n`` agents uniformly without replacement (Floyd's algorithm, O(k)), and draws
``a_g ~ prob_g[s_g, s_1, rank(c)]`` with ``s_1`` the lowest state present in the sample and ``c``
the sample's state counts minus one agent in ``s_1`` (the canonical representative of
:mod:`smfq_lib.learning.policy`); every local agent ``i`` draws ``k - 1`` of the other ``n - 1`` and
then ``a_i ~ prob_l[s_g, s_i, rank(c_i)]``, the law of its own reading under the tie rule
(:class:`smfq_lib.learning.policy.ActionLaws`); the stage reward is eq. (3) on all ``n`` agents;
``s_g' ~ P_g[s_g, a_g]`` (eq. 1) and ``s_i' ~ P_l[s_i, s_g, a_i]`` (eq. 2) by inverse CDF.
A reading whose law is one-hot (every reading under rule ``"first"``) takes its action without a
random number, so such runs draw exactly the numbers a deterministic table would. Cost O(n k) per
step.

Speed (the same numbers as the plain loop, tests/test_execute_fast_paths.py): a local agent's
sample of ``k - 1`` is ranked through a table indexed by its states in draw order
(:func:`_code_ranks`, up to ``_CODES_MAX`` entries) instead of counted and ranked; a transition
row is searched only between its first and last outcome of positive probability
(:func:`_row_bounds`); and the per-agent work is written out in the kernel, since a call that
passes arrays costs atomic reference counts per agent (most of the time of a plain loop).

Random numbers: one sequential splitmix64 stream per rollout, keyed by ``(seed, rollout)``
(:mod:`~.rollouts`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib._utils.checks import format_count
from smfq_lib._utils.rng import next_uniform, start_sequential, stream_key
from smfq_lib.execute.initial import check_start, draw_start
from smfq_lib.execute.rollouts import Rollouts, keep_step, noise_key
from smfq_lib.execute.run import (
    AGENTS_FIX,
    check_memory,
    document,
    phi_table,
    run_rollouts,
    thread_count,
    validate_common,
)
from smfq_lib.model.combinatorics import binom, rank
from smfq_lib.model.system import CooperativeSystem

__all__ = ["rollout_agents"]

# samples of at most this size are de-duplicated by a linear scan, larger ones by a stamp array
_SCAN_MAX = 24
# samples of K agents are ranked through a table of S_l**K codes up to this size (8 bytes each)
_CODES_MAX = 2**16


@njit(cache=True)
def _inverse_cdf(cdf, u):
    """Index ``j`` with ``cdf[j-1] <= u < cdf[j]`` (``cdf`` normalised, last entry 1)."""
    j = 0
    last = cdf.shape[0] - 1
    while j < last and u >= cdf[j]:
        j += 1
    return j


@njit(cache=True, inline="always")
def _rank_table(B, c, T):
    """``combinatorics.rank`` of a composition ``c`` of ``T`` with ``B[t, p] = C(t + p, p)``."""
    d = c.shape[0]
    r = 0
    for i in range(d - 1):
        ci = c[i]
        if ci > 0:
            p = d - 1 - i
            r += B[T, p] - B[T - ci, p]
            T -= ci
    return r


@njit(cache=True, inline="always")
def _floyd_index(j, m, K, sel, mark, stamp, st):
    """Step ``j`` of Floyd's algorithm (``m`` indices drawn so far): ``t ~ U{0 .. j}``, replaced
    by ``j`` if already drawn (a scan of ``sel`` for ``K <= _SCAN_MAX``, else ``mark[t] ==
    stamp``), and recorded."""
    t = np.int64(next_uniform(st) * (j + 1))
    if t > j:
        t = j
    if K <= _SCAN_MAX:
        for q in range(m):
            if sel[q] == t:
                t = j
                break
        sel[m] = t
    else:
        if mark[t] == stamp:
            t = j
        mark[t] = stamp
    return t


@njit(cache=True)
def _draw_counts(s, N, K, skip, c, sel, mark, stamp, st):
    """State counts ``c`` of ``K`` distinct agents drawn uniformly (Floyd's algorithm, O(K)).

    Indices ``t`` are drawn from ``{0 .. N-1}`` and mapped to agents by skipping ``skip``
    (``t -> t`` if ``t < skip`` else ``t + 1``): with ``N = n - 1`` and ``skip = i`` they are
    ``K`` of the other ``n - 1`` agents (``Delta_i``), with ``N = n`` and ``skip = n`` ``K`` of
    all ``n`` (``Delta``). Duplicates are detected by a scan of ``sel`` for ``K <= _SCAN_MAX``,
    else by ``mark[t] == stamp`` (``stamp`` fresh per call).
    """
    c[:] = 0
    m = 0
    for j in range(N - K, N):
        t = _floyd_index(j, m, K, sel, mark, stamp, st)
        m += 1
        idx = t if t < skip else t + 1
        c[s[idx]] += 1


@njit(cache=True, inline="always")
def _draw_code(s, N, K, skip, S_l, sel, st):
    """The sample of :func:`_draw_counts` (``K <= _SCAN_MAX``: the same numbers in the same
    order) as the base-``S_l`` number whose digits are its agents' states in draw order, the
    index of :func:`_code_ranks`."""
    code = 0
    m = 0
    for j in range(N - K, N):
        t = _floyd_index(j, m, K, sel, sel, 0, st)
        idx = t if t < skip else t + 1
        code = code * S_l + s[idx]
        m += 1
    return code


def _code_ranks(S_l, K):
    """``rank(c)`` of every sample of ``K`` agents by its code (:func:`_draw_code`): entry
    ``sum_m d_m S_l**(K-1-m)`` is the rank of the counts of the states ``d_0 .. d_{K-1}``;
    empty (the kernel then counts and ranks, :func:`_draw_counts`) beyond ``_CODES_MAX``
    entries or for ``K > _SCAN_MAX``."""
    if K > _SCAN_MAX or S_l**K > _CODES_MAX:
        return np.zeros(0, np.int64)
    if K == 0:  # the empty sample (k = 1): rank 0
        return np.zeros(1, np.int64)
    digits = np.indices((S_l,) * K).reshape(K, -1).T
    return np.array([rank(np.bincount(d, minlength=S_l)) for d in digits], dtype=np.int64)


@njit(cache=True, inline="always")
def _next_local(cdf_l, lo_l, hi_l, si, s_g, a, u):
    """:func:`_inverse_cdf` of the transition row ``cdf_l[si, s_g, a]`` (cumulative, normalised,
    non-decreasing) from its bounds ``lo``, ``hi`` (:func:`_row_bounds`): ``lo`` plus the entries
    of ``cdf[lo:hi]`` at most ``u``, without a branch per entry, and without taking the row as
    an array (a view per agent costs two atomic reference counts)."""
    lo = lo_l[si, s_g, a]
    j = lo
    for q in range(lo, hi_l[si, s_g, a]):
        j += u >= cdf_l[si, s_g, a, q]
    return j


def _row_bounds(cdf):
    """``(lo, hi)`` of every cumulative row: ``lo`` its first outcome of positive probability
    (the entries before are 0.0 <= u, skipped by any draw), ``hi`` its last (``cdf[hi]`` is
    exactly 1.0 > u: no draw goes past it)."""
    pos = np.diff(cdf, axis=-1, prepend=0.0) > 0.0
    lo = pos.argmax(axis=-1)
    hi = cdf.shape[-1] - 1 - pos[..., ::-1].argmax(axis=-1)
    return lo.astype(np.int64), hi.astype(np.int64)


@njit(cache=True)
def _act(det, law, s_g, s, r, st):
    """The action of one reading: ``det[s_g, s, r]`` if its law is one-hot, else a draw."""
    a = det[s_g, s, r]
    if a < 0:
        a = _inverse_cdf(law[s_g, s, r], next_uniform(st))
    return a


def _reading_tables(prob):
    """``(det, cdf)`` of a law table ``(S_g, S_l, Cs, A)``: ``det`` the action of one-hot rows
    (-1 elsewhere), ``cdf`` the cumulative laws (last entry 1)."""
    one_hot = (prob == 1.0).any(axis=-1) & ((prob > 0.0).sum(axis=-1) == 1)
    det = np.where(one_hot, prob.argmax(axis=-1), -1).astype(np.int64)
    cdf = np.cumsum(prob, axis=-1)
    cdf /= cdf[..., -1:]
    return np.ascontiguousarray(det), np.ascontiguousarray(cdf)


@njit(cache=True)
def _start_rollout(r, seed, noisy, st, st2, sg0, counts0, local0, s):
    """Start rollout ``r``: its sequential streams (key ``stream_key(seed, r)``, the noise's
    from :func:`~.rollouts.noise_key`) and its agents' local states ``s`` (``local0`` if it has
    ``n`` entries, else row ``r`` of ``counts0`` laid out in state order, row 0 if it has one
    row); returns its ``s_g``."""
    key = stream_key(seed, r)
    start_sequential(st, key)
    if noisy:
        start_sequential(st2, noise_key(key))
    i0 = r if sg0.shape[0] > 1 else 0
    if local0.shape[0] == s.shape[0]:
        for i in range(s.shape[0]):  # a loop, not a slice assignment (cheaper to compile)
            s[i] = local0[i]
    else:
        pos = 0
        for q in range(counts0.shape[1]):
            for _ in range(counts0[i0, q]):
                s[pos] = q
                pos += 1
    return sg0[i0]


@njit(cache=True)
def _agent_moves(si, s_g, a, r_l, phi, cdf_l, noisy, w_l, st, st2):
    """A local agent in state ``si`` playing ``a``: ``(r_l, its reward noise w_l xi_i, phi,
    its next state ~ P_l[si, s_g, a])`` (eq. 3, Theorem 0.13, eq. 2)."""
    noise = 0.0
    if noisy:  # r_l + w_l xi_i, xi_i = +-1
        noise = w_l[si, s_g, a] * (1.0 if next_uniform(st2) < 0.5 else -1.0)
    return r_l[si, s_g, a], noise, phi[si, a], _inverse_cdf(cdf_l[si, s_g, a], next_uniform(st))


@njit(cache=True)
def _stage_reward(s_g, a_g, r_g, rew_l, noise_l, n, noisy, w_g, st2):
    """Eq. (3) from the local agents' sums ``rew_l``, ``noise_l`` (and the global noise)."""
    rew = r_g[s_g, a_g] + rew_l / n
    if noisy:  # r_g + w_g xi
        xi = 1.0 if next_uniform(st2) < 0.5 else -1.0
        rew += w_g[s_g, a_g] * xi + noise_l / n
    return rew


@njit(cache=True, nogil=True)
def _agent_kernel(
    lo, hi, cdf_g, cdf_l, lo_l, hi_l, r_g, r_l, phi, det_g, det_l, law_g, law_l, k, n, B, codes,
    sg0, counts0, local0, seed, disc, returns, rewards, xs, sgs, ags, counts_tr, noisy, w_g, w_l,
):  # fmt: skip
    """Rollouts ``lo .. hi-1`` of the literal Algorithm 3, rollout ``r`` on the sequential
    stream of key ``stream_key(seed, r)`` (:func:`smfq_lib._utils.rng.start_sequential`), writing
    row ``r - lo`` of the output arrays.

    A reading's action is ``det[s_g, s, r]`` when its law is one-hot, else an inverse-CDF draw
    from ``law[s_g, s, r]`` (cumulative laws, :func:`_reading_tables`). ``returns`` gets
    ``sum_t disc[t] r_t``; per-step arrays of width 0 are not written; the start is row ``r`` of
    ``sg0``, ``counts0`` (row 0 if they have one row), or ``local0`` if it has ``n`` entries.

    With ``noisy``: reward noise (Theorem 0.13), one sign per agent and one for the global
    reward per step, from the rollout's second stream (:func:`~.rollouts.noise_key`)."""
    H = disc.shape[0]
    S_l = counts0.shape[1]
    st = np.zeros(2, np.uint64)  # sequential generators: [x, gamma]
    st2 = np.zeros(2, np.uint64)
    s = np.empty(n, np.int64)
    s_next = np.empty(n, np.int64)
    mark = np.zeros(n if k > _SCAN_MAX else 1, np.int64)
    sel = np.empty(k, np.int64)
    c = np.zeros(S_l, np.int64)
    cnt = np.zeros(S_l, np.int64)
    stamp = 0
    for r in range(lo, hi):
        j = r - lo
        s_g = _start_rollout(r, seed, noisy, st, st2, sg0, counts0, local0, s)
        ret = 0.0
        for t in range(H):
            # global agent: Delta ~ U(C([n], k)), canonical s_1 = lowest state present
            stamp += 1
            _draw_counts(s, n, k, n, c, sel, mark, stamp, st)
            s1 = 0
            while c[s1] == 0:
                s1 += 1
            c[s1] -= 1
            a_g = _act(det_g, law_g, s_g, s1, _rank_table(B, c, k - 1), st)
            rew_l = 0.0
            noise_l = 0.0
            x = 0.0
            cnt[:] = 0
            for i in range(n):
                si = s[i]
                cnt[si] += 1
                # local agent i: Delta_i ~ U(C([n] minus i, k-1))
                if codes.shape[0] > 0:
                    rk = codes[_draw_code(s, n - 1, k - 1, i, S_l, sel, st)]
                else:
                    stamp += 1
                    _draw_counts(s, n - 1, k - 1, i, c, sel, mark, stamp, st)
                    rk = _rank_table(B, c, k - 1)
                # _act and _agent_moves written out: a call passing arrays costs atomic
                # reference counts per agent, more than the rest of its work
                a = det_l[s_g, si, rk]
                if a < 0:
                    a = _inverse_cdf(law_l[s_g, si, rk], next_uniform(st))
                if noisy:  # r_l + w_l xi_i, xi_i = +-1
                    noise_l += w_l[si, s_g, a] * (1.0 if next_uniform(st2) < 0.5 else -1.0)
                rew_l += r_l[si, s_g, a]
                x += phi[si, a]
                s_next[i] = _next_local(cdf_l, lo_l, hi_l, si, s_g, a, next_uniform(st))
            rew = _stage_reward(s_g, a_g, r_g, rew_l, noise_l, n, noisy, w_g, st2)
            ret += disc[t] * rew
            keep_step(j, t, rew, x, s_g, a_g, cnt, rewards, xs, sgs, ags, counts_tr)
            s_g = _inverse_cdf(cdf_g[s_g, a_g], next_uniform(st))
            s, s_next = s_next, s
        returns[j] = ret


def agent_setup(executor, system, n, k, R, H, seed, start, keep, record_counts, budget):
    """What every agent-level executor does before its kernel: check the start ``start = (s_g,
    counts, initial, local_states)``, refuse a run over the memory budget (the kept arrays and
    ``2 n`` or ``3 n`` int64 working numbers per thread), draw the start states of ``initial``;
    returns ``(sg0, c0, loc, cdf_g, cdf_l)`` (``loc`` empty without ``local_states``; the
    cumulative transition rows, last entry 1)."""
    sg0, c0, loc, law = check_start(system, n, *start, True)
    per = 3 if k > _SCAN_MAX else 2
    threads = thread_count(R)
    formula = f"{per} x {threads} threads x n = {format_count(n)} x 8 bytes"
    work = [("agent vectors", formula, per * threads * n * 8, AGENTS_FIX)]
    if loc is not None:
        work.append(("local_states", "n x 8 bytes", n * 8, AGENTS_FIX))
    check_memory(executor, system, R, H, keep, record_counts, law is not None, work, budget)
    if law is not None:
        sg0, c0 = draw_start(system, n, law, R, seed)
    if loc is None:
        loc = np.zeros(0, np.int64)
    cdf_g = np.cumsum(system.P_g, axis=-1)
    cdf_g /= cdf_g[..., -1:]
    cdf_l = np.cumsum(system.P_l, axis=-1)
    cdf_l /= cdf_l[..., -1:]
    return sg0, c0, loc, cdf_g, cdf_l


@document(
    local_states="The agent-level executor runs these agents as given (their order matters "
    "for nothing but the random numbers: the process is exchangeable)."
)
def rollout_agents(
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
    """Algorithm 3, literally, on ``n`` agents: ``rollouts`` independent runs of ``horizon`` steps.

    Every step (Algorithm 3, lines 3-10): the global agent samples ``Delta``, ``k`` of the ``n``
    agents uniformly without replacement, and draws ``a_g ~ pi_g`` read at ``(s_g, s_1,
    counts of the others in Delta)`` with ``s_1`` the lowest state in the sample; each local agent
    ``i`` samples ``k - 1`` of the other ``n - 1`` agents and draws ``a_i ~ pi_l`` read at
    ``(s_g, s_i, their counts)``, independently of the others (its reading's law under the tie
    rule); the stage reward is eq. (3) on all ``n`` agents, ``r_g(s_g, a_g) + (1/n) sum_i
    r_l(s_i, s_g, a_i)``; then ``s_g' ~ P_g(. | s_g, a_g)`` (eq. 1) and ``s_i' ~ P_l(. | s_i,
    s_g, a_i)`` (eq. 2). With an ``(s_g, counts)`` start the agents are laid out in state order
    (the process is exchangeable). Cost ``O(n k)`` per step per rollout; rollouts run in
    parallel on ``numba.get_num_threads()`` threads, each holding ``2 n`` (``3 n`` for
    ``k > 24``) int64 working numbers.

    Parameters
    ----------
    {parameters}
    """
    n, H, R, seed, laws, budget = validate_common(
        system, policy, n, horizon, rollouts, seed, rule, keep, record_counts, memory_budget
    )
    k = laws.k
    start = (s_g, counts, initial, local_states)
    sg0, c0, loc, cdf_g, cdf_l = agent_setup(
        "rollout_agents", system, n, k, R, H, seed, start, keep, record_counts, budget
    )
    det_g, law_g = _reading_tables(laws.prob_g)
    det_l, law_l = _reading_tables(laws.prob_l)
    S_l = system.S_l
    B = np.array([[binom(t + p, p) for p in range(S_l)] for t in range(k + 1)], dtype=np.int64)
    phi = phi_table(system)
    lo_l, hi_l = _row_bounds(cdf_l)
    codes = _code_ranks(S_l, k - 1)

    def call(a, b, *run):
        _agent_kernel(
            a, b, cdf_g, cdf_l, lo_l, hi_l, system.r_g, system.r_l, phi, det_g, det_l, law_g,
            law_l, k, n, B, codes, sg0, c0, loc, *run,
        )  # fmt: skip

    return run_rollouts(call, system, n, laws, seed, R, H, "agents", keep, record_counts, progress)
