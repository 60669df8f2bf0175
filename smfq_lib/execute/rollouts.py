"""What both executors of Algorithm 3 share: per-rollout random streams, the reward noise, the
discounted return, and the result type :class:`Rollouts`.

Random numbers. Rollout ``r`` of a run with seed ``seed`` (an integer in ``[0, 2**63)``) has the
64-bit key ``stream_key(seed, r)`` (:mod:`smfq_lib._utils.rng`: splitmix64 hashes of the full seed
and of ``r``, combined and hashed again), injective in ``r`` for a fixed seed, so no two rollouts of
a run share a key; keys of different seeds meet only by chance (probability about ``R**2 / 2**64``
for two runs of ``R`` rollouts), not along a fixed offset as a linear mix would. A rollout
runs on one thread from start to end, so its numbers depend only on ``(seed, r)``: results are
identical whatever ``NUMBA_NUM_THREADS`` is, whatever the chunking, and whatever the number of
rollouts run beside it.

* The agent-level kernel draws from a sequential splitmix64 generator started at the key, with
  an odd increment of its own (:func:`smfq_lib._utils.rng.start_sequential`; fast: one 64-bit hash
  per number). Streams with different increments meet only at isolated numbers, never in a shared
  run, as windows of one sequence could.
* The count-level kernel draws ``uniform(key, counter)`` with a counter per rollout
  (:func:`smfq_lib._utils.rng.next_counter_uniform`: 128 bits of input per number, no shifted
  overlaps) and every binomial from those uniforms (:func:`smfq_lib._utils.binomial.binomial`).

Uniform integers in ``[0, m)`` are ``floor(U * m)`` with a 53-bit double ``U`` (bias below
``m / 2**53``). Initial states drawn from a distribution are sampled in NumPy
(``default_rng((seed, ...))``, the full seed) before the kernels run.

Aggregate reward (``system.aggregate``): kernels record ``s_g``, ``a_g`` and
``x = sum_i phi[s_i, a_i]`` per step; the runner adds ``rho(s_g, a_g, x / n)`` afterwards, in
blocks of rollouts fixed by the horizon alone (:mod:`~.run`), so also these numbers do not depend
on the thread count.

Stochastic rewards (``system.reward_noise``, Theorem 0.13): the realised stage reward is eq. (3)
with every component drawn, ``r_g[s_g, a_g] + w_g[s_g, a_g] xi + (1/n) sum_i (r_l[s_i, s_g, a_i]
+ w_l[s_i, s_g, a_i] xi_i)``, with independent signs ``xi, xi_i = +-1`` (probability 1/2). The
agent-level kernel draws one sign per agent, literally; the count-level kernel draws, per
(state, action) cell with ``n_sa`` agents, the exact sum of their signs ``2 Binomial(n_sa, 1/2) -
n_sa``. The signs come from a second stream per rollout, keyed by :func:`noise_key` of the
rollout's key, so the noise never changes the trajectory (states, actions, counts), only the
rewards, by an additive zero-mean term (common random numbers: with widths 0 the numbers are the
noiseless ones bit for bit). The expected return is unchanged (linearity of expectation), so
:mod:`smfq_lib.evaluate` computes the exact value with the mean rewards.

Returns are truncated at ``horizon``: ``sum_{t < horizon} gamma^t r_t`` (Algorithm 3, line 11),
summed in step order (the same bits whatever is kept); pick ``horizon`` with
``gamma**horizon * max|r| / (1 - gamma)`` negligible to estimate ``V``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy import stats

from smfq_lib._utils.rng import splitmix64

__all__ = ["KEEP", "Rollouts", "discounted_returns", "keep_step", "noise_key"]

#: What an executor keeps: per-step arrays and returns, or the returns alone.
KEEP = ("steps", "returns")

_NOISE_TAG = np.uint64(0x13_0D15_E5EE_D000)


@njit(cache=True)
def noise_key(key):
    """The key of a rollout's reward-noise stream: a splitmix64 hash of its key and a tag."""
    return splitmix64(key ^ _NOISE_TAG)


@njit(cache=True)
def keep_step(j, t, rew, x, s_g, a_g, counts, rewards, xs, sgs, ags, counts_tr):
    """Write step ``t`` of a rollout into row ``j`` of the kept arrays: ``rewards``, ``sgs``,
    ``ags`` if they have columns (``keep="steps"`` or the aggregate's blocks), ``xs`` (the
    aggregate's ``x``) and ``counts_tr`` (``record_counts``) likewise."""
    if sgs.shape[1] > 0:
        rewards[j, t] = rew
        sgs[j, t] = s_g
        ags[j, t] = a_g
    if xs.shape[1] > 0:
        xs[j, t] = x
    if counts_tr.shape[1] > 0:
        counts_tr[j, t, :] = counts


