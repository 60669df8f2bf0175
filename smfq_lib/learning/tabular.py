"""Algorithm 1 (SUBSAMPLE-MFQ: Learning, ``|Z_l|^(k-1) <= k^|Z_l|``): value iteration on
``Q: S_g x S_l^k x A_g x A_l^k``, with the empirical operator (8) or, with ``m=None``, the exact
operator (12).

Read top to bottom, :class:`TabularOperator` is the algorithm:

1. ``R = r_Delta`` of eq. (6) over the ``k`` ordered agents (:func:`~.rewards.tabular_reward`),
   plus, with stochastic rewards and ``m`` samples, the average of every entry's ``m`` fixed
   noisy draws (:func:`~.reward_noise.add_tabular_noise`, Theorem 0.13);
2. eq. (8): the ``m`` next joint states ``(s_g^j, s_Delta^j)`` of every entry, drawn once and
   stored as rows of the value table (:func:`~.tabular_kernels.sample_tabular`); eq. (12) needs
   nothing stored;
3. one Bellman step (lines 4-6): ``V1 = max over a'_g, a'_Delta`` of ``Q``, then
   ``R + gamma/m sum_j V1[s^j]`` (:func:`~.sampled.apply_sampled`) or the exact expectation
   (:func:`~.tabular_kernels.apply_exact_tabular`);
4. line 10, the greedy tables: ``Q`` read at canonical representatives (agent 1 first, the
   others sorted ascending, :func:`~.tabular_kernels.fold`), then the argmax shared with
   Algorithm 2 (:func:`~.argmax.mf_argmax`), because a sampled tabular ``Q`` is not exactly
   permutation invariant.

The iteration loop, its stopping rule and the memory guard are :func:`smfq_lib.learning.learn`'s.
"""

from __future__ import annotations

import numpy as np

from smfq_lib.learning.operator import Operator
from smfq_lib.learning.reward_noise import add_tabular_noise
from smfq_lib.learning.rewards import tabular_reward
from smfq_lib.learning.sampled import NBLOCKS, apply_sampled, cdf_tables, index_dtype
from smfq_lib.learning.tabular_kernels import apply_exact_tabular, fold, sample_tabular

__all__ = ["TabularOperator"]


class TabularOperator(Operator):
    """Algorithm 1's operator. ``Q`` has ``shape = (S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k``
    and the flat 2-D view ``(Ns, Na)`` (``Ns = S_g S_l^k`` joint states, ``Na = A_g A_l^k``
    joint actions) of :mod:`smfq_lib.learning.tabular_kernels`."""

    def __init__(self, system, k, m, seed):
        super().__init__(system, k, m, seed)
        S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
        self.Ns = S_g * S_l**k
        self.Na = A_g * A_l**k
        self.R = tabular_reward(system, k).ravel()  # eq. (6)
        if self.noisy:
            add_tabular_noise(self.R, system, k, m, seed)
        self.shape = (S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k
        self.size = self.R.shape[0]
        if m is not None:  # eq. (8): m fixed samples per entry
            self.idx = np.empty(self.size * m, dtype=index_dtype(self.Ns))
            sample_tabular(*cdf_tables(self.P_g, self.P_l), k, m, seed, self.idx)

    def step(self, Q_old, Q_new) -> float:
        V1 = Q_old.reshape(self.Ns, self.Na).max(axis=1)
        if self.m is not None:
            return apply_sampled(self.R, V1, self.idx, self.m, self.gamma, Q_old, Q_new, NBLOCKS)
        return apply_exact_tabular(
            self.R.reshape(self.Ns, self.Na),
            V1,
            self.P_g,
            self.P_l,
            self.k,
            self.gamma,
            Q_old.reshape(self.Ns, self.Na),
            Q_new.reshape(self.Ns, self.Na),
        )

    def policy_tables(self, Q):
        """``V, pi_g, pi_l`` of a flat ``Q``, read at canonical representatives (see
        :func:`smfq_lib.learning.tabular_kernels.fold`)."""
        s = self.system
        Q5 = fold(Q.reshape(self.Ns, self.Na), self.Zt, self.k, s.S_g, s.S_l, s.A_l, s.A_g)
        return self._greedy_tables(Q5)

    @staticmethod
    def table_bytes(system, k, m):
        """Two Q buffers, R and its construction temporary, V1 and the folded Q, the greedy
        tables; the stored samples (``m`` row indices per entry) or, for ``m=None``, the exact
        operator's contraction buffers (``apply_exact_tabular``)."""
        S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
        Cz, _, small = Operator._common_bytes(system, k)
        n_mf = S_g * S_l * Cz * A_l * A_g
        Ns = S_g * S_l**k
        n_tab = Ns * A_g * A_l**k
        total = 4 * 8 * n_tab + 8 * Ns + 8 * n_mf + small  # + V1 and the folded Q
        if m is not None:
            total += n_tab * m * np.dtype(index_dtype(Ns)).itemsize
        else:  # the exact operator's contraction buffers
            total += 8 * (2 * S_l * Z_l ** (k - 1) + A_l ** (k - 1))
        return total
