"""``V*`` (eq. 4) by policy iteration (Howard) on the count MDP of the ``n``-agent system.

The agents are homogeneous, so the system's optimal control is a Markov decision process on the
count states (docs/design.md §5):

* state ``(s_g, c)``: ``c`` a composition of ``n`` into ``S_l`` parts (rank order), ``S_g C(n +
  S_l - 1, S_l - 1)`` value states;
* action ``(a_g, zc)``: ``zc`` a composition of the ``n`` agents into the ``Z_l = S_l A_l``
  (state, action) cells whose state marginal is ``c`` (which agents of a state take which action
  does not matter by symmetry); ``Q`` has shape ``(S_g, C(n + Z_l - 1, Z_l - 1), A_g)``;
* stage reward: eq. (3), with the aggregate term if any
  (:func:`smfq_lib.learning.rewards.count_reward`). Stochastic rewards (Theorem 0.13) are
  zero-mean noise around ``r_g``, ``r_l``: the expected return of every policy, hence ``V*``,
  is that of the means, which is what this uses;
* transition: ``s_g' ~ P_g[s_g, a_g]`` and, independently, ``c'`` = the sum of the agents'
  one-hot moves, each agent of cell ``(s, a)`` moving by ``P_l[s, s_g, a]`` (eq. 1, 2): the
  convolution of each cell's multinomial.

It is Algorithm 2's exact operator with ``k = n`` and no agent kept apart, and it reuses that
operator's machinery: the sum-factorised sweep as its Bellman backup
(:func:`~smfq_lib.learning.mean_field_exact.apply_exact_count`), the next-composition laws of the
policy's chosen actions (:func:`~smfq_lib.learning.mean_field_exact.refresh_laws`), and the
solver of :func:`smfq_lib.learn` (:func:`smfq_lib.learning.solvers.policy_iteration`: the
tie-tolerant improvement that cannot cycle, the evaluation solve on one BLAS thread) with its
stopping rule, so ``||V - V*||_inf <= tol``.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from smfq_lib._utils.blas import one_blas_thread
from smfq_lib.learning.mean_field import FactoredChain
from smfq_lib.learning.mean_field_exact import (
    apply_exact_count,
    exact_bytes,
    exact_tables,
    refresh_laws,
)
from smfq_lib.learning.rewards import count_reward
from smfq_lib.learning.solvers import (
    DENSE_MAX,
    QuietBar,
    default_max_iter,
    improve,
    policy_iteration,
    threads_for,
)
from smfq_lib.model.combinatorics import compositions, marginal_ranks_of, n_compositions

__all__ = ["CountMDP", "count_mdp_bytes", "solve_count_mdp"]


def count_mdp_bytes(system, n: int) -> int:
    """Bytes :func:`solve_count_mdp` allocates on ``n`` agents: four ``Q``-sized tables (``Q``,
    its next sweep, ``R`` and its construction temporary), the compositions and their marginal
    ranks, the exact sweep's tables (:func:`~smfq_lib.learning.mean_field_exact.exact_bytes`),
    one next-composition law per value state, the evaluation's dense matrix (up to
    ``DENSE_MAX`` value states) and the value-state vectors (with ``V`` premixed by ``P_g``,
    ``A_g`` per value state). Exact Python integers."""
    S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
    Cz = math.comb(n + Z_l - 1, Z_l - 1)
    Cs = math.comb(n + S_l - 1, S_l - 1)
    N = S_g * Cs
    total = 4 * 8 * S_g * Cz * A_g + 8 * Cz * (Z_l + 1 + S_g)
    total += exact_bytes(S_g, S_l, A_l, n, A_g) + 8 * N * Cs + 8 * N * (S_g + A_g + 6)
    return total + (16 * N * N if N <= DENSE_MAX else 0)


@functools.lru_cache(maxsize=8)
def _actions(n, S_l, A_l):
    """The compositions of ``n`` agents into the ``S_l A_l`` cells (rank order) and the rank of
    each one's state marginal: they depend only on ``(n, S_l, A_l)``, so they are built once and
    shared (read-only) by every count MDP of that shape."""
    Zt = compositions(n, S_l * A_l)
    mr = marginal_ranks_of(Zt, S_l, A_l)
    Zt.setflags(write=False)
    mr.setflags(write=False)
    return Zt, mr


class CountMDP:
    """The count MDP as the operator :func:`~smfq_lib.learning.solvers.policy_iteration`
    iterates: ``R`` (flat ``(S_g, Cz, A_g)``, eq. 3), ``size``, ``n_values``, ``gamma``,
    :meth:`backup`, :meth:`action_view`, :meth:`policy_chain`."""

    def __init__(self, system, n: int):
        S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
        self.gamma = system.gamma
        self.P_g = np.ascontiguousarray(system.P_g)
        self.P_l = np.ascontiguousarray(system.P_l)
        self.A_l = A_l
        self.Zt, self.mr = _actions(n, S_l, A_l)
        self.Cs = int(n_compositions(n, S_l))
        self.shape = (S_g, self.Zt.shape[0], A_g)
        self.R = count_reward(system, n, self.Zt).ravel()
        self.size = self.R.shape[0]
        self.n_values = S_g * self.Cs
        self.tables = exact_tables(self.P_l, S_g, A_l, n)
        self._laws = np.zeros((self.n_values, self.Cs))
        self._law_of = np.full(self.n_values, -1, dtype=np.int64)
        self._stay = np.ones((self.n_values, 1))  # FactoredChain's agent 1: none here

    def backup(self, V, Q_old, Q_new) -> float:
        """``Q_new = R + gamma E V(next)`` for the flat value table ``V``; the residual."""
        S_g, Cz, A_g = self.shape
        return apply_exact_count(
            self.R.reshape(self.shape), V.reshape(S_g, self.Cs), self.P_g, self.P_l,
            self.tables, self.gamma, Q_old.reshape(self.shape), Q_new.reshape(self.shape),
        )  # fmt: skip

    def action_view(self):
        """``Q`` as ``(S_g, Cz, A_g)``: entry ``(s_g, r, a_g)`` acts at value state ``s_g Cs +
        mr[r]``."""
        S_g, Cz, A_g = self.shape
        return S_g, Cz, A_g, self.mr, self.Cs

    def policy_chain(self, choice):
        """The chain between value states of the policy taking the flat entry ``choice[v]`` at
        value state ``v``: ``P[v, (g, c')] = P_g[s_g, a_g, g] D[v, c']``; a dense array up to
        ``DENSE_MAX`` value states (what the evaluation solves), else a
        :class:`~smfq_lib.learning.mean_field.FactoredChain` (its products, for GMRES)."""
        S_g, Cz, A_g = self.shape
        ag = choice % A_g
        r = (choice // A_g) % Cz
        sg = choice // (A_g * Cz)
        refresh_laws(self.P_l, self.A_l, self.Zt, sg, r, self.tables, self._laws, self._law_of)
        if self.n_values <= DENSE_MAX:
            P = np.multiply(self.P_g[sg, ag][:, :, None], self._laws[:, None, :])
            return P.reshape(self.n_values, self.n_values)
        return FactoredChain(self.P_g[sg, ag], self._stay, self._laws)


@one_blas_thread  # once for the solve: its evaluations then skip setting the limit again
def solve_count_mdp(system, n: int, tol: float, progress: bool, op=None) -> np.ndarray:
    """``V*`` of the ``n``-agent system, shape ``(S_g, C(n + S_l - 1, S_l - 1))`` indexed
    ``[s_g, rank(c)]``, with ``||V - V*||_inf <= tol``: policy iteration stops on a
    value-iteration step of residual ``<= tol (1 - gamma) / gamma`` (or on its bound), as
    :func:`smfq_lib.learn` does. ``progress``: a bar over the sweeps. ``op``: a fresh
    :class:`CountMDP` of ``(system, n)`` built beforehand, or None to build it here (benchmarks
    time the solve alone with it). Call after the size check (:func:`count_mdp_bytes`)."""
    from tqdm.auto import tqdm

    with threads_for(count_mdp_bytes(system, n) // 8):
        op = CountMDP(system, n) if op is None else op
        gamma = op.gamma
        threshold = tol * (1.0 - gamma) / gamma
        n_iter = default_max_iter(gamma, float(np.abs(op.R).max()), threshold)
        if progress:
            with tqdm(total=n_iter, desc=f"V* n={n} (count MDP)") as bar:
                Q, stats = policy_iteration(op, threshold, n_iter, bar)
                if bar.n < bar.total and stats.residuals[-1] <= threshold:
                    bar.total = bar.n
                    bar.refresh()
        else:
            Q, stats = policy_iteration(op, threshold, n_iter, QuietBar())
        if stats.residuals[-1] > threshold:
            warnings.warn(
                f"V* on n = {n} agents stopped after {n_iter} sweeps with residual "
                f"{stats.residuals[-1]:.3g} > tol (1 - gamma) / gamma = {threshold:.3g}.",
                RuntimeWarning,
                stacklevel=3,
            )
        V = stats.values
        if V is None:  # the solver stopped on a value-iteration step: V = max of Q
            V = np.empty(op.n_values)
            improve(op, Q, V, np.full(op.n_values, -1, dtype=np.int64), 0.0)
    return V.reshape(system.S_g, op.Cs)