@njit(cache=True)
def discounted_returns(rewards, disc, out):
    """``out[j] = sum_t disc[t] rewards[j, t]`` summed in step order (as the kernels do)."""
    for j in range(rewards.shape[0]):
        ret = 0.0
        for t in range(rewards.shape[1]):
            ret += disc[t] * rewards[j, t]
        out[j] = ret


@dataclass(frozen=True, eq=False)
class Rollouts:
    """Outcome of ``rollouts`` runs of Algorithm 3 over ``horizon`` steps.

    Data are fields, statistics are methods: every field is set at construction, and
    :meth:`mean`, :meth:`sem`, :meth:`ci`, :meth:`mean_rewards` compute from them.

    Fields
    ------
    returns : float array (rollouts,)
        Discounted returns ``sum_{t < horizon} gamma^t r_t`` (Algorithm 3, line 11), always kept.
    rewards : float array (rollouts, horizon) or None
        Stage reward of eq. (3) (plus the aggregate term) at step ``t``, realised (with the
        reward noise of Theorem 0.13 when the system has one). ``None`` with ``keep="returns"``.
    s_g, a_g : int64 arrays (rollouts, horizon) or None
        Global state and global action at step ``t``. ``None`` with ``keep="returns"``.
    counts : int64 array (rollouts, horizon, S_l) or None
        Agents per local state at step ``t``; only with ``record_counts=True``, else ``None``.
    gamma : float
        Discount factor of the system.
    n, k : int
        Number of agents and sample size of the executed policy.
    rollouts, horizon : int
        Number of rollouts ``R`` and steps ``H`` per rollout.
    seed : int
        The seed of the run (rollout ``r`` used the streams of ``(seed, r)``).
    executor : str
        ``"agents"`` (:func:`rollout_agents`) or ``"counts"`` (:func:`rollout_counts`).
    rule : str
        Tie rule of the executed policy's laws (:mod:`smfq_lib.learning.policy`).
    keep : str
        ``"steps"`` (per-step arrays kept) or ``"returns"`` (only ``returns``).
    """

    returns: np.ndarray
    rewards: np.ndarray | None
    s_g: np.ndarray | None
    a_g: np.ndarray | None
    counts: np.ndarray | None
    gamma: float
    n: int
    k: int
    rollouts: int
    horizon: int
    seed: int
    executor: str
    rule: str = "first"
    keep: str = "steps"

    def mean(self) -> float:
        """Mean discounted return over the rollouts: the Monte Carlo estimate of ``V`` (eq. 4)
        at the start state, truncated at ``horizon``."""
        return float(self.returns.mean())

    def sem(self) -> float:
        """Standard error of :meth:`mean`: sample standard deviation (``ddof=1``) over
        ``sqrt(rollouts)``; 0 for a single rollout."""
        R = self.returns.shape[0]
        return float(self.returns.std(ddof=1) / np.sqrt(R)) if R > 1 else 0.0

    def ci(self, level: float = 0.95) -> float:
        """Half-width of the Student-t confidence interval for ``V``: the interval is
        ``mean() +- ci(level)``, with ``ci(level) = t_{(1 + level)/2, R - 1} * sem()`` and
        ``t_{q, d}`` the ``q``-quantile of Student's t with ``d`` degrees of freedom (exact
        coverage for normal returns, asymptotically valid otherwise).

        Parameters
        ----------
        level : float
            Confidence level, strictly between 0 and 1. Default 0.95.

        Returns
        -------
        float
            The half-width, in the units of the rewards. Needs ``rollouts >= 2``.
        """
        ok = isinstance(level, float | int) and not isinstance(level, bool)
        if not (ok and 0.0 < level < 1.0):
            raise ValueError(f"level must be a number strictly between 0 and 1; got {level!r}.")
        if self.rollouts < 2:
            raise ValueError(
                "ci needs at least 2 rollouts to estimate the spread; this run has 1. "
                "Run more rollouts."
            )
        return float(stats.t.ppf(0.5 + level / 2, self.rollouts - 1) * self.sem())

    def mean_rewards(self) -> np.ndarray:
        """Per-step reward averaged over the rollouts, shape ``(horizon,)``; needs the per-step
        rewards (``keep="steps"``)."""
        if self.rewards is None:
            raise ValueError(
                "mean_rewards needs the per-step rewards, which this run did not keep "
                "(keep='returns'); run the executor with keep='steps' (the default)."
            )
        return self.rewards.mean(axis=0)

    def __repr__(self) -> str:
        return (
            f"Rollouts({self.executor}, n={self.n}, k={self.k}, rule={self.rule!r}, "
            f"rollouts={self.rollouts}, horizon={self.horizon}, keep={self.keep!r}, "
            f"mean return={self.mean():.6g} +- {self.sem():.2g})"
        )
