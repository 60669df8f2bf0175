"""Stochastic rewards in the sampled learners (Theorem 0.13): the ``m`` reward draws per entry.

With :class:`~smfq_lib.model.system.RewardNoise` attached to the system, the realised global
reward is ``r_g[s_g, a_g] + w_g[s_g, a_g] xi`` and each local agent's is ``r_l[s_i, s_g, a_i] +
w_l[s_i, s_g, a_i] xi_i``, with independent signs ``xi = +-1`` (probability 1/2 each). An oracle
call of the empirical operators (8), (9) then returns, with the next states, a noisy draw of the
surrogate reward ``r_Delta`` of eq. (6); the operator uses the average of the ``m`` draws of the
entry in place of ``r_Delta``:

``R_hat(e) = r_Delta(e) + (1/m) sum_j [ w_g[s_g, a_g] xi_g^j
+ (1/k) sum_{i in Delta} w_l[s_i, s_g, a_i] xi_i^j ]``.

For a mean-field entry ``(s_g, s_1, zc, a_1, a_g)`` of Algorithm 2 the ``k - 1`` others enter
only through the counts ``zc[z]`` of their cells ``z = (s, a)``, and the sum of ``c`` independent
signs is ``2 Binomial(c, 1/2) - c``; so, exactly in distribution,

``R_hat - r_Delta = ( w_g B(m) + (1/k) [ w_l[s_1, s_g, a_1] B(m)
+ sum_z w_l[z_s, s_g, z_a] B(zc[z] m) ] ) / m``,  ``B(c) := 2 Binomial(c, 1/2) - c``,

with independent binomials. Algorithm 1 (eq. 8) does the same per agent ``i = 1..k`` of the
entry's ordered ``s_Delta, a_Delta``. The noise has mean 0 and variance
``(w_g^2 + (1/k^2) sum_{i in Delta} w_l[s_i, s_g, a_i]^2) / m`` per entry.

Fixed draws. Like the next-state samples (docs/design.md §9), the reward draws are made once,
before value iteration, so the empirical operator keeps a fixed point. They come from a NumPy
``Generator`` seeded with ``(seed, NOISE_TAG, algorithm)``, drawn vectorized in fixed-size chunks
of the flat entry order: the same ``seed`` gives the same numbers on any machine and thread
count (NumPy draws serially), and they are independent of the counter-based next-state samples.

The exact operator (``m = None``, eq. 12) is the expectation of the empirical one: it uses the
mean rewards ``r_g``, ``r_l`` and no noise (``E[R_hat] = r_Delta``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["NOISE_TAG", "add_mean_field_noise", "add_tabular_noise", "noise_rng"]

#: Second word of the seed of the reward-noise generator (keeps it apart from other streams).
NOISE_TAG = 0x0013_5EED
#: Entries per vectorized chunk (bounds the temporaries; fixed, so results do not depend on it
#: changing between runs of one version).
_CHUNK = 1 << 16
_ALG_CODE = {"tabular": 1, "mean_field": 2}


def noise_rng(seed: int, algorithm: str) -> np.random.Generator:
    """The reward-noise generator of ``learn(..., seed=seed)`` for ``algorithm``."""
    return np.random.default_rng([int(seed), NOISE_TAG, _ALG_CODE[algorithm]])


def _signs(rng: np.random.Generator, c) -> np.ndarray:
    """``B(c) = 2 Binomial(c, 1/2) - c``: the sum of ``c`` independent +-1 signs (int64)."""
    c = np.asarray(c, dtype=np.int64)
    return 2 * rng.binomial(c, 0.5) - c


def add_mean_field_noise(R: np.ndarray, system, k: int, m: int, Zt: np.ndarray, seed: int) -> None:
    """Add the averaged reward noise of Algorithm 2 (eq. 9) to the flat table ``R`` in place.

    ``R`` is ``mean_field_reward(system, k, Zt).ravel()`` (flat over ``(S_g, S_l, Cz, A_l,
    A_g)``); ``Zt = compositions(k - 1, Z_l)``. See the module docstring for the law.
    """
    noise = system.reward_noise
    S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
    shape = (S_g, S_l, Zt.shape[0], A_l, A_g)
    w_g = np.asarray(noise.w_g, dtype=np.float64)
    w_l = np.asarray(noise.w_l, dtype=np.float64)
    w_lz = w_l.transpose(0, 2, 1).reshape(Z_l, S_g)  # [z = s * A_l + a, s_g]
    Zt = np.asarray(Zt, dtype=np.int64)
    rng = noise_rng(seed, "mean_field")
    N = R.shape[0]
    for lo in range(0, N, _CHUNK):
        e = np.arange(lo, min(N, lo + _CHUNK))
        sg, s1, r, a1, ag = np.unravel_index(e, shape)
        glob = w_g[sg, ag] * _signs(rng, np.full(e.shape, m))
        loc = w_l[s1, sg, a1] * _signs(rng, np.full(e.shape, m))
        for z in range(Z_l):
            cnt = Zt[r, z] * m
            if cnt.any():
                loc += w_lz[z, sg] * _signs(rng, cnt)
        R[lo : lo + e.shape[0]] += (glob + loc / k) / m


def add_tabular_noise(R: np.ndarray, system, k: int, m: int, seed: int) -> None:
    """Add the averaged reward noise of Algorithm 1 (eq. 8) to the flat table ``R`` in place.

    ``R`` is ``tabular_reward(system, k).ravel()`` (flat over ``(s_g, s_1..s_k, a_g, a_1..a_k)``);
    every agent ``i`` of every entry has its own ``m`` signs. See the module docstring.
    """
    noise = system.reward_noise
    S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
    shape = (S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k
    w_g = np.asarray(noise.w_g, dtype=np.float64)
    w_l = np.asarray(noise.w_l, dtype=np.float64)
    rng = noise_rng(seed, "tabular")
    N = R.shape[0]
    for lo in range(0, N, _CHUNK):
        e = np.arange(lo, min(N, lo + _CHUNK))
        idx = np.unravel_index(e, shape)
        sg, ag = idx[0], idx[k + 1]
        ms = np.full(e.shape, m)
        glob = w_g[sg, ag] * _signs(rng, ms)
        loc = np.zeros(e.shape)
        for i in range(k):
            loc += w_l[idx[1 + i], sg, idx[k + 2 + i]] * _signs(rng, ms)
        R[lo : lo + e.shape[0]] += (glob + loc / k) / m
