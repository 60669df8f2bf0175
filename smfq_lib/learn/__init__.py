"""SUBSAMPLE-MFQ learning (Algorithms 1 and 2): value iteration on a ``k``-agent subsystem.

:func:`learn` is the one entry point. It validates its arguments, picks Algorithm 1 (tabular,
eq. 8) or Algorithm 2 (mean-field, eq. 9) by the paper's rule (or the caller's choice), refuses a
table that would not fit in memory, draws the ``m`` samples per entry once (or, with ``m=None``,
prepares the exact expectation of eq. 12), and iterates the operator from ``Q^0 = 0`` until
``||Q^{t+1} - Q^t||_inf <= tol (1 - gamma) / gamma`` (then ``||Q^{t+1} - Q_fix||_inf <= tol``).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
import warnings

import numba
import numpy as np

from smfq_lib.budget import check_fits, default_budget
from smfq_lib.combinatorics import compositions, marginal_ranks, n_compositions
from smfq_lib.learn.mean_field import (
    apply_exact_mean_field,
    apply_sampled,
    cdf_tables,
    exact_mean_field,
    sample_mean_field,
)
from smfq_lib.learn.policy_tables import mf_argmax
from smfq_lib.learn.result import SubsampledQ
from smfq_lib.learn.reward_noise import add_mean_field_noise, add_tabular_noise
from smfq_lib.learn.rewards import mean_field_reward, tabular_reward
from smfq_lib.learn.tabular import apply_exact_tabular, fold, sample_tabular
from smfq_lib.system import CooperativeSystem

__all__ = ["learn", "SubsampledQ", "choose_algorithm", "table_bytes"]

ALGORITHMS = ("auto", "tabular", "mean_field")
_NBLOCKS = 512
#: Below this much work per iteration (entries x samples) kernels run on one thread: a parallel
#: launch costs more than the work, and far more on a loaded machine. Results do not depend on it.
_SERIAL_WORK = 2_000_000


@contextlib.contextmanager
def _threads_for(work: int):
    """Run the enclosed kernels on one thread when ``work`` is small (restored afterwards)."""
    before = numba.get_num_threads()
    if work < _SERIAL_WORK:
        numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def choose_algorithm(Z_l: int, k: int, algorithm: str = "auto") -> tuple[str, str]:
    """The algorithm that runs and why. ``"auto"`` is the paper's rule (section Method):
    Algorithm 1 when ``|Z_l|^(k-1) <= k^|Z_l|``, Algorithm 2 otherwise (exact integers)."""
    if algorithm != "auto":
        return algorithm, f"requested by the caller (algorithm={algorithm!r})"
    lhs = Z_l ** (k - 1)
    rhs = k**Z_l
    if lhs <= rhs:
        return "tabular", (
            f"auto (paper's rule): |Z_l|^(k-1) = {Z_l}^{k - 1} <= k^|Z_l| = {k}^{Z_l} "
            "-> Algorithm 1 (tabular)"
        )
    return "mean_field", (
        f"auto (paper's rule): |Z_l|^(k-1) = {Z_l}^{k - 1} > k^|Z_l| = {k}^{Z_l} "
        "-> Algorithm 2 (mean-field)"
    )


def _index_itemsize(n_targets: int) -> int:
    return 4 if n_targets < 2**31 else 8


def table_bytes(system, k: int, m: int | None, algorithm: str) -> int:
    """Bytes :func:`learn` allocates for ``(k, m, algorithm)`` (``algorithm`` resolved, not
    ``"auto"``): two Q buffers, R (and its construction temporary), V and the policy tables, the
    composition tables, and the stored samples (``m`` indices per entry) or, for ``m=None``, the
    exact next-composition distributions (an upper bound on their CSR size; Algorithm 1: the
    exact operator's contraction buffers)."""
    S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
    Cz = math.comb(k - 1 + Z_l - 1, Z_l - 1)
    Cs = math.comb(k - 1 + S_l - 1, S_l - 1)
    n_mf = S_g * S_l * Cz * A_l * A_g
    small = 4 * 8 * S_g * S_l * Cs + Cz * (Z_l + 1) * 8  # V, VT, pi_g, pi_l; Zt, marginal ranks
    if algorithm == "mean_field":
        total = 4 * 8 * n_mf + small  # Q, Q_new, R, R temporary
        if m is None:
            total += S_g * Cz * (Cs * 12 + 8)
        else:
            total += n_mf * m * _index_itemsize(S_g * S_l * Cs)
        return total
    Ns = S_g * S_l**k
    n_tab = Ns * A_g * A_l**k
    total = 4 * 8 * n_tab + 8 * Ns + 8 * n_mf + small  # + V1 and the folded Q
    if m is not None:
        total += n_tab * m * _index_itemsize(Ns)
    else:  # the exact operator's contraction buffers (tabular.apply_exact_tabular)
        total += 8 * (2 * S_l * Z_l ** (k - 1) + A_l ** (k - 1))
    return total


def _largest_k(system, m, algorithm, budget, k_from) -> int:
    """Largest ``k`` (scanning up from 1) whose tables fit ``budget``; 0 if not even ``k = 1``."""
    best = 0
    for kk in range(1, max(k_from, 1) + 1):
        alg, _ = choose_algorithm(system.Z_l, kk, algorithm)
        if table_bytes(system, kk, m, alg) > budget:
            break
        best = kk
    return best


def _validate(system, k, m, algorithm, tol, max_iter, seed, progress, memory_budget):
    if not isinstance(system, CooperativeSystem):
        raise ValueError(
            f"system must be an smfq_lib.CooperativeSystem; got {type(system).__name__}. "
            "Build one with CooperativeSystem(P_g, P_l, r_g, r_l, gamma)."
        )

    def is_int(x):
        return isinstance(x, numbers.Integral) and not isinstance(x, bool)

    if not is_int(k) or k < 1:
        raise ValueError(f"k must be an int >= 1 (the number of sampled agents); got {k!r}.")
    if m is not None and (not is_int(m) or m < 1):
        raise ValueError(
            f"m must be None (exact operator, eq. 12) or an int >= 1 (samples per entry, "
            f"eq. 8/9); got {m!r}."
        )
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}; got {algorithm!r}.")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0:
        raise ValueError(f"tol must be a float > 0 (e.g. 1e-8); got {tol!r}.")
    if max_iter is not None and (not is_int(max_iter) or max_iter < 1):
        raise ValueError(f"max_iter must be None (automatic) or an int >= 1; got {max_iter!r}.")
    if not is_int(seed) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an int in [0, 2**63); got {seed!r}.")
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False; got {progress!r}.")
    if memory_budget is not None and (
        isinstance(memory_budget, bool)
        or not isinstance(memory_budget, numbers.Real)
        or not memory_budget > 0
    ):
        raise ValueError(
            f"memory_budget must be None (half the free memory) or a positive number of bytes; "
            f"got {memory_budget!r}."
        )


