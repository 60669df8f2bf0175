"""Algorithm 3 (SUBSAMPLE-MFQ: Execution) on ``n`` agents: two executors of one process.

* :func:`rollout_agents` is the literal algorithm. Each step the global agent draws ``Delta``,
  ``k`` of the ``n`` agents uniformly without replacement (Floyd's algorithm, O(k)), and reads
  ``a_g = pi_g[s_g, s_1, rank(c)]`` with ``s_1`` the lowest state present in the sample and ``c``
  the sample's state counts minus one agent in ``s_1`` (the canonical representative of
  :mod:`smfq_lib.policy`); every local agent ``i`` draws ``k - 1`` of the other ``n - 1`` and
  reads ``a_i = pi_l[s_g, s_i, rank(c_i)]``; the stage reward is eq. (3) on all ``n`` agents;
  ``s_g' ~ P_g[s_g, a_g]`` (eq. 1) and ``s_i' ~ P_l[s_i, s_g, a_i]`` (eq. 2) by inverse CDF.
  Cost O(n k) per step.
* :func:`rollout_counts` runs the same process in distribution on the sufficient statistic
  ``(s_g, counts)``: ``a_g ~ p_g`` and, per local state ``s``, the action histogram of its
  ``counts[s]`` agents ``~ Multinomial(counts[s], p_l[s])`` (the agents' samples are independent,
  so their actions are i.i.d. given the state; ``p_g``, ``p_l`` from eq. (10), (11) via
  :func:`smfq_lib.policy.action_distributions_into`); per (state, action) cell the next states
  ``~ Multinomial(n_sa, P_l[s, s_g, a])``. Cost per step independent of ``n``.

Both run many rollouts in parallel (chunks of rollouts on ``numba.get_num_threads()`` threads,
through ``nogil`` kernels: see :func:`run_chunks`) and return a :class:`Rollouts`.

Random numbers. Every rollout has its own stream, keyed by a 64-bit splitmix64 hash of
``(seed, rollout index)``, and runs on one thread from start to end, so its numbers depend only on
``(seed, rollout)``: results are identical whatever ``NUMBA_NUM_THREADS`` is, whatever the
chunking used for progress reporting, and whatever the number of rollouts run beside it. The
agent-level kernel draws from a sequential splitmix64 generator started at that key (fast: one
64-bit hash per number); the count-level kernel needs binomials and uses Numba's ``np.random``
(per-thread Mersenne Twister) re-seeded at the start of every rollout with the key's low 32 bits.
Uniform integers in ``[0, m)`` are ``floor(U * m)`` with a 53-bit double ``U`` (bias below
``m / 2**53``). Initial states drawn from a distribution ``s_0`` are sampled in NumPy
(``default_rng((seed, ...))``) before the kernels run.

Aggregate reward (``system.aggregate``): kernels record ``s_g``, ``a_g`` and
``x = sum_i phi[s_i, a_i]`` per step; the wrapper adds ``rho(s_g, a_g, x / n)`` afterwards.

Stochastic rewards (``system.reward_noise``, Theorem 0.13): the realised stage reward is eq. (3)
with every component drawn, ``r_g[s_g, a_g] + w_g[s_g, a_g] xi + (1/n) sum_i (r_l[s_i, s_g, a_i]
+ w_l[s_i, s_g, a_i] xi_i)``, with independent signs ``xi, xi_i = +-1`` (probability 1/2). The
agent-level kernel draws one sign per agent, literally; the count-level kernel draws, per
(state, action) cell with ``n_sa`` agents, the exact sum of their signs ``2 Binomial(n_sa, 1/2) -
n_sa``. The signs come from a second stream per rollout, keyed by a hash of the rollout's key
(so again a function of ``(seed, rollout)`` only), and the count-level kernel draws them after the
rollout's trajectory: the noise never changes the trajectory (states, actions, counts), only the
rewards, by an additive zero-mean term (common random numbers: with widths 0 the numbers are the
noiseless ones bit for bit). The expected return is unchanged (linearity of expectation), so
:mod:`smfq_lib.evaluate` computes the exact value with the mean rewards.

Returns are truncated at ``horizon``: ``sum_{t < horizon} gamma^t r_t`` (Algorithm 3, line 11);
pick ``horizon`` with ``gamma**horizon * max|r| / (1 - gamma)`` negligible to estimate ``V``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit

from smfq_lib.combinatorics import binom, n_compositions, unrank
from smfq_lib.policy import (
    action_distributions_into,
    policy_tables,
    validate_counts,
    validate_index,
    validate_policy,
)
from smfq_lib.rng import next_uniform, splitmix64_array
from smfq_lib.system import CooperativeSystem

__all__ = [
    "IIDInitial",
    "Rollouts",
    "count_state_weights",
    "iid_initial",
    "rollout_agents",
    "rollout_counts",
    "run_chunks",
]

# samples of at most this size are de-duplicated by a linear scan, larger ones by a stamp array
_SCAN_MAX = 24


# --------------------------------------------------------------------------------------------
# results and initial distributions
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Rollouts:
    """Outcome of ``R`` rollouts of Algorithm 3 over ``H`` steps.

    ``rewards[r, t]``: stage reward of eq. (3) (plus the aggregate term) at step ``t``, realised
    (with the reward noise of Theorem 0.13 when the system has one);
    ``returns[r] = sum_t gamma^t rewards[r, t]``; ``s_g[r, t]``, ``a_g[r, t]``: the global state
    and action at step ``t``; ``counts[r, t, s]``: agents in local state ``s`` at step ``t``
    (only with ``record_counts=True``, else ``None``).
    """

    rewards: np.ndarray
    returns: np.ndarray
    s_g: np.ndarray
    a_g: np.ndarray
    counts: np.ndarray | None
    gamma: float
    n: int
    k: int
    seed: int
    executor: str

    @property
    def rollouts(self) -> int:
        return self.rewards.shape[0]

    @property
    def horizon(self) -> int:
        return self.rewards.shape[1]

    def mean(self) -> float:
        """Mean discounted return over the rollouts (a Monte Carlo estimate of ``V``)."""
        return float(self.returns.mean())

    def sem(self) -> float:
        """Standard error of :meth:`mean` (sample standard deviation / sqrt(R); 0 if R = 1)."""
        R = self.returns.shape[0]
        return float(self.returns.std(ddof=1) / np.sqrt(R)) if R > 1 else 0.0

    def mean_rewards(self) -> np.ndarray:
        """Per-step reward averaged over rollouts, shape ``(horizon,)``."""
        return self.rewards.mean(axis=0)

    def __repr__(self) -> str:
        return (
            f"Rollouts({self.executor}, n={self.n}, k={self.k}, rollouts={self.rollouts}, "
            f"horizon={self.horizon}, mean return={self.mean():.6g} +- {self.sem():.2g})"
        )


@dataclass(frozen=True, eq=False)
class IIDInitial:
    """Initial distribution ``s_0``: ``s_g ~ p_g`` and each local state i.i.d. ``~ p_l``."""

    p_g: np.ndarray
    p_l: np.ndarray


def iid_initial(system: CooperativeSystem, p_g=None, p_l=None) -> IIDInitial:
    """An i.i.d. initial distribution (uniform over states by default), for ``initial=``."""
    out = []
    for name, p, size in (("p_g", p_g, system.S_g), ("p_l", p_l, system.S_l)):
        if p is None:
            p = np.full(size, 1.0 / size)
        p = np.asarray(p, dtype=np.float64)
        if p.shape != (size,) or not np.all(np.isfinite(p)) or p.min() < 0:
            raise ValueError(f"{name} must be a non-negative vector of length {size}; got {p!r}.")
        if abs(p.sum() - 1.0) > 1e-9:
            raise ValueError(f"{name} must sum to 1; got sum {p.sum()!r}. Normalise it.")
        out.append(p / p.sum())
    return IIDInitial(out[0], out[1])


def count_state_weights(system: CooperativeSystem, n: int, initial) -> np.ndarray:
    """``initial`` as weights over the count states, shape ``(S_g, C(n, S_l))`` (rank order).

    ``initial`` is an :class:`IIDInitial` (converted exactly: ``p_g[s_g] * Multinomial(counts;
    n, p_l)``) or an array of weights of shape ``(S_g, C)`` or ``(S_g * C,)``, non-negative,
    summing to 1.
    """
    from smfq_lib.combinatorics import compositions, multinomial_pmf

    C = n_compositions(n, system.S_l)
    if isinstance(initial, IIDInitial):
        comps = compositions(n, system.S_l)
        pc = np.array([multinomial_pmf(c, initial.p_l) for c in comps])
        return initial.p_g[:, None] * pc[None, :]
    try:
        w = np.asarray(initial, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "initial must be None, an IIDInitial (see iid_initial) or an array of weights over "
            f"the count states; got {type(initial).__name__}."
        ) from None
    if w.shape not in ((system.S_g, C), (system.S_g * C,)):
        raise ValueError(
            f"initial weights must have shape (S_g, C(n, S_l)) = ({system.S_g}, {C}) or "
            f"({system.S_g * C},), indexed [s_g, rank(counts)]; got {w.shape}."
        )
    if not np.all(np.isfinite(w)) or w.min() < 0 or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"initial weights must be non-negative and sum to 1; got sum {w.sum()!r}.")
    return (w / w.sum()).reshape(system.S_g, C)


def _rollout_seeds(seed: int, rollouts: int) -> np.ndarray:
    """64-bit keys of the rollouts (uint64): splitmix64 of (seed, rollout index)."""
    with np.errstate(over="ignore"):
        x = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        x = x + np.arange(rollouts, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03)
    return splitmix64_array(x)


def _initial_states(system, n, s_g, counts, initial, local_states, rollouts, seed, agent_level):
    """Per-rollout initial ``(s_g (R,), counts (R, S_l))`` and the optional agent vector."""
    S_l = system.S_l
    if initial is not None:
        if s_g is not None or counts is not None or local_states is not None:
            raise ValueError(
                "pass either a start state (s_g, counts or local_states) or initial=, not both: "
                "with initial=, set s_g=None and counts=None."
            )
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED1])
        if isinstance(initial, IIDInitial):
            if initial.p_g.shape != (system.S_g,) or initial.p_l.shape != (S_l,):
                raise ValueError("initial does not match the system; build it with iid_initial.")
            sg0 = rng.choice(system.S_g, size=rollouts, p=initial.p_g).astype(np.int64)
            c0 = rng.multinomial(n, initial.p_l, size=rollouts).astype(np.int64)
        else:
            w = count_state_weights(system, n, initial)
            C = w.shape[1]
            idx = rng.choice(w.size, size=rollouts, p=w.ravel())
            sg0 = (idx // C).astype(np.int64)
            c0 = np.stack([unrank(int(j % C), n, S_l) for j in idx]).astype(np.int64)
        return sg0, np.ascontiguousarray(c0), None
    if s_g is None:
        raise ValueError("s_g is None: give the initial global state or initial=.")
    s_g = validate_index("s_g", s_g, system.S_g)
    loc = None
    if local_states is not None:
        loc = np.asarray(local_states)
        if loc.shape != (n,) or not np.issubdtype(loc.dtype, np.integer):
            raise ValueError(
                f"local_states must be an integer vector of length n = {n}; got shape "
                f"{loc.shape}, dtype {loc.dtype}."
            )
        if loc.min() < 0 or loc.max() >= S_l:
            raise ValueError(f"local_states must hold codes in [0, S_l = {S_l}).")
        loc = np.ascontiguousarray(loc, dtype=np.int64)
        c_loc = np.bincount(loc, minlength=S_l).astype(np.int64)
        if counts is not None and not np.array_equal(validate_counts(counts, S_l, n), c_loc):
            raise ValueError(
                "counts disagrees with local_states; pass counts=None with local_states."
            )
        counts = c_loc
        if not agent_level:
            loc = None  # the count-level executor needs the counts only
    elif counts is None:
        raise ValueError("counts is None: give the initial counts, local_states= or initial=.")
    c = validate_counts(counts, S_l, n)
    return np.full(rollouts, s_g, np.int64), np.tile(c, (rollouts, 1)), loc


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _inverse_cdf(cdf, u):
    """Index ``j`` with ``cdf[j-1] <= u < cdf[j]`` (``cdf`` normalised, last entry 1)."""
    j = 0
    last = cdf.shape[0] - 1
    while j < last and u >= cdf[j]:
        j += 1
    return j


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


@njit(cache=True)
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
        m += 1
        idx = t if t < skip else t + 1
        c[s[idx]] += 1


@njit(cache=True, nogil=True)
def _agent_kernel(
    lo, hi, cdf_g, cdf_l, r_g, r_l, phi, pi_g, pi_l, k, n, B, sg0, counts0, local0, seeds,
    rewards, xs, sgs, ags, counts_tr, noisy, w_g, w_l, nseeds,
):  # fmt: skip
    """Rollouts ``lo .. hi-1`` of the literal Algorithm 3, each on its own seeded stream.

    With ``noisy``: reward noise (Theorem 0.13), one sign per agent and one for the global
    reward per step, from the rollout's second stream ``nseeds[r]``."""
    H = rewards.shape[1]
    S_l = counts0.shape[1]
    record = counts_tr.shape[1] > 0
    st = np.zeros(1, np.uint64)
    st2 = np.zeros(1, np.uint64)
    for r in range(lo, hi):
        st[0] = seeds[r]
        if noisy:
            st2[0] = nseeds[r]
        s = np.empty(n, np.int64)
        s_next = np.empty(n, np.int64)
        if local0.shape[0] == n:
            s[:] = local0
        else:
            pos = 0
            for q in range(S_l):
                for _ in range(counts0[r, q]):
                    s[pos] = q
                    pos += 1
        mark = np.zeros(n if k > _SCAN_MAX else 1, np.int64)
        sel = np.empty(k, np.int64)
        c = np.zeros(S_l, np.int64)
        cnt = np.zeros(S_l, np.int64)
        stamp = 0
        s_g = sg0[r]
        for t in range(H):
            # global agent: Delta ~ U(C([n], k)), canonical s_1 = lowest state present
            stamp += 1
            _draw_counts(s, n, k, n, c, sel, mark, stamp, st)
            s1 = 0
            while c[s1] == 0:
                s1 += 1
            c[s1] -= 1
            a_g = pi_g[s_g, s1, _rank_table(B, c, k - 1)]
            rew_l = 0.0
            noise_l = 0.0
            x = 0.0
            cnt[:] = 0
            for i in range(n):
                si = s[i]
                cnt[si] += 1
                # local agent i: Delta_i ~ U(C([n] minus i, k-1))
                stamp += 1
                _draw_counts(s, n - 1, k - 1, i, c, sel, mark, stamp, st)
                a = pi_l[s_g, si, _rank_table(B, c, k - 1)]
                rew_l += r_l[si, s_g, a]
                if noisy:  # r_l + w_l xi_i, xi_i = +-1
                    xi = 1.0 if next_uniform(st2) < 0.5 else -1.0
                    noise_l += w_l[si, s_g, a] * xi
                x += phi[si, a]
                s_next[i] = _inverse_cdf(cdf_l[si, s_g, a], next_uniform(st))
            rewards[r, t] = r_g[s_g, a_g] + rew_l / n
            if noisy:  # r_g + w_g xi
                xi = 1.0 if next_uniform(st2) < 0.5 else -1.0
                rewards[r, t] += w_g[s_g, a_g] * xi + noise_l / n
            xs[r, t] = x
            sgs[r, t] = s_g
            ags[r, t] = a_g
            if record:
                counts_tr[r, t, :] = cnt
            s_g = _inverse_cdf(cdf_g[s_g, a_g], next_uniform(st))
            s, s_next = s_next, s


