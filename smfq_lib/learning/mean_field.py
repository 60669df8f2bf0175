"""Algorithm 2 (SUBSAMPLE-MFQ: Learning, ``|Z_l|^(k-1) > k^|Z_l|``): mean-field value iteration
on ``Q: S_g x S_l x mu_{k-1}(Z_l) x A_l x A_g``, with the empirical operator (9) or, with
``m=None``, the exact operator (12) in mean-field form.

Read top to bottom, :class:`MeanFieldOperator` is the algorithm:

1. ``R = r_Delta`` of eq. (6) per ``(s_g, s_1, F_{z_Delta~}, a_1, a_g)``, the ``k - 1`` others
   entering through their (state, action) counts (:func:`~.rewards.mean_field_reward`), plus,
   with stochastic rewards and ``m`` samples, the average of every entry's ``m`` fixed noisy
   draws (:func:`~.reward_noise.add_mean_field_noise`, Theorem 0.13);
2. eq. (9): the ``m`` next ``(s_g^j, s_1^j, F_{s^j_Delta~})`` of every entry, drawn once and
   stored as indices into the value table (:func:`~.mean_field_kernels.sample_mean_field`); or,
   for eq. (12), the exact distribution of the others' next state counts
   (:func:`~.mean_field_kernels.exact_mean_field`);
3. one Bellman step (lines 4-9): the value table ``V = max over a'_g, a'_1, F_{a'}`` of ``Q``
   (:func:`~.argmax.mf_argmax`), then ``R + gamma/m sum_j V[idx]``
   (:func:`~.sampled.apply_sampled`) or the exact expectation
   (:func:`~.mean_field_kernels.apply_exact_mean_field`);
4. line 10, the greedy tables: the same argmax on the final ``Q``.

The iteration loop, its stopping rule and the memory guard are :func:`smfq_lib.learning.learn`'s.
"""

from __future__ import annotations

import numpy as np

from smfq_lib.learning.mean_field_kernels import (
    apply_exact_mean_field,
    exact_mean_field,
    sample_mean_field,
)
from smfq_lib.learning.operator import Operator
from smfq_lib.learning.reward_noise import add_mean_field_noise
from smfq_lib.learning.rewards import mean_field_reward
from smfq_lib.learning.sampled import NBLOCKS, apply_sampled, cdf_tables, index_dtype

__all__ = ["MeanFieldOperator"]


class MeanFieldOperator(Operator):
    """Algorithm 2's operator. ``Q`` has ``shape = mf_shape = (S_g, S_l, Cz, A_l, A_g)``,
    ``Q[s_g, s_1, rank(zc), a_1, a_g]`` (see :mod:`smfq_lib.learning.mean_field_kernels`)."""

    def __init__(self, system, k, m, seed):
        super().__init__(system, k, m, seed)
        S_g, S_l, A_l = system.S_g, system.S_l, system.A_l
        self.R = mean_field_reward(system, k, self.Zt).ravel()  # eq. (6)
        if self.noisy:
            add_mean_field_noise(self.R, system, k, m, self.Zt, seed)
        self.shape = self.mf_shape
        self.size = self.R.shape[0]
        if m is not None:  # eq. (9): m fixed samples per entry
            self.idx = np.empty(self.size * m, dtype=index_dtype(S_g * S_l * self.Cs))
            sample_mean_field(*cdf_tables(self.P_g, self.P_l), self.Zt, A_l, m, seed, self.idx)
        else:  # eq. (12): the exact next-composition distributions
            self.csr = exact_mean_field(self.P_l, S_g, self.Zt, A_l)

    def step(self, Q_old, Q_new) -> float:
        V = self._greedy(Q_old.reshape(self.mf_shape))
        if self.m is not None:
            return apply_sampled(
                self.R, V.ravel(), self.idx, self.m, self.gamma, Q_old, Q_new, NBLOCKS
            )
        VT = np.ascontiguousarray(V.transpose(2, 0, 1))
        return apply_exact_mean_field(
            self.R.reshape(self.mf_shape),
            VT,
            self.P_g,
            self.P_l,
            *self.csr,
            self.gamma,
            Q_old.reshape(self.mf_shape),
            Q_new.reshape(self.mf_shape),
        )

    def policy_tables(self, Q):
        return self._greedy_tables(Q.reshape(self.mf_shape))

    @staticmethod
    def table_bytes(system, k, m):
        """Two Q buffers, R and its construction temporary, the greedy tables; the stored
        samples (``m`` indices per entry) or, for ``m=None``, an upper bound on the CSR size of
        the exact next-composition distributions."""
        S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
        Cz, Cs, small = Operator._common_bytes(system, k)
        n_mf = S_g * S_l * Cz * A_l * A_g
        total = 4 * 8 * n_mf + small  # Q, Q_new, R, R temporary
        if m is None:
            total += S_g * Cz * (Cs * 12 + 8)
        else:
            total += n_mf * m * np.dtype(index_dtype(S_g * S_l * Cs)).itemsize
        return total
