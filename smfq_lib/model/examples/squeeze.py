"""Example 0.1 of the paper (Gaussian squeeze) as a
:class:`~smfq_lib.model.system.CooperativeSystem`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from smfq_lib._utils.checks import check_gamma
from smfq_lib.model.examples._checks import float_arg, int_arg
from smfq_lib.model.system import Aggregate, CooperativeSystem

__all__ = ["GaussianSqueezeRho", "gaussian_squeeze"]


@dataclass(frozen=True)
class GaussianSqueezeRho:
    """``rho(s_g, a_g, xbar) = xbar * exp(-(xbar - mu)^2 / sigma^2)``, vectorized over ``xbar``.

    A module-level class (not a closure) so that systems pickle with the standard library, e.g.
    when a sweep ships them to Dask workers; equal parameters compare equal (used by
    :func:`with_types`).
    """

    mu: float
    sigma: float

    def __call__(self, s_g, a_g, xbar):
        xbar = np.asarray(xbar, dtype=np.float64)
        return xbar * np.exp(-(((xbar - self.mu) / self.sigma) ** 2))

    @property
    def argmax(self) -> float:
        """Maximiser over ``xbar >= 0``: ``(mu + sqrt(mu^2 + 2 sigma^2)) / 2`` (> ``mu``)."""
        return 0.5 * (self.mu + math.sqrt(self.mu**2 + 2.0 * self.sigma**2))


def gaussian_squeeze(
    loads: int = 10,
    mu: float = 4.0,
    sigma: float = 2.0,
    gamma: float = 0.9,
    p_hold: float = 0.0,
) -> CooperativeSystem:
    """Example 0.1 (Gaussian squeeze): ``n`` traffic controllers choose how many vehicles to send.

    Sizes at the default arguments: S_g=1, S_l=10, A_g=1, A_l=10, Z_l=100
    (in general ``S_l = A_l = loads``, ``Z_l = loads^2``).

    Modelling choices:

    * **Local actions.** ``a_i in {0, ..., loads-1}``, the load agent ``i`` sends next (the paper's
      ``a_i in {0, ..., 9}``: ``loads=10``).
    * **Local state.** The load the agent currently sends. The paper's example is a static game
      with no state; we give each agent its last load as state so that a sample of ``k`` agents
      tells the others what the population is doing (this is what SUBSAMPLE-MFQ's policy reads).
      Transition: ``s_i' = a_i`` with probability ``1 - p_hold``, and ``s_i' = s_i`` (the
      controller's command failed, the load stays) with probability ``p_hold``.
      Default ``p_hold = 0``: the example stays faithful (the load sent is the load chosen) and the
      dynamics are deterministic, so the empirical operator of eq. (8)-(9) equals the exact one for
      every ``m``; pass ``p_hold > 0`` for stochastic dynamics (non-zero Bellman noise).
    * **Reward.** Only the aggregate term, through :class:`~smfq_lib.model.system.Aggregate`:
      ``phi[s, a] = a`` (the load sent) and ``rho(s_g, a_g, xbar) = xbar exp(-(xbar-mu)^2/sigma^2)``
      of the mean load ``xbar = (1/n) sum_i a_i``. ``mu`` and ``sigma`` are PER AGENT (a mean
      load), so instances with different ``n`` are comparable. The paper's objective of the total
      load ``x = n xbar`` is ``r(x) = x exp(-(x - mu_p)^2 / sigma_p^2)``; with ``mu_p = n mu`` and
      ``sigma_p = n sigma`` it equals ``n * rho(xbar)``: our reward is the paper's divided by ``n``.
      ``rho`` is maximised at ``xbar* = (mu + sqrt(mu^2 + 2 sigma^2)) / 2``, slightly above ``mu``
      (the Gaussian factor alone peaks at ``mu``). Defaults ``mu = 4, sigma = 2``: mean-field
      Q-learning's Gaussian squeeze (Yang et al. 2018) uses ``mu_p = 400, sigma_p = 200``, which is
      this at ``n = 100``. ``Aggregate.bound`` is ``max rho`` over ``xbar in [0, loads-1]``.
    * **Decomposed part.** ``r_g = r_l = 0``, so ``r_tilde = 0``. Theorem 0.11's assumptions
      (Assumption 0.4, decomposition (3)) cover the decomposed part only; the aggregate reward is
      outside them, and ``r_tilde`` says nothing about it (see docs/design.md §9 on ``k = n``).
    * **Global agent.** Trivial: ``S_g = A_g = 1`` (``P_g = [[[1]]]``). Example 0.1 has no global
      agent; a one-state, one-action global agent keeps the example faithful within the model.

    Table sizes grow fast with ``loads`` (``Z_l = loads^2``); small ``loads`` (3-4) suit quick runs.

    ``gamma``: the discount factor.
    """
    loads = int_arg("loads", loads, 2, "A single load level leaves nothing to decide.")
    mu = float_arg(
        "mu", mu, 0.0, loads - 1.0, fix="mu is the target mean load PER AGENT (not n times it)."
    )
    sigma = float_arg("sigma", sigma, 0.0, open_lo=True)
    gamma = check_gamma(gamma)
    p_hold = float_arg("p_hold", p_hold, 0.0, 1.0, open_hi=True)

    L = loads
    P_l = np.zeros((L, 1, L, L))
    for s in range(L):
        for a in range(L):
            P_l[s, 0, a, a] += 1.0 - p_hold
            P_l[s, 0, a, s] += p_hold
    phi = np.tile(np.arange(L, dtype=np.float64), (L, 1))  # phi[s, a] = a
    rho = GaussianSqueezeRho(mu, sigma)
    bound = float(rho(0, 0, min(rho.argmax, L - 1.0)))
    aggregate = Aggregate(
        phi, rho, bound=bound, name=f"gaussian_squeeze(mu={mu:g}, sigma={sigma:g})"
    )
    return CooperativeSystem(
        P_g=np.ones((1, 1, 1)),
        P_l=P_l,
        r_g=np.zeros((1, 1)),
        r_l=np.zeros((L, 1, L)),
        gamma=gamma,
        labels={
            "S_g": ["none"],
            "A_g": ["none"],
            "S_l": [f"sent {v}" for v in range(L)],
            "A_l": [f"send {v}" for v in range(L)],
        },
        aggregate=aggregate,
    )