@njit(cache=True, nogil=True)
def _count_kernel(
    lo, hi, P_g, P_l, r_g, r_l, phi, pi_g, pi_l, n, comps_km1, comps_k, ck_s1, ck_rank, sg0,
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
                p_g, p_l, pi_g, pi_l, s_g, counts, comps_km1, comps_k, ck_s1, ck_rank, work
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


# --------------------------------------------------------------------------------------------
# Python wrappers
# --------------------------------------------------------------------------------------------
def _validate_common(system, policy, n, horizon, rollouts, seed):
    if not isinstance(system, CooperativeSystem):
        raise ValueError(
            f"system must be a smfq_lib.CooperativeSystem; got {type(system).__name__}."
        )
    for name, v, lo in (("n", n, 1), ("horizon", horizon, 1), ("rollouts", rollouts, 1)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}.")
    k, pi_g, pi_l = validate_policy(policy, system.S_g, system.S_l, system.A_g, system.A_l, n)
    return int(n), int(horizon), int(rollouts), int(seed), k, pi_g, pi_l


_NOISE_TAG = np.uint64(0x13_0D15_E5EE_D000)


def _noise(system, seeds):
    """``(noisy, w_g, w_l, nseeds)`` for the kernels: the half-widths of ``system.reward_noise``
    and every rollout's second key, a splitmix64 hash of its key and a tag."""
    if system.reward_noise is None:
        return False, np.zeros((1, 1)), np.zeros((1, 1, 1)), np.zeros(0, np.uint64)
    x = splitmix64_array(seeds ^ _NOISE_TAG)
    w = system.reward_noise
    w_g = np.ascontiguousarray(w.w_g, dtype=np.float64)
    w_l = np.ascontiguousarray(w.w_l, dtype=np.float64)
    return True, w_g, w_l, x


def _phi(system):
    if system.aggregate is None:
        return np.zeros((system.S_l, system.A_l))
    return np.ascontiguousarray(system.aggregate.phi, dtype=np.float64)


def run_chunks(call, total: int, progress: bool = False, what: str = "", min_chunks: int = 1):
    """Run ``call(lo, hi)`` over index chunks of ``range(total)`` on ``numba.get_num_threads()``
    Python threads (the kernels are ``nogil``, so the threads run in parallel).

    This is the parallel loop over rollouts (and over count-chain rows in
    :mod:`smfq_lib.evaluate`); it is used instead of ``prange`` because ``parallel=True`` cost
    several seconds of extra compilation per kernel here, for the same speed. With ``progress``
    a tqdm bar advances per finished chunk. Results must not depend on the chunking (each
    rollout seeds its own stream).
    """
    threads = max(1, min(numba.get_num_threads(), total))
    n_chunks = min(total, max(min_chunks, 4 * threads if threads > 1 else 1, 20 if progress else 1))
    edges = np.linspace(0, total, n_chunks + 1).astype(np.int64)
    chunks = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=what, unit="rollout")
        except ImportError:  # pragma: no cover
            bar = None
    try:
        if threads == 1:
            for a, b in chunks:
                call(a, b)
                if bar is not None:
                    bar.update(b - a)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = {pool.submit(call, a, b): b - a for a, b in chunks}
                for fut in as_completed(futures):
                    fut.result()
                    if bar is not None:
                        bar.update(futures[fut])
    finally:
        if bar is not None:
            bar.close()


