"""What both executors of Algorithm 3 share: per-rollout random streams, the reward noise, the
aggregate term, the chunked run of their kernels, and the result type :class:`Rollouts`.

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

from dataclasses import dataclass

import numpy as np

from smfq_lib.execute.chunks import run_chunks
from smfq_lib.policy import policy_laws
from smfq_lib.rng import splitmix64_array
from smfq_lib.system import CooperativeSystem

__all__ = ["Rollouts", "phi_table", "run_rollouts", "validate_common"]


@dataclass(frozen=True, eq=False)
class Rollouts:
    """Outcome of ``R`` rollouts of Algorithm 3 over ``H`` steps.

    ``rewards[r, t]``: stage reward of eq. (3) (plus the aggregate term) at step ``t``, realised
    (with the reward noise of Theorem 0.13 when the system has one);
    ``returns[r] = sum_t gamma^t rewards[r, t]``; ``s_g[r, t]``, ``a_g[r, t]``: the global state
    and action at step ``t``; ``counts[r, t, s]``: agents in local state ``s`` at step ``t``
    (only with ``record_counts=True``, else ``None``); ``rule``: the tie rule of the executed
    policy's laws (:mod:`smfq_lib.policy`).
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
    rule: str = "first"

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
            f"Rollouts({self.executor}, n={self.n}, k={self.k}, rule={self.rule!r}, "
            f"rollouts={self.rollouts}, horizon={self.horizon}, "
            f"mean return={self.mean():.6g} +- {self.sem():.2g})"
        )


def _rollout_seeds(seed: int, rollouts: int) -> np.ndarray:
    """64-bit keys of the rollouts (uint64): splitmix64 of (seed, rollout index)."""
    with np.errstate(over="ignore"):
        x = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        x = x + np.arange(rollouts, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03)
    return splitmix64_array(x)


def validate_common(system, policy, n, horizon, rollouts, seed, rule):
    """Checked ``(n, horizon, rollouts, seed, laws)``: ``laws`` the
    :class:`~smfq_lib.policy.ActionLaws` of ``policy`` under ``rule``
    (:func:`smfq_lib.policy.policy_laws`)."""
    if not isinstance(system, CooperativeSystem):
        raise ValueError(
            f"system must be a smfq_lib.CooperativeSystem; got {type(system).__name__}."
        )
    for name, v, lo in (("n", n, 1), ("horizon", horizon, 1), ("rollouts", rollouts, 1)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}.")
    laws = policy_laws(policy, rule, system.S_g, system.S_l, system.A_g, system.A_l, n)
    return int(n), int(horizon), int(rollouts), int(seed), laws


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


def phi_table(system):
    if system.aggregate is None:
        return np.zeros((system.S_l, system.A_l))
    return np.ascontiguousarray(system.aggregate.phi, dtype=np.float64)


def _finish(system, n, k, seed, executor, rewards, xs, sgs, ags, counts_tr, record, rule):
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
        rule=rule,
    )


def run_rollouts(kernel_call, system, n, laws, seed, R, H, executor, record, progress):
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
    return _finish(
        system, n, laws.k, seed, executor, rewards, xs, sgs, ags, counts_tr, record, laws.rule
    )
