"""Algorithm 1 (SUBSAMPLE-MFQ: Learning, ``|Z_l|^(k-1) <= k^|Z_l|``): value iteration on
``Q: S_g x S_l^k x A_g x A_l^k``, with the empirical operator (8) or, with ``m=None``, the exact
operator (12).

Read top to bottom, :class:`TabularOperator` is the algorithm:

1. ``R = r_Delta`` of eq. (6) over the ``k`` ordered agents (:func:`~.rewards.tabular_reward`),
   plus, with stochastic rewards and ``m`` samples, the average of every entry's ``m`` fixed
   noisy draws (:func:`~.reward_noise.add_tabular_noise`, Theorem 0.13);
2. eq. (8): the ``m`` next joint states ``(s_g^j, s_Delta^j)`` of every entry, drawn once and
   stored as rows of the value table (:func:`~.tabular_kernels.sample_tabular`,
   :func:`~.sampled.draw_samples`); eq. (12) needs nothing stored;
3. one Bellman step (lines 4-6): ``V1 = max over a'_g, a'_Delta`` of ``Q``, then
   ``R + gamma/m sum_j V1[s^j]`` (:func:`~.sampled.apply_sampled`) or the exact expectation
   (:func:`~.tabular_kernels.apply_exact_tabular`);
4. line 10, the greedy tables: ``Q`` read at canonical representatives (agent 1 first, the
   others sorted ascending, :func:`~.tabular_kernels.fold`), then the argmax shared with
   Algorithm 2 (:func:`~.argmax.mf_argmax`), because a sampled tabular ``Q`` is not exactly
   permutation invariant.

The fixed point is found by value iteration or policy iteration (:mod:`~.solvers`; the policy
chain of the exact operator is a dense product law per joint state); the loop, its stopping rule
and the memory guard are :func:`smfq_lib.learning.learn`'s.
"""

from __future__ import annotations

import numpy as np

from smfq_lib._utils.chunks import run_chunks
from smfq_lib.learning.argmax import TIE_RTOL
from smfq_lib.learning.operator import Operator
from smfq_lib.learning.reward_noise import add_tabular_noise
from smfq_lib.learning.rewards import tabular_reward
from smfq_lib.learning.sampled import apply_sampled, sample_bytes
from smfq_lib.learning.tabular_kernels import apply_exact_tabular, fold, sample_tabular
from smfq_lib.model.combinatorics import compositions

__all__ = ["TabularOperator"]


