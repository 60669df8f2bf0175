"""SUBSAMPLE-MFQ without a generative oracle: Algorithm 2's table learned online, from
trajectories of the ``n``-agent system (docs/design.md §12).

The paper's learners (Algorithms 1, 2) call a generative oracle: ``m`` fresh next states for
every entry of ``Q_k``. :func:`learn_online` has none. The global agent runs the real ``n``-agent
system (at count level, so ``n`` can be huge) under a behaviour policy, and every step turns the
observed transition into samples of the ``k``-agent subsystem: it draws ``k`` of the ``n`` agents
uniformly without replacement -- their states, actions and next states -- and updates Algorithm
2's ``Q[s_g, s_1, rank(zc), a_1, a_g]`` by stochastic approximation (asynchronous Q-learning)
towards ``r_Delta`` (eq. 6) ``+ gamma max Q_k(next)``, the max being Algorithm 2's value table
(eq. 9) at the sampled agents' next states.

**What it estimates when k < n (the fixed point is Q_k*).** The sampled agents' next states come
from the ``n``-agent transition with the true global action, which depends on all ``n`` agents.
But given ``(s_g, a_g)`` and the agents' own ``(s_i, a_i)``, eq. (1) and (2) move the global agent
and every local agent independently: ``s_g' ~ P_g(. | s_g, a_g)``, ``s_i' ~ P_l(. | s_i, s_g,
a_i)``. So, conditioned on everything observed before (the whole ``n``-agent history, the action
``a_g`` chosen from all ``n`` agents, the choice of the ``k`` agents), the sample's next state
``(s_g', s_Delta')`` has exactly the law of the ``k``-agent subsystem's transition from
``(s_g, s_Delta, a_g, a_Delta)`` -- the law in eq. (12). The rest of the system decides only
*which* entries are visited and how often (the behaviour's state-action distribution), never
the law of a target. The update noise is therefore a martingale difference, and asynchronous
Q-learning (Tsitsiklis 1994; Jaakkola, Jordan, Singh 1994) converges to the fixed point of the
exact operator (12), ``Q_k*`` (what ``learn(system, k, None)`` computes), on every entry visited
infinitely often, when the step sizes satisfy the Robbins-Monro conditions: ``alpha_t = 1 /
(1 + N_t(e))^omega`` with ``N_t(e)`` the updates entry ``e`` has had, ``omega in (1/2, 1]``.
Entries the trajectory cannot reach stay at their initial 0 (e.g. a ``k``-sample configuration
the population never shows). With ``k = n`` the sample is the whole population, the learner's
state is the count state, and this is plain Q-learning on the count MDP (its fixed point is the
``Q`` whose greedy value is ``V*``). ``tests/test_online.py`` checks both limits.

**Behaviour.** Epsilon-greedy on the current estimate of ``pi_k``: every agent (global and
local) independently plays a uniformly random action with probability ``epsilon``, otherwise
its action of Algorithm 3 under tie rule ``"first"`` on the current table (its own ``k``-sample,
eq. 10, 11; the count-level mixture of :func:`~smfq_lib.learning.policy.action_distributions_into`,
exact at any ``n``). ``epsilon = 1`` is the fixed uniform-random behaviour that visits everything.
The greedy table is refreshed at the updated value state after every update
(:func:`~smfq_lib.learning.argmax.mf_argmax_at`, the same reading as
:func:`~smfq_lib.learning.argmax.mf_argmax`). With ``restart=H`` the trajectory is cut into
episodes of ``H`` steps, each started from an i.i.d. law: one trajectory never returns to the
states only a start can be in, and the worst case over start states includes them.

**Step of the chain.** As the count-level executor (:mod:`smfq_lib.execute.counts`): ``a_g ~
p_g``; per local state ``s`` the action histogram ``~ Multinomial(counts[s], p_l[s])``; per cell
``(s, a)`` the next states ``~ Multinomial(n_sa, P_l[s, s_g, a])`` (kept per cell, so that the
sampled agents' triples ``(s_i, a_i, s_i')`` are drawn from the realised ones); ``s_g' ~
P_g(s_g, a_g)``. The draws (:mod:`smfq_lib._utils.binomial`) are exact at any ``n``.

Random numbers: one counter-based stream keyed by ``(seed, 0)`` for the trajectory and the
samples, one keyed by ``(seed, 1)`` for reward noise (Theorem 0.13), so the run depends on the
seed only (it is sequential: one thread; chunking for the progress bar changes nothing).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from smfq_lib._utils.binomial import multinomial_add, sample_dist
from smfq_lib._utils.budget import check_budget, check_fits
from smfq_lib._utils.checks import check_int, check_seed, validate_counts, validate_index
from smfq_lib._utils.rng import next_counter_uniform, stream_key
from smfq_lib.learning.argmax import mf_argmax, mf_argmax_at
from smfq_lib.learning.policy import action_distributions_into, policy_tables, scratch_for
from smfq_lib.learning.result import SubsampledQ
from smfq_lib.learning.rewards import mean_field_reward
from smfq_lib.model.combinatorics import compositions, marginal_ranks, n_compositions, rank
from smfq_lib.model.system import CooperativeSystem

__all__ = ["learn_online", "learn_online_steps", "online_bytes"]

#: Environment steps per kernel call (the progress bar's grain; results do not depend on it).
_CHUNK = 20_000


@njit(cache=True)
def _set_laws(prob_g, prob_l, sg, s1, c, ag, a1, eps):
    """Epsilon-greedy law rows at value state ``(sg, s1, c)``: ``eps / A`` everywhere plus
    ``1 - eps`` on the greedy action."""
    A_g = prob_g.shape[3]
    A_l = prob_l.shape[3]
    for a in range(A_g):
        prob_g[sg, s1, c, a] = eps / A_g + (1.0 - eps if a == ag else 0.0)
    for a in range(A_l):
        prob_l[sg, s1, c, a] = eps / A_l + (1.0 - eps if a == a1 else 0.0)


@njit(cache=True, nogil=True)
def _online_kernel(
    P_g, P_l, R, Q, visits, V, pi_g, pi_l, prob_g, prob_l, mr, members, starts, comps_km1,
    comps_k, ck_s1, ck_rank, scratch, gamma, eps, omega, draws, steps, state, counts, st, nst,
    noisy, w_g, w_l, restart, p0_g, p0_l,
):  # fmt: skip
    """``steps`` environment steps from ``state = [s_g, t]`` and ``counts`` (updated in place),
    each followed by ``draws`` Q-updates from independent ``k``-samples of its transition (module
    docstring). With ``restart > 0``, the state is drawn from ``s_g ~ p0_g``, ``counts ~
    Multinomial(n, p0_l)`` before every step ``t`` with ``t % restart == 0``. ``st``, ``nst``: the
    counter streams ``[key, counter]`` of the trajectory and of the reward noise, advanced in
    place, so consecutive calls continue one run."""
    S_g, S_l, Cz, A_l, A_g = Q.shape
    Z_l = S_l * A_l
    k = 1
    for q in range(comps_km1.shape[1]):
        k += comps_km1[0, q]
    p_g = np.zeros(A_g)
    p_l = np.zeros((S_l, A_l))
    hist = np.zeros(A_l, np.int64)
    moves = np.zeros(Z_l * S_l, np.int64)  # agents per (cell, next state), this step
    left = np.zeros(Z_l * S_l, np.int64)  # the same, minus the agents drawn so far
    nxt = np.zeros(S_l, np.int64)
    zc = np.zeros(Z_l, np.int64)  # the k - 1 others' (state, action) composition
    cn = np.zeros(S_l, np.int64)  # their next states' composition
    n = 0
    for q in range(S_l):
        n += counts[q]
    for _ in range(steps):
        if restart > 0 and state[1] % restart == 0:
            state[0] = sample_dist(p0_g, next_counter_uniform(st))
            for q in range(S_l):
                counts[q] = 0
            multinomial_add(n, p0_l, counts, st)
        state[1] += 1
        s_g = state[0]
        action_distributions_into(
            p_g, p_l, prob_g, prob_l, s_g, counts, comps_km1, comps_k, ck_s1, ck_rank, scratch
        )
        a_g = sample_dist(p_g, next_counter_uniform(st))
        for j in range(Z_l * S_l):
            moves[j] = 0
        for q in range(S_l):
            nxt[q] = 0
        for s in range(S_l):
            if counts[s] == 0:
                continue
            for a in range(A_l):
                hist[a] = 0
            multinomial_add(counts[s], p_l[s], hist, st)
            for a in range(A_l):
                if hist[a] > 0:
                    z = s * A_l + a
                    multinomial_add(hist[a], P_l[s, s_g, a], moves[z * S_l : (z + 1) * S_l], st)
        s_g2 = sample_dist(P_g[s_g, a_g], next_counter_uniform(st))
        for _d in range(draws):
            for j in range(Z_l * S_l):
                left[j] = moves[j]
            for z in range(Z_l):
                zc[z] = 0
            for q in range(S_l):
                cn[q] = 0
            s1 = 0
            a1 = 0
            s1n = 0
            noise = 0.0
            remaining = n
            for i in range(k):  # k of the n agents, uniformly without replacement
                u = next_counter_uniform(st)
                pick = min(int(u * remaining), remaining - 1)
                j = 0
                while pick >= left[j]:
                    pick -= left[j]
                    j += 1
                left[j] -= 1
                remaining -= 1
                z = j // S_l
                s = z // A_l
                a = z % A_l
                if noisy:
                    noise += w_l[s, s_g, a] * (1.0 if next_counter_uniform(nst) < 0.5 else -1.0)
                if i == 0:  # agent 1
                    s1 = s
                    a1 = a
                    s1n = j % S_l
                else:
                    zc[z] += 1
                    cn[j % S_l] += 1
            r = rank(zc)
            e_rew = R[s_g, s1, r, a1, a_g]
            if noisy:
                e_rew += w_g[s_g, a_g] * (1.0 if next_counter_uniform(nst) < 0.5 else -1.0)
                e_rew += noise / k
            target = e_rew + gamma * V[s_g2, s1n, rank(cn)]
            v = visits[s_g, s1, r, a1, a_g]
            alpha = 1.0 / (1.0 + v) ** omega
            Q[s_g, s1, r, a1, a_g] += alpha * (target - Q[s_g, s1, r, a1, a_g])
            visits[s_g, s1, r, a1, a_g] = v + 1
            c = mr[r]
            best, ag_star, a1_star = mf_argmax_at(Q, members, starts[c], starts[c + 1], s_g, s1)
            V[s_g, s1, c] = best
            pi_g[s_g, s1, c] = ag_star
            pi_l[s_g, s1, c] = a1_star
            _set_laws(prob_g, prob_l, s_g, s1, c, ag_star, a1_star, eps)
        state[0] = s_g2
        for q in range(S_l):
            counts[q] = 0
        for j in range(Z_l * S_l):
            counts[j % S_l] += moves[j]


def online_bytes(system: CooperativeSystem, k: int) -> int:
    """Bytes :func:`learn_online` allocates for ``k``: ``Q``, ``R`` and the visit counts over
    Algorithm 2's entries, the value and greedy tables and the behaviour's law tables over the
    value states, the compositions of ``k - 1`` into ``Z_l`` and ``S_l`` parts."""
    S_g, S_l, A_g, A_l = system.S_g, system.S_l, system.A_g, system.A_l
    Z_l = S_l * A_l
    Cz = n_compositions(k - 1, Z_l)
    Cs = n_compositions(k - 1, S_l)
    entries = S_g * S_l * Cz * A_l * A_g
    values = S_g * S_l * Cs
    return 3 * 8 * entries + 8 * values * (3 + A_g + A_l) + 8 * Cz * (Z_l + 2) + 8 * Cs * S_l


def _check_real(name, value, lo, hi, lo_open, why):
    ok = isinstance(value, int | float | np.floating | np.integer) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (lo < value if lo_open else lo <= value) and value <= hi  # False for nan
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo}, {hi}]"
        raise ValueError(f"{name} must be a real number in {interval} ({why}); got {value!r}.")
    return value


def _law(name, p, size):
    """A probability vector of length ``size`` (``None``: uniform); ``ValueError`` naming it."""
    if p is None:
        return np.full(size, 1.0 / size)
    arr = np.asarray(p, dtype=np.float64)
    if arr.shape != (size,) or not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must be {size} non-negative finite numbers; got {p!r}.")
    if abs(arr.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1 (within 1e-9); got sum {arr.sum()!r}.")
    return arr / arr.sum()


def learn_online(
    system: CooperativeSystem,
    k: int,
    n: int,
    steps: int,
    *,
    epsilon: float = 0.1,
    omega: float = 0.6,
    seed: int = 0,
    draws: int = 1,
    s_g=None,
    counts=None,
    restart: int | None = None,
    initial=None,
    progress: bool = False,
    memory_budget=None,
) -> SubsampledQ:
    """Algorithm 2's ``Q_k`` learned online from a trajectory of the ``n``-agent system (or
    episodes of it, ``restart``; module docstring): no generative oracle.

    Every environment step runs the count chain one step under the epsilon-greedy behaviour,
    then ``draws`` times draws ``k`` of the ``n`` agents (their ``(s_i, a_i, s_i')``; agent 1 the
    first drawn, the ``k - 1`` others as their (state, action) composition ``zc`` and next-state
    composition ``c'``) and updates ``Q[s_g, s_1, rank(zc), a_1, a_g] += alpha (r_Delta + gamma
    V[s_g', s_1', rank(c')] - Q)``, with ``r_Delta`` of eq. (6) (plus the sampled agents' reward
    noise, Theorem 0.13, on a noisy system), ``V`` Algorithm 2's value table (the max of eq. 9)
    and ``alpha = 1 / (1 + N(e))^omega``, ``N(e)`` the entry's earlier updates. From ``Q = 0``.
    Its fixed point is ``Q_k*`` of the exact operator (eq. 12), for every ``k <= n`` (module
    docstring).

    Parameters
    ----------
    system : the cooperative system (its ``gamma`` is validated there, in (0, 1)).
    k : agents per subsystem sample, ``1 <= k <= n``.
    n : agents of the system the trajectory runs, ``k <= n <= 2**53`` (agents are drawn by one
        uniform each, exact up to ``2**53``).
    steps : environment steps, ``>= 1``.
    epsilon : exploration probability of every agent, in ``[0, 1]`` (1: uniform random actions).
    omega : step-size exponent, in ``(1/2, 1]`` (Robbins-Monro: ``sum alpha = inf``,
        ``sum alpha^2 < inf``).
    seed : key of the random streams, in ``[0, 2**63)``.
    draws : subsystem samples (``k``-subsets, each one update) per environment step, ``>= 1``.
    s_g, counts : the start state (global state; agents per local state, summing to ``n``).
        ``None``: ``s_g = 0``; ``counts`` as even as possible, ``n // S_l`` per state and one
        more in each of the ``n % S_l`` lowest states. Not with ``restart``.
    restart, initial : episodes. ``restart=H`` draws the state afresh from ``initial`` at steps
        ``0, H, 2H, ...``: ``s_g ~ initial.p_g`` and every agent's local state i.i.d. ``~
        initial.p_l`` (an :func:`smfq_lib.execute.iid_initial`; ``None``: uniform). A single
        trajectory never returns to states only a start can be in (e.g. an agent outside the
        box's reach, :func:`~smfq_lib.model.examples.two_zone_exploration`), so its ``Q`` there
        stays 0; restarts visit them.
    progress : a tqdm bar over the steps. memory_budget : bytes (None: half the available
        memory); the tables (:func:`online_bytes`) are refused above it.

    Returns
    -------
    SubsampledQ with ``algorithm="mean_field"``, ``solver="online"``, ``m=None`` (no fixed
    samples), ``steps`` (environment steps) and ``samples`` (``steps * draws`` subsystem samples,
    each one global and ``k`` local transitions observed), ``residuals`` empty; its ``V``,
    ``pi_g``, ``pi_l`` are :func:`~smfq_lib.learning.argmax.mf_argmax`'s of the final ``Q``, and
    ``action_laws(rule)`` reads it under every tie rule, exactly as for :func:`~smfq_lib.learn`.
    """
    return learn_online_steps(
        system, k, n, [steps], epsilon=epsilon, omega=omega, seed=seed, draws=draws, s_g=s_g,
        counts=counts, restart=restart, initial=initial, progress=progress,
        memory_budget=memory_budget,
    )[0]  # fmt: skip


def learn_online_steps(
    system: CooperativeSystem,
    k: int,
    n: int,
    steps,
    *,
    epsilon: float = 0.1,
    omega: float = 0.6,
    seed: int = 0,
    draws: int = 1,
    s_g=None,
    counts=None,
    restart: int | None = None,
    initial=None,
    progress: bool = False,
    memory_budget=None,
) -> list[SubsampledQ]:
    """:func:`learn_online` after each number of environment steps of ``steps`` (increasing
    ints ``>= 1``), from one run: element ``i`` equals ``learn_online(..., steps[i], ...)``
    (the run is sequential and its first ``s`` steps do not depend on how many follow), at the
    cost of the largest alone. Parameters as :func:`learn_online`'s."""
    t0 = time.perf_counter()
    if not isinstance(system, CooperativeSystem):
        raise ValueError(f"system must be a CooperativeSystem; got {type(system).__name__}.")
    n = check_int(
        "n", n, 1, 2**53, fix="n is the number of agents of the system the trajectory runs."
    )
    k = check_int("k", k, 1, fix="k is the subsystem's sample size, 1 <= k <= n.")
    if k > n:
        raise ValueError(
            f"k = {k} exceeds the number of agents n = {n}: the learner samples k of the n "
            "agents. Pass k <= n."
        )
    grid = _steps_grid(steps)
    draws = check_int("draws", draws, 1, fix="draws is the k-samples (updates) per step.")
    epsilon = _check_real("epsilon", epsilon, 0.0, 1.0, False, "the exploration probability")
    omega = _check_real(
        "omega", omega, 0.5, 1.0, True, "the step size 1/(1 + visits)^omega needs 1/2 < omega <= 1"
    )
    seed = check_seed(seed)
    S_g, S_l, A_g, A_l = system.S_g, system.S_l, system.A_g, system.A_l
    if restart is None:
        if initial is not None:
            raise ValueError("initial= is the law of the restarts: pass restart= (steps) too.")
        restart = 0
    else:
        restart = check_int("restart", restart, 1, fix="restart is the steps per episode.")
        if s_g is not None or counts is not None:
            raise ValueError(
                "with restart=, every episode starts from initial=: leave s_g and counts None."
            )
    s_g = validate_index("s_g", 0 if s_g is None else s_g, S_g)
    if counts is None:
        counts = np.full(S_l, n // S_l, dtype=np.int64)
        counts[: n % S_l] += 1
    counts = validate_counts(counts, S_l, n)
    p0_g = _law("initial.p_g", None if initial is None else initial.p_g, S_g)
    p0_l = _law("initial.p_l", None if initial is None else initial.p_l, S_l)
    budget = check_budget(memory_budget)
    check_fits(
        f"learn_online(k={k}): Q, visit counts and law tables",
        online_bytes(system, k),
        budget,
        hint="Use a smaller k.",
    )

    Z_l = S_l * A_l
    Zt = compositions(k - 1, Z_l)
    mr = marginal_ranks(k - 1, S_l, A_l)
    Cs = int(n_compositions(k - 1, S_l))
    members = np.argsort(mr, kind="stable").astype(np.int64)  # ranks r grouped by marginal c
    starts = np.searchsorted(mr[members], np.arange(Cs + 1)).astype(np.int64)
    R = mean_field_reward(system, k, Zt)  # eq. (6)
    Q = np.zeros(R.shape)
    visits = np.zeros(R.shape, dtype=np.int64)
    V = np.empty((S_g, S_l, Cs))
    pi_g = np.empty((S_g, S_l, Cs), dtype=np.int64)
    pi_l = np.empty((S_g, S_l, Cs), dtype=np.int64)
    mf_argmax(Q, mr, V, pi_g, pi_l)
    prob_g = np.full((S_g, S_l, Cs, A_g), epsilon / A_g)
    prob_l = np.full((S_g, S_l, Cs, A_l), epsilon / A_l)
    idx = np.indices((S_g, S_l, Cs))
    prob_g[idx[0], idx[1], idx[2], pi_g] += 1.0 - epsilon
    prob_l[idx[0], idx[1], idx[2], pi_l] += 1.0 - epsilon
    tables = policy_tables(k, S_l)
    noisy = system.reward_noise is not None
    w = system.reward_noise
    # writable copies with or without noise: one kernel signature, not one per read-only flag
    w_g = np.array(np.broadcast_to(w.w_g if noisy else 0.0, (S_g, A_g)), np.float64, order="C")
    w_l = np.array(np.broadcast_to(w.w_l if noisy else 0.0, (S_l, S_g, A_l)), np.float64, order="C")
    state = np.array([s_g, 0], dtype=np.int64)
    st = np.array([stream_key(seed, 0), 0], dtype=np.uint64)
    nst = np.array([stream_key(seed, 1), 0], dtype=np.uint64)
    scratch = scratch_for(k, S_l)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=grid[-1], desc=f"learn_online k={k} n={n}", unit="step")
    done = 0
    out = []
    for target in grid:
        while done < target:
            chunk = min(_CHUNK, target - done)
            _online_kernel(
                system.P_g, system.P_l, R, Q, visits, V, pi_g, pi_l, prob_g, prob_l, mr, members,
                starts, *tables, scratch, system.gamma, epsilon, omega, draws, chunk, state,
                counts, st, nst, noisy, w_g, w_l, restart, p0_g, p0_l,
            )  # fmt: skip
            done += chunk
            if bar is not None:
                bar.update(chunk)
        out.append(_result(system, Q, V.shape, mr, visits, k, n, done, epsilon, omega, draws,
                           restart, seed, time.perf_counter() - t0))  # fmt: skip
    if bar is not None:
        bar.close()
    return out


def _steps_grid(steps) -> list[int]:
    """``steps`` as a list of increasing ints ``>= 1`` (ValueError naming the fix)."""
    if isinstance(steps, str) or not hasattr(steps, "__iter__"):
        raise ValueError(f"steps must be a sequence of step counts; got {steps!r}.")
    grid = [check_int("steps", s, 1, fix="steps are numbers of environment steps.") for s in steps]
    if not grid or any(b <= a for a, b in zip(grid, grid[1:], strict=False)):
        raise ValueError(f"steps must be a non-empty increasing sequence; got {list(steps)!r}.")
    return grid


def _result(system, Q, v_shape, mr, visits, k, n, steps, epsilon, omega, draws, restart, seed,
            seconds):  # fmt: skip
    """The :class:`SubsampledQ` of the table ``Q`` after ``steps`` steps (copied: the run goes
    on), its value and greedy tables (shape ``v_shape``) by
    :func:`~smfq_lib.learning.argmax.mf_argmax`."""
    Q = Q.copy()
    V = np.empty(v_shape)
    pi_g = np.empty(V.shape, dtype=np.int64)
    pi_l = np.empty(V.shape, dtype=np.int64)
    mf_argmax(Q, mr, V, pi_g, pi_l)
    reached = int(np.count_nonzero(visits))
    return SubsampledQ(
        k=k,
        m=None,
        algorithm="mean_field",
        reason=(
            f"online (no generative oracle): {format(steps, ',')} steps of n = {n} agents, "
            f"epsilon = {epsilon}, omega = {omega}, {draws} sample(s) per step, "
            + (f"restarts every {restart} steps; " if restart else "one trajectory; ")
            + f"{reached} of {Q.size} entries visited"
        ),
        Q=Q,
        V=V,
        pi_g=pi_g,
        pi_l=pi_l,
        residuals=np.zeros(0),
        seconds=seconds,
        seed=seed,
        solver="online",
        system_fingerprint=system.fingerprint,
        steps=steps,
        samples=steps * draws,
    )
