"""Algorithm 2 (SUBSAMPLE-MFQ: Learning, mean-field): value iteration on
``Q: S_g x S_l x mu_{k-1}(Z_l) x A_l x A_g``, with the empirical operator (9) or, with
``m=None``, the exact operator (12) in mean-field form.

Read top to bottom, :class:`MeanFieldOperator` is the algorithm:

1. ``R = r_Delta`` of eq. (6) per ``(s_g, s_1, F_{z_Delta~}, a_1, a_g)``, the ``k - 1`` others
   entering through their (state, action) counts (:func:`~.rewards.mean_field_reward`), plus,
   with stochastic rewards and ``m`` samples, the average of every entry's ``m`` fixed noisy
   draws (:func:`~.reward_noise.add_mean_field_noise`, Theorem 0.13);
2. eq. (9): the ``m`` next ``(s_g^j, s_1^j, F_{s^j_Delta~})`` of every entry, drawn once and
   stored as indices into the value table (:func:`~.mean_field_kernels.sample_mean_field`,
   :func:`~.sampled.draw_samples`); eq. (12) needs only small tables
   (:func:`~.mean_field_exact.exact_tables`);
3. one Bellman step (lines 4-9): the value table ``V = max over a'_g, a'_1, F_{a'}`` of ``Q``
   (:func:`~.argmax.mf_argmax`), then ``R + gamma/m sum_j V[idx]``
   (:func:`~.sampled.apply_sampled`) or the exact expectation
   (:func:`~.mean_field_exact.apply_exact_mean_field`);
4. line 10, the greedy tables: the same argmax on the final ``Q``.

The fixed point is found by value iteration or policy iteration (:mod:`~.solvers`); the loop, its
stopping rule and the memory guard are :func:`smfq_lib.learning.learn`'s.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.sparse.linalg import LinearOperator

from smfq_lib.learning.mean_field_exact import (
    apply_exact_mean_field,
    exact_bytes,
    exact_tables,
    refresh_laws,
)
from smfq_lib.learning.mean_field_kernels import next_index, sample_base, sample_mean_field
from smfq_lib.learning.operator import Operator
from smfq_lib.learning.reward_noise import add_mean_field_noise
from smfq_lib.learning.rewards import mean_field_reward
from smfq_lib.learning.sampled import apply_sampled, sample_bytes
from smfq_lib.model.combinatorics import n_compositions

__all__ = ["MeanFieldOperator", "FactoredChain"]


class FactoredChain(LinearOperator):
    """The exact chain of a policy on Algorithm 2's value states ``(s_g', s_1', c')``:
    ``P[v, (g, s, c)] = Pg[v, g] Pl[v, s] D[v, c]`` (the chosen entry's next global state, next
    state of agent 1 and next composition of the others, independent given the entry)."""

    def __init__(self, Pg, Pl, D):
        n = Pg.shape[0]
        super().__init__(float, (n, n))
        self.Pg, self.Pl, self.D = Pg, Pl, D

    def _matvec(self, x):
        W = self.D @ x.reshape(self.Pg.shape[1] * self.Pl.shape[1], -1).T  # (n, S_g * S_l)
        W = W.reshape(-1, self.Pg.shape[1], self.Pl.shape[1])
        return np.einsum("vg,vs,vgs->v", self.Pg, self.Pl, W)

    def toarray(self):
        n = self.shape[0]
        return np.einsum("vg,vs,vc->vgsc", self.Pg, self.Pl, self.D).reshape(n, n)


class MeanFieldOperator(Operator):
    """Algorithm 2's operator. ``Q`` has ``shape = mf_shape = (S_g, S_l, Cz, A_l, A_g)``,
    ``Q[s_g, s_1, rank(zc), a_1, a_g]`` (see :mod:`smfq_lib.learning.mean_field_kernels`)."""

    LAYOUT = "(S_g, S_l, C(k-1, S_l A_l), A_l, A_g)"
    ALGORITHM = "mean_field"

    @staticmethod
    def q_shape(S_g, S_l, A_l, A_g, k):
        return (S_g, S_l, n_compositions(k - 1, S_l * A_l), A_l, A_g)

    @staticmethod
    def q_sizes(Q, k):
        S_g, S_l, _, A_l, A_g = Q.shape
        return S_g, S_l, A_g, A_l

    @staticmethod
    def mean_field_q(Q, k):
        return Q

    def __init__(self, system, k, m, seed):
        super().__init__(system, k, m, seed)
        S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
        self.R = mean_field_reward(system, k, self.Zt).ravel()  # eq. (6)
        if self.noisy:
            add_mean_field_noise(self.R, system, k, m, self.Zt, seed)
        self.shape = self.mf_shape
        self.size = self.R.shape[0]
        self.n_values = S_g * S_l * self.Cs
        if m is not None:  # eq. (9): m fixed samples per entry
            self._fixed_samples(
                lambda cdf, lo, hi, out: sample_mean_field(
                    *cdf, self.Zt, A_l, m, seed, lo, hi, out
                ),
                S_g * S_l * self.Zt.shape[0],
                A_l * A_g,
                sample_base(1, k - 1),
            )
        else:  # eq. (12): the tables of the exact sweep
            self.tables = exact_tables(self.P_l, S_g, A_l, k - 1)
            self._laws = np.zeros((self.n_values, self.Cs))
            self._law_of = np.full(self.n_values, -1, dtype=np.int64)

    def _queries(self, row_lo, row_hi):
        """Agent 1, then the ``k - 1`` others in ascending cell order (as :func:`draw_next`)."""
        A_l, A_g = self.mf_shape[3:]
        e = np.arange(row_lo * A_l * A_g, row_hi * A_l * A_g)
        s_g, s_1, r, a_1, a_g = np.unravel_index(e, self.mf_shape)
        cells = self._other_cells()[r]
        s = np.concatenate([s_1[:, None], cells // A_l], axis=1)
        a = np.concatenate([a_1[:, None], cells % A_l], axis=1)
        return s_g, a_g, s, a

    def _other_cells(self):
        """``(Cz, k - 1)``: the others' cells ``z = s A_l + a`` of every ``zc``, ascending."""
        if not hasattr(self, "_cells"):
            Cz, Z_l = self.Zt.shape
            cells = np.repeat(np.tile(np.arange(Z_l), Cz), self.Zt.ravel())
            self._cells = cells.reshape(Cz, self.k - 1)
        return self._cells

    def _next_index(self, next_g, next_l, out):
        next_index(next_g, next_l, self.k, self.system.S_l, out)

    def value_table(self, Q):
        return self._greedy(Q.reshape(self.mf_shape)).ravel()

    def backup(self, V, Q_old, Q_new) -> float:
        if self.m is not None:
            return apply_sampled(self.R, V, self.samples, self.gamma, Q_old, Q_new)
        return apply_exact_mean_field(
            self.R.reshape(self.mf_shape),
            V.reshape(self.V.shape),
            self.P_g,
            self.P_l,
            self.tables,
            self.gamma,
            Q_old.reshape(self.mf_shape),
            Q_new.reshape(self.mf_shape),
        )

    def action_view(self):
        S_g, S_l, Cz, A_l, A_g = self.mf_shape
        return S_g * S_l, Cz, A_l * A_g, self.mr, self.Cs

    def _exact_chain(self, choice):
        """:class:`FactoredChain` of the chosen entries; the others' next-composition laws are
        recomputed only for value states whose ``(s_g, zc)`` changed since the last call."""
        S_g, S_l, Cz, A_l, A_g = self.mf_shape
        ag = choice % A_g
        a1 = (choice // A_g) % A_l
        r = (choice // (A_g * A_l)) % Cz
        s1 = (choice // (A_g * A_l * Cz)) % S_l
        sg = choice // (A_g * A_l * Cz * S_l)
        refresh_laws(self.P_l, A_l, self.Zt, sg, r, self.tables, self._laws, self._law_of)
        return FactoredChain(self.P_g[sg, ag], self.P_l[s1, sg, a1], self._laws)

    def policy_tables(self, Q):
        return self._greedy_tables(Q.reshape(self.mf_shape))

    @staticmethod
    def table_bytes(system, k, m):
        """Two Q buffers, R and its construction temporary, the greedy tables; the stored
        samples (at most ``m`` (index, multiplicity) pairs per entry, and each drawing thread's
        ``k - 1`` agents) or, for ``m=None``, the exact sweep's tables and per-thread buffers
        (:func:`~.mean_field_exact.exact_bytes`)."""
        S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
        Cz, Cs, small = Operator._common_bytes(system, k)
        n_mf = S_g * S_l * Cz * A_l * A_g
        total = 4 * 8 * n_mf + small  # Q, Q_new, R, R temporary
        if m is None:  # the last two cells' laws, per-thread tables (mean_field_exact)
            total += exact_bytes(S_g, S_l, A_l, k - 1, S_g * S_l)
        else:  # and each drawing thread's agents (two int64 vectors of the k - 1 others)
            total += sample_bytes(n_mf, m, S_g * S_l * Cs)
            total += 16 * (k - 1) * numba.get_num_threads()
        return total

    @staticmethod
    def chain_bytes(system, k, m):
        """Sampled: the CSR chain; exact: one next-composition law (``Cs`` floats) per value
        state, and the dense solve's matrix when it is small."""
        _, Cs, _ = Operator._common_bytes(system, k)
        n = system.S_g * system.S_l * Cs
        if m is not None:
            return Operator._chain_solve_bytes(n, m)
        return 8 * n * Cs + Operator._chain_solve_bytes(n, 0)