class _Operator:
    """One Bellman operator (empirical eq. 8/9 with fixed samples, or exact eq. 12), ready to
    iterate: ``step(Q_old, Q_new)`` writes ``T Q_old`` into ``Q_new`` and returns the residual.
    Q buffers are flat float64 arrays of length ``size``."""

    def __init__(self, system, k, m, algorithm, seed):
        self.system, self.k, self.m, self.algorithm, self.seed = system, k, m, algorithm, seed
        S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
        self.gamma = system.gamma
        self.Zt = compositions(k - 1, Z_l)
        self.mr = marginal_ranks(k - 1, S_l, A_l)
        self.Cs = int(n_compositions(k - 1, S_l))
        self.mf_shape = (S_g, S_l, self.Zt.shape[0], A_l, A_g)
        self.V = np.empty((S_g, S_l, self.Cs))
        self.pi_g = np.empty((S_g, S_l, self.Cs), dtype=np.int64)
        self.pi_l = np.empty((S_g, S_l, self.Cs), dtype=np.int64)
        P_g = np.ascontiguousarray(system.P_g)
        P_l = np.ascontiguousarray(system.P_l)
        self.P_g, self.P_l = P_g, P_l
        # R: r_Delta of eq. (6); with stochastic rewards (Theorem 0.13) and m samples, the
        # average of the entry's m fixed noisy reward draws (learn/reward_noise.py). The exact
        # operator (m=None) is the expectation: it keeps the means.
        noisy = m is not None and system.reward_noise is not None
        if algorithm == "mean_field":
            self.R = mean_field_reward(system, k, self.Zt).ravel()
            if noisy:
                add_mean_field_noise(self.R, system, k, m, self.Zt, seed)
            self.shape = self.mf_shape
        else:
            self.Ns = S_g * S_l**k
            self.Na = A_g * A_l**k
            self.R = tabular_reward(system, k).ravel()
            if noisy:
                add_tabular_noise(self.R, system, k, m, seed)
            self.shape = (S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k
        self.size = self.R.shape[0]
        if m is not None:
            cdfs = cdf_tables(P_g, P_l)
            if algorithm == "mean_field":
                dtype = np.int32 if _index_itemsize(S_g * S_l * self.Cs) == 4 else np.int64
                self.idx = np.empty(self.size * m, dtype=dtype)
                sample_mean_field(*cdfs, self.Zt, A_l, m, seed, self.idx)
            else:
                dtype = np.int32 if _index_itemsize(self.Ns) == 4 else np.int64
                self.idx = np.empty(self.size * m, dtype=dtype)
                sample_tabular(*cdfs, k, m, seed, self.idx)
        elif algorithm == "mean_field":
            self.csr = exact_mean_field(P_l, S_g, self.Zt, A_l)

    def _mf_tables(self, Q5):
        mf_argmax(Q5, self.mr, self.V, self.pi_g, self.pi_l)
        return self.V

    def step(self, Q_old, Q_new) -> float:
        """``Q_new = T Q_old`` (flat buffers); returns ``||Q_new - Q_old||_inf``."""
        if self.algorithm == "mean_field":
            V = self._mf_tables(Q_old.reshape(self.mf_shape))
            if self.m is not None:
                return apply_sampled(
                    self.R, V.ravel(), self.idx, self.m, self.gamma, Q_old, Q_new, _NBLOCKS
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
        V1 = Q_old.reshape(self.Ns, self.Na).max(axis=1)
        if self.m is not None:
            return apply_sampled(self.R, V1, self.idx, self.m, self.gamma, Q_old, Q_new, _NBLOCKS)
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
        """``V, pi_g, pi_l`` of a flat ``Q`` (for Algorithm 1: folded at canonical
        representatives first, see :func:`smfq_lib.learn.tabular.fold`)."""
        s = self.system
        if self.algorithm == "mean_field":
            Q5 = Q.reshape(self.mf_shape)
        else:
            Q5 = fold(Q.reshape(self.Ns, self.Na), self.Zt, self.k, s.S_g, s.S_l, s.A_l, s.A_g)
        self._mf_tables(Q5)
        return self.V.copy(), self.pi_g.copy(), self.pi_l.copy()


def _default_max_iter(gamma, r_max, threshold) -> int:
    """Iterations after which the contraction bound ``gamma^t max|R|`` on the residual (and so
    ``gamma^t max|R| / (1 - gamma)`` on the error) is below ``threshold``, plus a margin of 10."""
    if r_max <= threshold:
        return 10
    return int(math.ceil(math.log(threshold / r_max) / math.log(gamma))) + 10


def learn(
    system,
    k,
    m=None,
    *,
    algorithm="auto",
    tol=1e-8,
    max_iter=None,
    seed=0,
    progress=True,
    memory_budget=None,
) -> SubsampledQ:
    """Learn ``Q_{k,m}^est`` (Algorithms 1, 2; eq. 8, 9) or, with ``m=None``, ``Q_k*`` (eq. 12).

    Parameters
    ----------
    system : CooperativeSystem.
    k : number of sampled local agents, ``k >= 1`` (``k = 1``: agent 1 alone).
    m : samples per (state, action) entry, drawn once and reused every iteration so that the
        empirical operator has a fixed point; ``None``: the exact expectation.
    algorithm : ``"auto"`` (paper's rule: Algorithm 1 iff ``|Z_l|^(k-1) <= k^|Z_l|``),
        ``"tabular"`` (Algorithm 1) or ``"mean_field"`` (Algorithm 2).
    tol : stop when ``||Q^{t+1} - Q^t||_inf <= tol (1 - gamma) / gamma``.
    max_iter : iteration cap (default: the contraction bound's count for ``tol``, plus 10).
    seed : key of the counter-based RNG; the samples do not depend on the thread count.
    progress : tqdm bar over iterations showing the residual.
    memory_budget : bytes allowed for the tables (default: half the available memory).

    Raises ``ValueError`` on bad arguments or when the tables would exceed the budget (with their
    size in GiB and the largest ``k`` that would fit).
    """
    t0 = time.perf_counter()
    _validate(system, k, m, algorithm, tol, max_iter, seed, progress, memory_budget)
    k = int(k)
    m = None if m is None else int(m)
    alg, reason = choose_algorithm(system.Z_l, k, algorithm)
    budget = default_budget() if memory_budget is None else int(memory_budget)
    need = table_bytes(system, k, m, alg)
    if need > budget:
        best = _largest_k(system, m, algorithm, budget, k)
        fit = (
            f"The largest k that would fit with algorithm={algorithm!r} is {best}."
            if best
            else f"Not even k = 1 fits with algorithm={algorithm!r}."
        )
        if alg == "tabular":
            other = _largest_k(system, m, "mean_field", budget, k)
            fit += f" With algorithm='mean_field' the largest k is {other}."
        if m is not None:
            fit += " A smaller m also shrinks the stored samples."
        check_fits(
            f"learn(k={k}, m={m}, {alg}): Q, R, V and "
            + ("the exact distributions" if m is None else "the stored samples"),
            need,
            budget,
            hint=fit + f" ({reason}.) Pass memory_budget= to raise the budget.",
        )
    work = table_bytes(system, k, m, alg) // 8
    with _threads_for(work):
        return _run(system, k, m, alg, reason, tol, max_iter, int(seed), progress, t0)


def _run(system, k, m, alg, reason, tol, max_iter, seed, progress, t0) -> SubsampledQ:
    op = _Operator(system, k, m, alg, seed)
    gamma = system.gamma
    threshold = tol * (1.0 - gamma) / gamma
    r_max = float(np.abs(op.R).max()) if op.size else 0.0
    n_iter = _default_max_iter(gamma, r_max, threshold) if max_iter is None else int(max_iter)

    Q = np.zeros(op.size)
    Q_new = np.empty(op.size)
    residuals = []
    from tqdm.auto import tqdm

    with tqdm(total=n_iter, disable=not progress, desc=f"learn k={k} {alg} m={m}") as bar:
        for _ in range(n_iter):
            res = float(op.step(Q, Q_new))
            Q, Q_new = Q_new, Q
            residuals.append(res)
            bar.set_postfix_str(f"residual={res:.3e}", refresh=False)
            bar.update()
            if res <= threshold:
                break
    if residuals[-1] > threshold:
        warnings.warn(
            f"learn stopped after max_iter={n_iter} iterations with residual {residuals[-1]:.3g} "
            f"> tol (1 - gamma) / gamma = {threshold:.3g}; raise max_iter for tol={tol}.",
            RuntimeWarning,
            stacklevel=3,
        )
    V, pi_g, pi_l = op.policy_tables(Q)
    return SubsampledQ(
        k=k,
        m=m,
        algorithm=alg,
        reason=reason,
        Q=Q.reshape(op.shape),
        V=V,
        pi_g=pi_g,
        pi_l=pi_l,
        residuals=np.asarray(residuals),
        seconds=time.perf_counter() - t0,
        seed=seed,
    )
