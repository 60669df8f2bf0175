"""Algorithm 3 with a function policy: the literal executor reading a linear model per sampled
agent (docs/design.md §4, §10).

The executors of :mod:`smfq_lib.execute` read law tables indexed by the state composition of a
reading (``C(k - 1 + S_l - 1, S_l - 1)`` of them); a :class:`~.result.LinearQ` gives them those
tables (``action_laws``) wherever they fit, and :func:`rollout_linear` is for where they do not
(large ``k``): the same process as :func:`smfq_lib.execute.rollout_agents` (the same samples
``Delta``, ``Delta_i``, the same random numbers in the same order), with each reading's action
computed from the model at the sampled counts in closed form (:mod:`~.greedy`, affine features,
rules ``"first"`` and ``"coordinated"``) instead of looked up. Under rule ``"coordinated"`` a
local agent in the sample's lowest state ``s_min`` draws its share (agent 1's action with
probability ``1 / c_k[s_min]``) by the inverse CDF of the law the table would hold, so with the
same seed the two executors give bit-identical rollouts (tests/test_linear_execute.py). Hence
:func:`rollout_linear` itself runs ``rollout_agents`` on the model's law tables where they are
small (:data:`TABLE_BYTES`) and read more often than they have entries: a lookup per reading.

The count-level executor needs the mixture laws of eq. (10), (11), sums over every composition
of ``k``: :func:`smfq_lib.execute.rollout_counts` takes a ``LinearQ`` where its law tables fit and
is refused (with their size) otherwise; no sampled count-level version is provided.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from numba import njit

from smfq_lib._utils.checks import format_count
from smfq_lib._utils.rng import next_uniform
from smfq_lib.execute.agents import (
    _SCAN_MAX,
    _agent_moves,
    _draw_counts,
    _inverse_cdf,
    _stage_reward,
    _start_rollout,
    agent_setup,
    rollout_agents,
)
from smfq_lib.execute.rollouts import keep_step
from smfq_lib.execute.run import (
    document,
    phi_table,
    run_rollouts,
    validate_common,
)
from smfq_lib.learning.policy import DEFAULT_RULE, RULES, ActionLaws, check_system
from smfq_lib.linear.greedy import coordinated_reading, first_reading, reading_tables
from smfq_lib.linear.result import CLOSED_RULES, LinearQ
from smfq_lib.model.combinatorics import n_compositions

__all__ = ["TABLE_BYTES", "rollout_linear"]

#: Law tables up to this size (bytes) are computed (once per ``LinearQ`` and rule, kept by it)
#: and run by :func:`smfq_lib.execute.rollout_agents` when the rollouts read more often than the
#: tables have entries: a table lookup per reading instead of a closed-form reading.
TABLE_BYTES = 2**26


@njit(cache=True)
def _local_action(B, w, mws, rule, s_g, si, c, scale, ck, cc, x, xb, present, q, cdf, st):
    """A local agent's action in state ``si`` given its sample's others ``c`` (module
    docstring); ``ck``, ``cc``, ``x``, ``xb``, ``present``, ``q``, ``cdf``: scratch."""
    if rule == 0:
        return first_reading(B, w, mws, s_g, si, c, scale, x, xb, present, q)[0]
    for s in range(c.shape[0]):
        ck[s] = c[s]
    ck[si] += 1
    s0, a1, _ = coordinated_reading(B, w, mws, s_g, ck, scale, cc, x, xb, present, q)
    if si != s0:
        return xb[si]
    own = 1 + (ck[si] - 1 if xb[si] == a1 else 0)
    if own == ck[si]:
        return a1
    cdf[:] = 0.0  # the law table's row: own / c_k at a_1, the rest at xb[si]; cumulated
    cdf[a1] = own / ck[si]
    cdf[xb[si]] = (ck[si] - own) / ck[si]
    for a in range(1, cdf.shape[0]):
        cdf[a] += cdf[a - 1]
    cdf /= cdf[-1]
    return _inverse_cdf(cdf, next_uniform(st))


@njit(cache=True, nogil=True)
def _linear_kernel(
    lo, hi, cdf_g, cdf_l, r_g, r_l, phi, B, w, mws, rule, k, n, sg0, counts0, local0, seed, disc,
    returns, rewards, xs, sgs, ags, counts_tr, noisy, w_g, w_l,
):  # fmt: skip
    """Rollouts ``lo .. hi-1`` of Algorithm 3 with the readings of the model ``(B, w, mws)``
    (:func:`~.greedy.reading_tables`) under ``rule`` (0 first, 1 coordinated): the loop of
    :func:`smfq_lib.execute.agents._agent_kernel`, draw for draw."""
    H = disc.shape[0]
    S_l = counts0.shape[1]
    scale = 1.0 / max(k - 1, 1)
    st = np.zeros(2, np.uint64)
    st2 = np.zeros(2, np.uint64)
    s = np.empty(n, np.int64)
    s_next = np.empty(n, np.int64)
    mark = np.zeros(n if k > _SCAN_MAX else 1, np.int64)
    sel = np.empty(k, np.int64)
    c = np.zeros(S_l, np.int64)
    cnt = np.zeros(S_l, np.int64)
    ck, cc = np.empty(S_l, np.int64), np.empty(S_l, np.int64)
    x, xb = np.empty(S_l, np.int64), np.empty(S_l, np.int64)
    present, q = np.empty(S_l, np.int64), np.empty(B.shape[2] * B.shape[3])
    cdf = np.empty(B.shape[2])
    stamp = 0
    for r in range(lo, hi):
        j = r - lo
        s_g = _start_rollout(r, seed, noisy, st, st2, sg0, counts0, local0, s)
        ret = 0.0
        for t in range(H):
            stamp += 1
            _draw_counts(s, n, k, n, c, sel, mark, stamp, st)  # Delta: c_k
            if rule == 0:
                s1 = 0
                while c[s1] == 0:
                    s1 += 1
                c[s1] -= 1
                a_g = first_reading(B, w, mws, s_g, s1, c, scale, x, xb, present, q)[1]
            else:
                a_g = coordinated_reading(B, w, mws, s_g, c, scale, cc, x, xb, present, q)[2]
            rew_l = noise_l = xsum = 0.0
            cnt[:] = 0
            for i in range(n):
                si = s[i]
                cnt[si] += 1
                stamp += 1
                _draw_counts(s, n - 1, k - 1, i, c, sel, mark, stamp, st)  # Delta_i
                a = _local_action(
                    B, w, mws, rule, s_g, si, c, scale, ck, cc, x, xb, present, q, cdf, st
                )
                dr, dn, dx, nxt = _agent_moves(si, s_g, a, r_l, phi, cdf_l, noisy, w_l, st, st2)
                s_next[i] = nxt
                rew_l += dr
                noise_l += dn
                xsum += dx
            rew = _stage_reward(s_g, a_g, r_g, rew_l, noise_l, n, noisy, w_g, st2)
            ret += disc[t] * rew
            keep_step(j, t, rew, xsum, s_g, a_g, cnt, rewards, xs, sgs, ags, counts_tr)
            s_g = _inverse_cdf(cdf_g[s_g, a_g], next_uniform(st))
            s, s_next = s_next, s
        returns[j] = ret


@document(
    local_states="The agents run as given (their order matters for nothing but the random "
    "numbers: the process is exchangeable)."
)
def rollout_linear(
    system,
    policy: LinearQ,
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
):
    """Algorithm 3, literally, on ``n`` agents, each reading the linear model ``policy`` at its
    own sample (module docstring): the process of :func:`smfq_lib.execute.rollout_agents` at any
    ``k``, without law tables. ``policy`` must be a :class:`~.result.LinearQ` with affine
    features and ``rule`` (default ``DEFAULT_RULE``) ``"first"`` or ``"coordinated"``. Cost per
    step ``O(n (k + S_l + A_l A_g min(k, S_l)))`` (a reading scans the model's pairs at the
    states present in its sample).

    Parameters
    ----------
    {parameters}
    """
    if not isinstance(policy, LinearQ):
        raise ValueError(
            f"policy must be a LinearQ (from smfq_lib.linear.learn_linear); got "
            f"{type(policy).__name__}. Tables go to smfq_lib.execute.rollout_agents."
        )
    rule = DEFAULT_RULE if rule is None else rule
    if not isinstance(rule, str) or rule not in CLOSED_RULES or not policy.features.affine:
        raise ValueError(
            f"rule={rule!r} with features {policy.features.name!r}: rollout_linear reads the "
            f"policy in closed form, for affine features under rule 'first' or 'coordinated' "
            f"(of {RULES}). For other rules pass policy.action_laws(rule) to rollout_agents."
        )
    S_g, S_l, A_g, A_l = policy.sizes
    if (system.S_g, system.S_l, system.A_g, system.A_l) != (S_g, S_l, A_g, A_l):
        raise ValueError(
            f"policy was learned on (S_g, S_l, A_g, A_l) = {policy.sizes}; this system has "
            f"{(system.S_g, system.S_l, system.A_g, system.A_l)}."
        )
    check_system(policy, system.fingerprint)
    # the arguments every executor checks, with the laws of a one-agent stand-in (the model's
    # own laws may not fit: that is why this executor exists)
    stand_in = ActionLaws(
        1, rule, np.ones((S_g, S_l, 1, A_g)) / A_g, np.ones((S_g, S_l, 1, A_l)) / A_l
    )
    n, H, R, seed, _, budget = validate_common(
        system, stand_in, n, horizon, rollouts, seed, None, keep, record_counts, memory_budget
    )
    k = policy.k
    if k > n:
        raise ValueError(
            f"policy.k = {k} exceeds the number of agents n = {format_count(n)}; Algorithm 3 "
            "samples k of the n agents."
        )
    readings = S_g * S_l * n_compositions(k - 1, S_l)
    if 8 * readings * (A_g + A_l) <= TABLE_BYTES and readings <= n * H * R:
        # the same readings tabulated once (closed_form_laws): the same process, bit for bit
        return rollout_agents(
            system, policy.action_laws(rule), n, s_g, counts, horizon, rollouts, seed,
            initial=initial, local_states=local_states, keep=keep, record_counts=record_counts,
            progress=progress, memory_budget=memory_budget,
        )  # fmt: skip
    start = (s_g, counts, initial, local_states)
    sg0, c0, loc, cdf_g, cdf_l = agent_setup(
        "rollout_linear", system, n, k, R, H, seed, start, keep, record_counts, budget
    )
    B, w, mws = reading_tables(policy.theta, policy.features)
    phi = phi_table(system)
    code = CLOSED_RULES[rule]

    def call(a, b, *run):
        _linear_kernel(
            a,
            b,
            cdf_g,
            cdf_l,
            system.r_g,
            system.r_l,
            phi,
            B,
            w,
            mws,
            code,
            k,
            n,
            sg0,
            c0,
            loc,
            *run,
        )

    record = SimpleNamespace(k=k, rule=rule)
    return run_rollouts(
        call, system, n, record, seed, R, H, "agents", keep, record_counts, progress
    )
