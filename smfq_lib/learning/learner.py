"""SUBSAMPLE-MFQ learning (Algorithms 1 and 2): value iteration on a ``k``-agent subsystem.

:func:`learn` is the one entry point. It validates its arguments, picks Algorithm 1 (tabular,
eq. 8) or Algorithm 2 (mean-field, eq. 9) by the paper's rule (or the caller's choice), refuses a
table that would not fit in memory, builds that algorithm's operator
(:mod:`smfq_lib.learning.tabular` or :mod:`smfq_lib.learning.mean_field`: it draws the ``m``
samples per entry once or, with ``m=None``, prepares the exact expectation of eq. 12), and
iterates it from ``Q^0 = 0`` until ``||Q^{t+1} - Q^t||_inf <= tol (1 - gamma) / gamma`` (then
``||Q^{t+1} - Q_fix||_inf <= tol``).
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
from smfq_lib.learning.operator import operator_class
from smfq_lib.learning.result import SubsampledQ
from smfq_lib.system import CooperativeSystem

__all__ = ["learn", "choose_algorithm", "table_bytes"]

ALGORITHMS = ("auto", "tabular", "mean_field")
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


def table_bytes(system, k: int, m: int | None, algorithm: str) -> int:
    """Bytes :func:`learn` allocates for ``(k, m, algorithm)`` (``algorithm`` resolved, not
    ``"auto"``): two Q buffers, R (and its construction temporary), V and the policy tables, the
    composition tables, and the stored samples (``m`` indices per entry) or, for ``m=None``, the
    exact next-composition distributions (an upper bound on their CSR size; Algorithm 1: the
    exact operator's contraction buffers). Each operator counts its own
    (``TabularOperator.table_bytes``, ``MeanFieldOperator.table_bytes``)."""
    return operator_class(algorithm).table_bytes(system, k, m)


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
    op = operator_class(alg)(system, k, m, seed)
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