def _finish(system, n, k, seed, executor, rewards, xs, sgs, ags, counts_tr, record):
    if system.aggregate is not None:
        rewards = rewards + system.aggregate_reward(sgs, ags, xs / n)
    disc = system.gamma ** np.arange(rewards.shape[1])
    return Rollouts(
        rewards=rewards,
        returns=rewards @ disc,
        s_g=sgs,
        a_g=ags,
        counts=counts_tr if record else None,
        gamma=system.gamma,
        n=n,
        k=k,
        seed=seed,
        executor=executor,
    )


def _run(kernel_call, system, n, k, seed, R, H, executor, record, progress):
    S_l = system.S_l
    seeds = _rollout_seeds(seed, R)
    rewards = np.zeros((R, H))
    xs = np.zeros((R, H))
    sgs = np.zeros((R, H), np.int64)
    ags = np.zeros((R, H), np.int64)
    counts_tr = np.zeros((R, H, S_l) if record else (R, 0, S_l), np.int64)
    noise = _noise(system, seeds)
    run_chunks(
        lambda a, b: kernel_call(a, b, seeds, rewards, xs, sgs, ags, counts_tr, *noise),
        R,
        progress,
        f"rollout_{executor}",
    )
    return _finish(system, n, k, seed, executor, rewards, xs, sgs, ags, counts_tr, record)


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
    record_counts: bool = False,
    progress: bool = False,
) -> Rollouts:
    """Algorithm 3, literally, on ``n`` agents: ``rollouts`` independent runs of ``horizon`` steps.

    ``policy``: any object with ``k``, ``pi_g``, ``pi_l`` (e.g. a ``SubsampledQ``). Start state:
    ``(s_g, counts)`` (agents laid out in state order; the process is exchangeable), or
    ``local_states`` (a full vector of ``n`` local states, with ``s_g``), or ``initial=`` (an
    :class:`IIDInitial` from :func:`iid_initial`, or weights over the count states; then
    ``s_g = counts = None``). Cost O(n k) per step per rollout; rollouts run in parallel.
    """
    n, H, R, seed, k, pi_g, pi_l = _validate_common(system, policy, n, horizon, rollouts, seed)
    sg0, c0, loc = _initial_states(
        system, n, s_g, counts, initial, local_states, R, seed, agent_level=True
    )
    if loc is None:
        loc = np.zeros(0, np.int64)
    cdf_g = np.cumsum(system.P_g, axis=-1)
    cdf_g /= cdf_g[..., -1:]
    cdf_l = np.cumsum(system.P_l, axis=-1)
    cdf_l /= cdf_l[..., -1:]
    S_l = system.S_l
    B = np.array([[binom(t + p, p) for p in range(S_l)] for t in range(k + 1)], dtype=np.int64)
    phi = _phi(system)

    def call(a, b, seeds, rew, xs, sgs, ags, ctr, noisy, w_g, w_l, nseeds):
        _agent_kernel(
            a, b, cdf_g, cdf_l, system.r_g, system.r_l, phi, pi_g, pi_l, k, n, B, sg0, c0,
            loc, seeds, rew, xs, sgs, ags, ctr, noisy, w_g, w_l, nseeds,
        )  # fmt: skip

    return _run(call, system, n, k, seed, R, H, "agents", record_counts, progress)


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
) -> Rollouts:
    """Algorithm 3 in distribution on ``(s_g, counts)``: same law as :func:`rollout_agents`.

    Arguments as :func:`rollout_agents` (``local_states`` is reduced to its counts). The cost of
    a step is ``O(C(k, S_l) + S_l C(k-1, S_l) + S_l A_l S_l)`` binomial draws and pmf terms,
    independent of ``n``.
    """
    n, H, R, seed, k, pi_g, pi_l = _validate_common(system, policy, n, horizon, rollouts, seed)
    sg0, c0, _ = _initial_states(
        system, n, s_g, counts, initial, local_states, R, seed, agent_level=False
    )
    tables = policy_tables(k, system.S_l)
    phi = _phi(system)

    def call(a, b, seeds, rew, xs, sgs, ags, ctr, noisy, w_g, w_l, nseeds):
        _count_kernel(
            a, b, system.P_g, system.P_l, system.r_g, system.r_l, phi, pi_g, pi_l, n, *tables,
            sg0, c0, seeds, rew, xs, sgs, ags, ctr, noisy, w_g, w_l, nseeds,
        )  # fmt: skip

    return _run(call, system, n, k, seed, R, H, "counts", record_counts, progress)
