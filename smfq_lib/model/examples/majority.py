"""A mode the local agents are rewarded for matching: an instance on which ``k`` matters.

The best global action is the majority state of the local agents, which a sample of ``k`` of them
estimates with an error of order ``1/sqrt(k)`` (less, sampling without replacement from ``n``):
the shape of Theorem 0.11's bound.
"""

from __future__ import annotations

import numpy as np

from smfq_lib._utils.checks import check_gamma
from smfq_lib.model.examples._checks import float_arg, int_arg
from smfq_lib.model.system import CooperativeSystem

__all__ = ["majority_mode"]


def majority_mode(
    S: int = 2, flip: float = 0.05, gamma: float = 0.9, switch_cost: float = 0.0
) -> CooperativeSystem:
    """Local agents in sticky states and a global "mode" they are rewarded for matching.

    Sizes at the default arguments: S_g=2, S_l=2, A_g=2, A_l=1, Z_l=2
    (in general ``S_g = S_l = A_g = Z_l = S``, ``A_l = 1``); ``r_tilde = 1 + switch_cost``.

    Modelling choices:

    * **Global agent.** Its state is the current mode ``s_g in {0, ..., S-1}``; its action picks
      the next mode, deterministically: ``P_g[s_g, a_g, a_g] = 1``. Labels ``"mode j"``,
      ``"set mode j"``.
    * **Local agents.** State ``s_i in {0, ..., S-1}``, sticky: it keeps its state with
      probability ``1 - flip`` and moves to each of the ``S - 1`` other states with probability
      ``flip / (S - 1)``, whatever ``s_g``. One (dummy) local action, ``A_l = 1``: the local agents
      do not decide anything; the instance isolates the global agent's decision, the one the
      sample of ``k`` agents informs.
    * **Rewards** (eq. 3). ``r_l[s_i, s_g, 0] = 1[s_i == s_g]`` (an agent earns 1 when it matches
      the mode), ``r_g[s_g, a_g] = -switch_cost * 1[a_g != s_g]`` (default 0: switching modes is
      free). The stage reward is the share of agents matching the mode, minus the switching cost.
    * **Optimal policy** (``switch_cost = 0``). The local dynamics ignore the global agent, so the
      best ``a_g`` maximises the expected share matching the next mode,
      ``E[c_j'] = c_j (1 - flip S/(S-1)) + n flip/(S-1)`` for mode ``j``: the current majority
      (plurality) state, since ``flip < (S-1)/S``. ``V*`` is the discounted sum of these myopic
      optima. Ties in the counts are exact ties of ``V*`` too (permuting the states is a symmetry
      of the system), so every tie-break attains ``V*``.
    * **What ``pi_k^est`` does.** The global agent sets the mode to the majority of its ``k``
      sampled agents (Algorithm 3, eq. 10). When the sample is tied (possible for even ``k``, or
      any ``k >= 2`` with ``S > 2``), the ``k``-agent ``Q`` ties exactly and the tie rule of the
      policy tables decides; under "first maximiser" it is the lowest state, a biased guess, and
      the worst-case gap over start states at even ``k`` exceeds the one at ``k - 1`` (measured
      for every even ``k < n`` at ``S = 2``, ``n = 50, 100, 200``). With a fair coin on ties the
      two would be equal: for ``S = 2``, the majority of ``k = 2j`` samples with a fair coin on
      ties has exactly the law of the majority of the first ``2j - 1`` (by exchangeability, a tie
      leaves the first ``2j - 1`` with either majority with probability 1/2). For even ``n``,
      ``k = n - 1`` is optimal (a sample of ``n - 1`` has the population's majority unless the
      population is tied, where every mode is optimal). ``switch_cost > 0`` breaks sample ties in
      favour of keeping the current mode (and makes the optimal policy hysteretic: it switches
      only for a clear enough majority).
    * **Arguments.** ``S >= 2`` states; ``0 <= flip < (S-1)/S`` (at ``flip = (S-1)/S`` the next
      local state is uniform whatever the current one, nothing is predictable and every policy is
      optimal; above it the majority would predict the next minority); ``switch_cost >= 0``.

    ``gamma``: the discount factor.
    """
    S = int_arg("S", S, 2, "A single state leaves the mode nothing to choose.")
    flip_max = (S - 1) / S
    flip = float_arg(
        "flip",
        flip,
        0.0,
        flip_max,
        open_hi=True,
        fix=f"At flip = (S-1)/S = {flip_max:g} the next local state is uniform whatever the "
        "current one, so the majority predicts nothing.",
    )
    gamma = check_gamma(gamma)
    switch_cost = float_arg("switch_cost", switch_cost, 0.0)

    eye = np.eye(S)
    P_g = np.broadcast_to(eye[None, :, :], (S, S, S)).copy()  # P_g[s_g, a_g, :] = e_{a_g}
    stay = (1.0 - flip) * eye + flip / (S - 1) * (1.0 - eye)  # stay[s, s']
    P_l = np.broadcast_to(stay[:, None, None, :], (S, S, 1, S)).copy()
    r_g = -switch_cost * (1.0 - eye)  # r_g[s_g, a_g]
    r_l = eye[:, :, None].copy()  # r_l[s_i, s_g, 0] = 1[s_i == s_g]
    return CooperativeSystem(
        P_g,
        P_l,
        r_g,
        r_l,
        gamma,
        labels={
            "S_g": [f"mode {j}" for j in range(S)],
            "A_g": [f"set mode {j}" for j in range(S)],
            "S_l": [f"state {j}" for j in range(S)],
            "A_l": ["none"],
        },
    )
