"""The one interface of Algorithms 1 and 2: a Bellman operator of the ``k``-agent subsystem.

Each learner is one :class:`Operator`, built once and then iterated by the loop of
:func:`smfq_lib.learning.learn` from ``Q^0 = 0``:

* construction: the surrogate reward ``r_Delta`` of eq. (6) as the table ``R`` (with stochastic
  rewards and ``m`` samples, the average of each entry's ``m`` fixed noisy draws, Theorem 0.13),
  then either the ``m`` fixed samples per entry of the empirical operator (eq. 8 or 9) or the
  tables of the exact expectation (eq. 12);
* :meth:`Operator.step`: one Bellman update ``Q_new = T Q_old`` and its residual, split as
  ``backup(value_table(Q_old))``: the value table (the max over each value state's actions) and
  ``R + gamma E V(next)``;
* for policy iteration (:mod:`smfq_lib.learning.solvers`): :meth:`Operator.action_view` (which
  ``Q`` entries are the actions of which value state) and :meth:`Operator.policy_chain` (the
  transition matrix between value states of a policy that picks one entry per value state);
* :meth:`Operator.policy_tables`: ``V``, ``pi_g``, ``pi_l`` of the final ``Q`` (Algorithm 2,
  line 10), for both learners through the one argmax routine over the mean-field shape
  (:func:`smfq_lib.learning.argmax.mf_argmax`), so that they break ties identically.

Algorithm 1 is :class:`smfq_lib.learning.tabular.TabularOperator`, Algorithm 2
:class:`smfq_lib.learning.mean_field.MeanFieldOperator`; both import this module and this module
imports neither: :func:`smfq_lib.learning.registry.operator_class` maps the resolved algorithm
name to its class (the only place that does).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp

from smfq_lib.learning.argmax import mf_argmax
from smfq_lib.learning.oracle_samples import oracle_samples
from smfq_lib.learning.sampled import cdf_tables, draw_samples
from smfq_lib.learning.solvers import DENSE_MAX
from smfq_lib.model.combinatorics import compositions, marginal_ranks, n_compositions
from smfq_lib.model.oracle import GenerativeOracle

__all__ = ["Operator"]


class Operator(ABC):
    """One Bellman operator (empirical eq. 8/9 with fixed samples, or exact eq. 12), ready to
    iterate: ``step(Q_old, Q_new)`` writes ``T Q_old`` into ``Q_new`` and returns the residual.
    Q buffers are flat float64 arrays of length ``size``.

    Every operator sets ``shape`` (the shape of its Q), ``size`` (its number of entries) and
    ``R`` (flat ``r_Delta``, eq. 6). This base builds what both need for their greedy tables:
    ``Zt`` (the (state, action) compositions of the ``k - 1`` others, rank order), ``mr`` (the
    rank of each one's state marginal), ``Cs``, ``mf_shape = (S_g, S_l, Cz, A_l, A_g)`` and the
    buffers ``V``, ``pi_g``, ``pi_l`` of shape ``(S_g, S_l, Cs)``.
    """

    shape: tuple[int, ...]
    size: int
    R: np.ndarray
    #: entries of the value table (the states of the MDP whose Bellman operator this is)
    n_values: int

    def __init__(self, system, k, m, seed):
        self.system, self.k, self.m, self.seed = system, k, m, seed
        S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
        self.gamma = system.gamma
        self.Zt = compositions(k - 1, Z_l)
        self.mr = marginal_ranks(k - 1, S_l, A_l)
        self.Cs = int(n_compositions(k - 1, S_l))
        self.mf_shape = (S_g, S_l, self.Zt.shape[0], A_l, A_g)
        self.V = np.empty((S_g, S_l, self.Cs))
        self.pi_g = np.empty((S_g, S_l, self.Cs), dtype=np.int64)
        self.pi_l = np.empty((S_g, S_l, self.Cs), dtype=np.int64)
        # a GenerativeOracle has no transition tables: only the empirical operators run on it,
        # their samples drawn through its samplers (learning/oracle_samples.py)
        self.oracle = system if isinstance(system, GenerativeOracle) else None
        if self.oracle is None:
            self.P_g = np.ascontiguousarray(system.P_g)
            self.P_l = np.ascontiguousarray(system.P_l)
        #: {"global": int, "local": int}: the draws of the fixed samples (None for m=None)
        self.oracle_calls = None
        # With stochastic rewards (Theorem 0.13) and m samples, R is the average of the entry's
        # m fixed noisy reward draws (learning/reward_noise.py). The exact operator (m=None) is
        # the expectation: it keeps the means.
        self.noisy = m is not None and system.reward_noise is not None

    def _fixed_samples(self, kernel, n_rows: int, per_row: int, stride: int) -> None:
        """Eq. (8)/(9)'s ``m`` fixed samples per entry into ``self.samples`` and their draws
        into ``self.oracle_calls`` (``E m`` global and ``E m k`` local for ``E`` entries).

        From a system: the built-in ``kernel(cdf_tables, row_lo, row_hi, out)``; from a
        :class:`~smfq_lib.model.oracle.GenerativeOracle`: the same entries' queries
        (:meth:`_queries`) through its samplers, mapped to the same indices
        (:meth:`_next_index`; :func:`~.oracle_samples.oracle_samples`). ``n_rows`` rows of
        ``per_row`` entries; ``stride``: the counter step between two samples of an entry.
        """
        m, k = self.m, self.k
        if self.oracle is not None:
            self.samples, self.oracle_calls = oracle_samples(
                self, self.ALGORITHM, n_rows, per_row, stride
            )
            return
        cdf = cdf_tables(self.P_g, self.P_l)
        self.samples = draw_samples(
            lambda lo, hi, out: kernel(cdf, lo, hi, out), n_rows, per_row, m, self.n_values
        )
        entries = n_rows * per_row
        self.oracle_calls = {"global": entries * m, "local": entries * m * k}

    @abstractmethod
    def _queries(self, row_lo: int, row_hi: int):
        """``(s_g, a_g, s, a)`` of the entries of rows ``row_lo .. row_hi - 1`` in flat order:
        ``s_g``, ``a_g`` of shape ``(E,)`` and the ``k`` local agents' ``s``, ``a`` of shape
        ``(E, k)`` (int64), in the order of the built-in kernel's draws."""

    @abstractmethod
    def _next_index(self, next_g, next_l, out) -> None:
        """Write into ``out`` the value-table index of every sample whose next global state is
        ``next_g[p]`` and whose local agents' next states are ``next_l[p k : (p + 1) k]``."""

    #: the layout of ``Q`` in words (error messages)
    LAYOUT: str
    #: the algorithm's name (``"tabular"``, ``"mean_field"``)
    ALGORITHM: str

    @staticmethod
    @abstractmethod
    def q_shape(S_g: int, S_l: int, A_l: int, A_g: int, k: int) -> tuple[int, ...]:
        """The shape of this algorithm's ``Q`` for ``k`` agents."""

    @staticmethod
    @abstractmethod
    def q_sizes(Q, k: int) -> tuple[int, int, int, int]:
        """``(S_g, S_l, A_g, A_l)`` read off a ``Q`` of this algorithm (any ``ndim``-correct
        shape)."""

    @staticmethod
    @abstractmethod
    def mean_field_q(Q, k: int) -> np.ndarray:
        """``Q`` in the mean-field shape ``(S_g, S_l, Cz, A_l, A_g)`` (Algorithm 1: read at
        canonical representatives), the input of the tie rules' law tables."""

    @staticmethod
    def uniform_laws(Q, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``"uniform"`` laws when they cannot be read off :meth:`mean_field_q` (Algorithm
        1: a sampled tabular ``Q`` is not permutation invariant); ``None`` otherwise."""
        return None

    @staticmethod
    @abstractmethod
    def table_bytes(system, k: int, m: int | None) -> int:
        """Bytes this operator and the loop allocate (see :func:`smfq_lib.learning.table_bytes`)."""

    @staticmethod
    @abstractmethod
    def chain_bytes(system, k: int, m: int | None) -> int:
        """Extra bytes of policy iteration: its policy chain (:meth:`policy_chain`) and the
        dense matrix of the evaluation solve (up to ``solvers.DENSE_MAX`` value states)."""

    @staticmethod
    def _chain_solve_bytes(n_values: int, pairs: int) -> int:
        """A CSR chain of at most ``pairs`` entries per row (a sampled operator: ``m``), plus
        the dense matrix of the LU solve when there are at most ``DENSE_MAX`` value states."""
        dense = 16 * n_values**2 if n_values <= DENSE_MAX else 0
        return 16 * n_values * min(pairs, n_values) + dense

    @abstractmethod
    def value_table(self, Q) -> np.ndarray:
        """The flat value table of a flat ``Q``: its max over each value state's entries."""

    @abstractmethod
    def backup(self, V, Q_old, Q_new) -> float:
        """``Q_new = R + gamma E V(next)`` for a flat value table ``V``; returns
        ``||Q_new - Q_old||_inf``."""

    def step(self, Q_old, Q_new) -> float:
        """``Q_new = T Q_old`` (flat buffers); returns ``||Q_new - Q_old||_inf``."""
        return self.backup(self.value_table(Q_old), Q_old, Q_new)

    @abstractmethod
    def action_view(self) -> tuple[int, int, int, np.ndarray, int]:
        """``(G, Cz, B, mr, Cs)``: ``Q`` viewed as ``(G, Cz, B)``; entry ``(g, r, b)`` is an
        action of value state ``g * Cs + mr[r]``."""

    def policy_chain(self, choice):
        """Transition matrix ``P[v, v']`` between value states when value state ``v`` takes the
        flat ``Q`` entry ``choice[v]``: the samples' frequencies (sparse) for the empirical
        operators, the exact law for ``m=None`` (see the subclasses)."""
        if self.m is None:
            return self._exact_chain(choice)
        s = self.samples
        lo, hi = s.ptr[choice], s.ptr[choice + 1]
        indptr = np.zeros(choice.shape[0] + 1, dtype=np.int64)
        np.cumsum(hi - lo, out=indptr[1:])
        pos = np.repeat(lo - indptr[:-1], hi - lo) + np.arange(indptr[-1])
        data = s.mult[pos] / s.m
        n = self.n_values
        return sp.csr_array((data, s.idx[pos].astype(np.int64), indptr), shape=(n, n))

    @abstractmethod
    def _exact_chain(self, choice):
        """:meth:`policy_chain` of the exact operator."""

    @abstractmethod
    def policy_tables(self, Q) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``V, pi_g, pi_l`` (copies, shape ``(S_g, S_l, Cs)``) of a flat ``Q``."""

    def _greedy(self, Q5):
        """Fill ``V``, ``pi_g``, ``pi_l`` from a mean-field-shaped ``Q5``; returns ``V``."""
        mf_argmax(Q5, self.mr, self.V, self.pi_g, self.pi_l)
        return self.V

    def _greedy_tables(self, Q5):
        self._greedy(Q5)
        return self.V.copy(), self.pi_g.copy(), self.pi_l.copy()

    @staticmethod
    def _common_bytes(system, k: int) -> tuple[int, int, int]:
        """``(Cz, Cs, bytes)``: the bytes of V, VT, pi_g, pi_l; Zt and the marginal ranks."""
        S_g, S_l, Z_l = system.S_g, system.S_l, system.Z_l
        Cz = math.comb(k - 1 + Z_l - 1, Z_l - 1)
        Cs = math.comb(k - 1 + S_l - 1, S_l - 1)
        return Cz, Cs, 4 * 8 * S_g * S_l * Cs + Cz * (Z_l + 1) * 8
