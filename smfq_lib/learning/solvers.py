"""Two solvers for the fixed point ``Q = T Q`` of one Bellman operator (empirical eq. 8/9 with
fixed samples, or exact eq. 12): value iteration (Algorithms 1, 2 as printed) and policy
iteration (Howard), which reaches the same fixed point in a handful of sweeps.

Both see the operator through :class:`smfq_lib.learning.operator.Operator`: ``T Q =
backup(value_table(Q))`` where ``value_table`` is the max of ``Q`` over each value state's
actions and ``backup(V) = R + gamma E V(next)``. The operator is the Bellman operator of an MDP
on the value table's states (Algorithm 2: ``(s_g, s_1, c)``; Algorithm 1: the joint states
``(s_g, s_1..s_k)``) whose actions at a state are its ``Q`` entries; with fixed samples it is an
empirical MDP, whose transition law is the samples' frequencies.

* :func:`value_iteration`: ``Q^{t+1} = T Q^t`` from ``Q^0 = 0`` until ``||Q^{t+1} - Q^t||_inf <=
  tol (1 - gamma) / gamma`` (then ``||Q^{t+1} - Q_fix||_inf <= tol``).
* :func:`policy_iteration`: from ``Q = T 0 = R``, repeat: improvement (the greedy entry of every
  value state, keeping the current one while it is within a tie tolerance of the max, so that
  ties cannot make it cycle), then, if the policy changed, evaluation (solve
  ``(I - gamma P_pi) V = R_pi`` on the value states, :func:`evaluate_policy`) and one backup
  ``Q = R + gamma E V_pi``; if it did not change, one value-iteration step ``Q <- T Q``. It stops
  when ``||T Q - Q||_inf`` (or a bound on it) meets the same rule, so it returns a ``Q`` with
  the same guarantee (``||Q - Q_fix||_inf <= tol``).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.sparse.linalg import LinearOperator, gmres, spsolve

from smfq_lib._utils.blas import one_blas_thread
from smfq_lib._utils.chunks import run_chunks

__all__ = [
    "SOLVERS",
    "QuietBar",
    "SolveStats",
    "default_max_iter",
    "evaluate_policy",
    "policy_iteration",
    "threads_for",
    "value_iteration",
]

SOLVERS = ("auto", "policy_iteration", "value_iteration")
#: Policy evaluation of an exact operator solves densely (LU) up to this many value states, by
#: GMRES above; sampled operators' chains are sparse and always get a sparse LU.
DENSE_MAX = 2500
#: Policy evaluations before policy iteration gives up improving and only iterates values (a
#: guard against round-off cycles; never reached in the tests).
MAX_EVALUATIONS = 100
#: Policy iteration keeps a value state's entry while it is within ``min(PI_TIE_RTOL (1 + |max|),
#: tol (1 - gamma) / (4 gamma))`` of the max: its own rule (it only has to stop cycling on ties
#: and certify the tolerance), separate from the execution tie rules of the greedy tables.
PI_TIE_RTOL = 1e-11
#: Below this much work per iteration (entries x samples) kernels run on one thread: a parallel
#: launch costs more than the work, and far more on a loaded machine. Results do not depend on it.
SERIAL_WORK = 2_000_000


class QuietBar:
    """What a solver calls on its progress bar, doing nothing: for callers that show no bar
    (a disabled tqdm costs tens of microseconds to build, which small solves notice)."""

    def set_postfix_str(self, *args, **kwargs) -> None:
        pass

    def update(self, *args, **kwargs) -> None:
        pass


@dataclass
class SolveStats:
    """What a solver did: sweeps (backups of the whole ``Q``), policy evaluations (linear
    solves) and their seconds, the residual of every sweep; ``values``: the value table (max
    of the returned ``Q`` over each value state's entries) when the last step computed it."""

    solver: str
    sweeps: int = 0
    solves: int = 0
    solve_seconds: float = 0.0
    residuals: list = field(default_factory=list)
    values: np.ndarray | None = None


@contextlib.contextmanager
def threads_for(work: int):
    """Run the enclosed kernels on one thread when ``work`` is small (restored afterwards)."""
    before = numba.get_num_threads()
    if work < SERIAL_WORK:
        numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def default_max_iter(gamma, r_max, threshold) -> int:
    """Iterations after which the contraction bound ``gamma^t max|R|`` on the residual (and so
    ``gamma^t max|R| / (1 - gamma)`` on the error) is below ``threshold``, plus a margin of 10."""
    if not r_max > threshold:  # also a NaN or infinite r_max: the solver then raises
        return 10
    return int(math.ceil(math.log(threshold / r_max) / math.log(gamma))) + 10


def _checked(res: float, sweep: int) -> float:
    """``res``, or ``ValueError`` if it is NaN or infinite (``NaN <= tol`` is False, but so is
    ``NaN > tol``: a NaN must not pass for convergence)."""
    if not math.isfinite(res):
        raise ValueError(
            f"the residual of sweep {sweep} is {res}: Q overflowed or became NaN. The rewards "
            "(and 1 / (1 - gamma)) must keep every value finite in float64; rescale them."
        )
    return res


def _finite(Q, stats):
    """``Q``, or ``ValueError`` if an entry is NaN or infinite (the kernels' residuals skip NaN
    entries, so the last sweep's residual alone cannot tell)."""
    bad = np.flatnonzero(~np.isfinite(Q))
    if bad.size:
        raise ValueError(
            f"Q[{bad[0]}] = {Q[bad[0]]} after {stats.sweeps} sweeps: Q overflowed or became NaN. "
            "The rewards (and 1 / (1 - gamma)) must keep every value finite in float64."
        )
    return Q, stats


def value_iteration(op, threshold: float, max_sweeps: int, bar) -> tuple[np.ndarray, SolveStats]:
    """``Q^{t+1} = T Q^t`` from ``Q^0 = 0`` until the residual is ``<= threshold`` or
    ``max_sweeps`` sweeps; returns the last ``Q`` (flat) and the stats."""
    stats = SolveStats("value_iteration")
    Q = np.zeros(op.size)
    Q_new = np.empty(op.size)
    for _ in range(max_sweeps):
        res = _checked(float(op.step(Q, Q_new)), stats.sweeps)
        Q, Q_new = Q_new, Q
        stats.sweeps += 1
        stats.residuals.append(res)
        bar.set_postfix_str(f"residual={res:.3e}", refresh=False)
        bar.update()
        if res <= threshold:
            break
    return _finite(Q, stats)


@njit(cache=True, nogil=True)
def _improve(lo, hi, Q, Cz, B, mr, Cs, rtol, atol, V, choice):
    """Improvement over the groups ``g = lo .. hi - 1`` of ``Q`` viewed as ``(G, Cz, B)``: value
    state ``g * Cs + mr[r]`` has the entries ``(g, r, b)``. ``V`` gets the max; ``choice`` (flat
    entry per value state, -1: none) keeps its entry while that is within
    ``min(rtol (1 + |max|), atol)`` of the max, else takes the first maximal entry. Returns the
    number of value states whose entry changed."""
    best = np.empty(Cs)
    arg = np.empty(Cs, dtype=np.int64)
    changed = 0
    for g in range(lo, hi):
        best[:] = -np.inf
        arg[:] = -1
        for r in range(Cz):
            c = mr[r]
            o = (g * Cz + r) * B
            for b in range(B):
                if Q[o + b] > best[c]:
                    best[c] = Q[o + b]
                    arg[c] = o + b
        for c in range(Cs):
            v = g * Cs + c
            V[v] = best[c]
            cur = choice[v]
            if cur >= 0 and Q[cur] >= best[c] - min(rtol * (1.0 + abs(best[c])), atol):
                continue
            if cur != arg[c]:
                changed += 1
                choice[v] = arg[c]
    return changed


def improve(op, Q, V, choice, atol) -> int:
    """Greedy improvement of ``choice`` on ``Q`` (see :func:`_improve`); fills ``V``."""
    G, Cz, B, mr, Cs = op.action_view()
    counts = []
    args = (Q, Cz, B, mr, Cs, PI_TIE_RTOL, atol, V, choice)
    run_chunks(lambda a, b: counts.append(_improve(a, b, *args)), G)
    return sum(counts)


@one_blas_thread
def evaluate_policy(chain, r, gamma, x0, atol) -> np.ndarray:
    """``V`` solving ``(I - gamma P) V = r`` for the value-state chain ``P`` of a policy.

    ``chain`` is a dense array, a SciPy sparse matrix or a ``LinearOperator`` with ``toarray()``.
    A sparse chain (the samples of an empirical operator): sparse LU. Otherwise, up to
    :data:`DENSE_MAX` states dense LU, above GMRES from ``x0`` to a 2-norm residual ``<= atol``
    (raised to the round-off floor). An inexact
    ``V`` cannot make :func:`policy_iteration` wrong (it only stops on a value-iteration step
    that meets the tolerance); it can only cost it sweeps.
    """
    n = r.shape[0]
    if sp.issparse(chain):
        A = sp.identity(n, format="csc") - gamma * sp.csc_array(chain)
        return spsolve(A, r)
    if n <= DENSE_MAX:
        A = chain.toarray() if not isinstance(chain, np.ndarray) else chain.copy()
        A *= -gamma
        A[np.diag_indices(n)] += 1.0
        return np.linalg.solve(A, r)
    floor = 64 * np.finfo(float).eps * np.sqrt(n) * np.abs(r).max() / (1.0 - gamma)
    A = LinearOperator((n, n), matvec=lambda x: x - gamma * (chain @ x), dtype=float)
    return gmres(A, r, x0=x0, rtol=0.0, atol=max(atol, floor), restart=60, maxiter=50)[0]


def policy_iteration(op, threshold: float, max_sweeps: int, bar) -> tuple[np.ndarray, SolveStats]:
    """Howard's policy iteration on the value states of ``op`` (see the module docstring);
    returns ``Q`` (flat) with ``||T Q - Q||_inf <= threshold`` and the stats.

    Starts from ``Q = T 0 = R`` (no sweep needed). After an evaluation and its backup ``Q = R +
    gamma E V_pi``, an improvement that changes nothing certifies ``Q`` without another sweep:
    ``T Q - Q = gamma E (max Q - V_pi)(next)``, so ``||T Q - Q||_inf <= gamma ||max Q -
    V_pi||_inf``, whatever the accuracy of ``V_pi``; that bound is the last residual recorded.
    """
    stats = SolveStats("policy_iteration")
    Q = op.R.copy()  # T 0, bit for bit: R + gamma * 0
    Q_new = np.empty(op.size)
    res = _checked(float(np.abs(Q).max()) if op.size else 0.0, 0)
    stats.residuals.append(res)
    choice = np.full(op.n_values, -1, dtype=np.int64)
    V_pi = None
    vi_step = True  # Q is T applied to Q = 0
    while not (vi_step and res <= threshold) and stats.sweeps < max_sweeps:
        V = np.empty(op.n_values)
        changed = improve(op, Q, V, choice, threshold / 4)
        if changed == 0 and V_pi is not None:
            bound = _checked(op.gamma * float(np.abs(V - V_pi).max()), stats.sweeps)
            if bound <= threshold:
                stats.residuals.append(bound)
                stats.values = V  # Q is unchanged since the improvement that filled V
                break
        vi_step = changed == 0 or stats.solves >= MAX_EVALUATIONS
        V_pi = None
        if not vi_step:
            t = time.perf_counter()
            V_pi = evaluate_policy(
                op.policy_chain(choice), op.R[choice], op.gamma, V, threshold / 8
            )
            V = V_pi
            stats.solves += 1
            stats.solve_seconds += time.perf_counter() - t
        res = _checked(float(op.backup(V, Q, Q_new)), stats.sweeps)
        Q, Q_new = Q_new, Q
        stats.sweeps += 1
        stats.residuals.append(res)
        bar.set_postfix_str(f"residual={res:.3e} solves={stats.solves}", refresh=False)
        bar.update()
    return _finite(Q, stats)