class TabularOperator(Operator):
    """Algorithm 1's operator. ``Q`` has ``shape = (S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k``
    and the flat 2-D view ``(Ns, Na)`` (``Ns = S_g S_l^k`` joint states, ``Na = A_g A_l^k``
    joint actions) of :mod:`smfq_lib.learning.tabular_kernels`."""

    LAYOUT = "(S_g,) + (S_l,)*k + (A_g,) + (A_l,)*k"
    ALGORITHM = "tabular"

    @staticmethod
    def q_shape(S_g, S_l, A_l, A_g, k):
        return (S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k

    @staticmethod
    def q_sizes(Q, k):
        return Q.shape[0], Q.shape[1], Q.shape[k + 1], Q.shape[k + 2]

    @staticmethod
    def mean_field_q(Q, k):
        """``Q`` read at canonical representatives (agent 1, then the others' states ascending;
        :func:`~.tabular_kernels.fold`)."""
        S_g, S_l, A_g, A_l = TabularOperator.q_sizes(Q, k)
        Zt = compositions(k - 1, S_l * A_l)
        return fold(Q.reshape(S_g * S_l**k, A_g * A_l**k), Zt, k, S_g, S_l, A_l, A_g)

    @staticmethod
    def uniform_laws(Q, k):
        """``"uniform"`` laws of Algorithm 1's ``Q`` (shape ``(S_g,) + (S_l,) * k + (A_g,) +
        (A_l,) * k``): at the canonical state ``(s_g, s_1, others ascending)`` of every
        ``(s_g, s_1, c)``, the marginals of ``a_g`` and ``a_1`` over the ordered maximizers
        ``(a_g, a_1, ..., a_k)`` of the row."""
        S_g, S_l, A_g, A_l = TabularOperator.q_sizes(Q, k)
        comps = compositions(k - 1, S_l)
        code = np.zeros(comps.shape[0], np.int64)  # the others' sorted states as a radix-S_l row
        for j, c in enumerate(comps):
            for s in np.repeat(np.arange(S_l), c):
                code[j] = code[j] * S_l + s
        rows = Q.reshape(S_g, S_l, S_l ** (k - 1), A_g, A_l, A_l ** (k - 1))[:, :, code]
        top = rows.max(axis=(3, 4, 5), keepdims=True)
        mask = rows >= top - TIE_RTOL * (1.0 + np.abs(top))
        total = mask.sum(axis=(3, 4, 5))[..., None]
        return mask.sum(axis=(4, 5)) / total, mask.sum(axis=(3, 5)) / total

    def __init__(self, system, k, m, seed):
        super().__init__(system, k, m, seed)
        S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
        self.Ns = S_g * S_l**k
        self.Na = A_g * A_l**k
        self.R = tabular_reward(system, k).ravel()  # eq. (6)
        if self.noisy:
            add_tabular_noise(self.R, system, k, m, seed)
        self.shape = self.q_shape(S_g, S_l, A_l, A_g, k)
        self.size = self.R.shape[0]
        self.n_values = self.Ns
        if m is not None:  # eq. (8): m fixed samples per entry
            self._fixed_samples(
                lambda cdf, lo, hi, out: sample_tabular(*cdf, k, m, seed, lo, hi, out),
                self.Ns,
                self.Na,
                k + 1,
            )

    def _queries(self, row_lo, row_hi):
        """The digits of each flat entry ``(s_g, s_1..s_k, a_g, a_1..a_k)``, as
        :func:`sample_tabular` decodes them."""
        k = self.k
        e = np.arange(row_lo * self.Na, row_hi * self.Na)
        idx = np.unravel_index(e, self.shape)
        s = np.stack(idx[1 : k + 1], axis=1)
        a = np.stack(idx[k + 2 :], axis=1)
        return idx[0], idx[k + 1], s, a

    def _next_index(self, next_g, next_l, out):
        """The next row ``s_g' S_l^k + sum_i s_i' S_l^(k-i)``, as :func:`sample_tabular`."""
        nxt = next_g.copy()
        for col in next_l.reshape(-1, self.k).T:
            nxt *= self.system.S_l
            nxt += col
        out[:] = nxt

    def value_table(self, Q):
        return Q.reshape(self.Ns, self.Na).max(axis=1)

    def backup(self, V, Q_old, Q_new) -> float:
        if self.m is not None:
            return apply_sampled(self.R, V, self.samples, self.gamma, Q_old, Q_new)
        res = []
        args = (self.R.reshape(self.Ns, self.Na), V, self.P_g, self.P_l, self.k, self.gamma)
        Q2 = (Q_old.reshape(self.Ns, self.Na), Q_new.reshape(self.Ns, self.Na))
        run_chunks(
            lambda a, b: res.append(apply_exact_tabular(a, b, *args, *Q2)),
            self.system.S_g * self.system.A_g,
        )
        return max(res)

    def action_view(self):
        return self.Ns, 1, self.Na, np.zeros(1, dtype=np.int64), 1

    def _exact_chain(self, choice):
        """Dense ``P[row, row']``: the product law ``P_g[s_g, a_g] x P_l[s_1, s_g, a_1] x ...
        x P_l[s_k, s_g, a_k]`` over next joint states, for the chosen column of every row."""
        s, k = self.system, self.k
        rows = np.arange(self.Ns)
        cols = choice - rows * self.Na
        sg = rows // s.S_l**k
        P = s.P_g[sg, cols // s.A_l**k]
        for i in range(k):
            si = (rows // s.S_l ** (k - 1 - i)) % s.S_l
            ai = (cols // s.A_l ** (k - 1 - i)) % s.A_l
            P = (P[:, :, None] * s.P_l[si, sg, ai][:, None, :]).reshape(self.Ns, -1)
        return P

    def policy_tables(self, Q):
        """``V, pi_g, pi_l`` of a flat ``Q``, read at canonical representatives (see
        :func:`smfq_lib.learning.tabular_kernels.fold`)."""
        return self._greedy_tables(self.mean_field_q(Q.reshape(self.shape), self.k))

    @staticmethod
    def table_bytes(system, k, m):
        """Two Q buffers, R and its construction temporary, V1 and the folded Q, the greedy
        tables; the stored samples (at most ``m`` (row, multiplicity) pairs per entry) or, for
        ``m=None``, the exact operator's contraction buffers (``apply_exact_tabular``)."""
        S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
        Cz, _, small = Operator._common_bytes(system, k)
        n_mf = S_g * S_l * Cz * A_l * A_g
        Ns = S_g * S_l**k
        n_tab = Ns * A_g * A_l**k
        total = 4 * 8 * n_tab + 8 * Ns + 8 * n_mf + small  # + V1 and the folded Q
        if m is not None:
            total += sample_bytes(n_tab, m, Ns)
        else:  # the exact operator's contraction buffers
            total += 8 * (2 * S_l * Z_l ** (k - 1) + A_l ** (k - 1))
        return total

    @staticmethod
    def chain_bytes(system, k, m):
        """Sampled: the CSR chain over the joint states; exact: the dense ``Ns x Ns`` chain and,
        up to ``DENSE_MAX`` joint states, the LU solve's copy of it."""
        Ns = system.S_g * system.S_l**k
        if m is not None:
            return Operator._chain_solve_bytes(Ns, m)
        return 8 * Ns * Ns + Operator._chain_solve_bytes(Ns, 0)
