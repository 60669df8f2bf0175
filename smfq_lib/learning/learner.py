"""SUBSAMPLE-MFQ learning (Algorithms 1 and 2): the fixed point of the Bellman operator of a
``k``-agent subsystem.

:func:`learn` is the one entry point. It validates its arguments, picks Algorithm 1 (tabular,
eq. 8) or Algorithm 2 (mean-field, eq. 9) (:func:`choose_algorithm`: by default the smaller
table; the paper's rule on request), refuses a table that would not fit in memory, builds that
algorithm's operator (:mod:`smfq_lib.learning.tabular` or :mod:`smfq_lib.learning.mean_field`:
it draws the ``m`` samples per entry once or, with ``m=None``, prepares the exact expectation of
eq. 12), and finds its fixed point from ``Q^0 = 0`` by value iteration (the paper's loop) or
policy iteration (:mod:`smfq_lib.learning.solvers`), stopping on a value-iteration step with
``||Q^{t+1} - Q^t||_inf <= tol (1 - gamma) / gamma`` (then ``||Q^{t+1} - Q_fix||_inf <= tol``).
"""

from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np

from smfq_lib._utils.budget import check_budget, check_fits, default_budget
from smfq_lib._utils.checks import format_count
from smfq_lib.learning.oracle_samples import block_bytes
from smfq_lib.learning.registry import operator_class
from smfq_lib.learning.result import SubsampledQ
from smfq_lib.learning.solvers import (
    SOLVERS,
    default_max_iter,
    policy_iteration,
    threads_for,
    value_iteration,
)
from smfq_lib.model.oracle import GenerativeOracle
from smfq_lib.model.system import CooperativeSystem

__all__ = ["learn", "choose_algorithm", "table_bytes"]

ALGORITHMS = ("auto", "paper", "tabular", "mean_field")
#: Sizes are compared exactly while ``Z_l^(k-1)`` has at most this many bits, in logs above
#: (where the two sides differ by far more than rounding).
_EXACT_BITS = 4096
#: A table of more than ``2^_MAX_LOG2_BYTES`` bytes is refused before its exact size is computed.
_MAX_LOG2_BYTES = 60
#: Policy iteration on Algorithm 1's exact operator up to this many joint states (its policy
#: chain is a dense ``Ns x Ns`` matrix: 288 MB here); value iteration above.
TABULAR_PI_MAX = 6000
#: Algorithm 1 up to this ``k``: its ``Q`` has ``2k + 2`` axes and NumPy arrays hold at most 64.
TABULAR_K_MAX = 31
#: The smallest ``tol`` of :func:`learn`: its stopping threshold ``tol (1 - gamma) / gamma`` and
#: the iteration count derived from it (a logarithm) stay finite and positive for every gamma.
TOL_MIN = 1e-300


def _log_comb(n: int, r: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1)


def _power_text(base: int, exp: int) -> str:
    """``base^exp`` with its value, or its order of magnitude when that is huge."""
    log10 = exp * math.log10(base) if base > 1 else 0.0
    return f"{base}^{exp} = {base**exp}" if log10 < 15 else f"{base}^{exp} ~ 1e{log10:.0f}"


def choose_algorithm(Z_l: int, k: int, algorithm: str = "auto") -> tuple[str, str]:
    """The algorithm that runs and why.

    * ``"auto"``: the smaller table. Algorithm 1's ``Q`` has ``|S_g||A_g||Z_l|^k`` entries,
      Algorithm 2's ``|S_g||A_g||Z_l| C(k+|Z_l|-2, |Z_l|-1)``: Algorithm 1 iff
      ``|Z_l|^(k-1) <= C(k+|Z_l|-2, |Z_l|-1)`` (a tie, ``k <= 2`` or ``|Z_l| = 1``, goes to
      Algorithm 1, as in the paper). Both compute the same ``Q`` on matching entries, and the
      smaller table is the faster one.
    * ``"paper"``: the paper's rule (section Method): Algorithm 1 iff ``|Z_l|^(k-1) <=
      k^|Z_l|``, which uses the O-form ``k^|Z_l|`` of the mean-field count and so picks
      Algorithm 1 where Algorithm 2 is up to ``~|Z_l|!`` times smaller.
    * ``"tabular"`` / ``"mean_field"``: the caller's choice.

    Algorithm 1 runs only for ``k <= TABULAR_K_MAX`` (its ``Q`` has the ``2k + 2`` axes
    ``(S_g, S_l^k, A_g, A_l^k)`` and NumPy arrays hold at most 64): ``"auto"`` takes Algorithm 2
    beyond (only ``|Z_l| = 1`` ties there), and :func:`learn` refuses Algorithm 1 beyond.

    Exact integers while ``|Z_l|^(k-1)`` is below ``2^4096``, logarithms above (instant for any
    ``k``).
    """
    if algorithm not in ("auto", "paper"):
        return algorithm, f"requested by the caller (algorithm={algorithm!r})"
    if k > TABULAR_K_MAX and algorithm == "auto":  # |Z_l| = 1: the sizes tie at every k
        return "mean_field", (
            f"auto: k = {k} > {TABULAR_K_MAX}, Algorithm 1's Q would have 2k + 2 axes, more than "
            "NumPy's 64 -> Algorithm 2 (mean-field)"
        )
    exact = (k - 1) * math.log2(max(Z_l, 1)) <= _EXACT_BITS
    lhs = _power_text(Z_l, k - 1)
    if algorithm == "paper":
        tab = Z_l ** (k - 1) <= k**Z_l if exact else (k - 1) * math.log(Z_l) <= Z_l * math.log(k)
        rhs, rule = f"k^|Z_l| = {_power_text(k, Z_l)}", "paper's rule"
    else:
        C = (k + Z_l - 2, Z_l - 1)
        if exact:
            tab = Z_l ** (k - 1) <= math.comb(*C)
            rhs = f"C(k+|Z_l|-2, |Z_l|-1) = C({C[0]}, {C[1]}) = {math.comb(*C)}"
        else:
            tab = (k - 1) * math.log(Z_l) <= _log_comb(*C)
            log10 = _log_comb(*C) / math.log(10)
            rhs = f"C(k+|Z_l|-2, |Z_l|-1) = C({C[0]}, {C[1]}) ~ 1e{log10:.0f}"
        rule = "smaller table"
    head = f"{algorithm} ({rule}): |Z_l|^(k-1) = {lhs}"
    if tab:
        return "tabular", f"{head} <= {rhs} -> Algorithm 1 (tabular)"
    return "mean_field", f"{head} > {rhs} -> Algorithm 2 (mean-field)"


def _log2_table_bytes(system, k: int, algorithm: str) -> float:
    """``log2`` of the bytes of four Q-sized buffers (a lower bound on :func:`table_bytes`)."""
    S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
    if algorithm == "tabular":
        entries = math.log2(S_g * A_g) + k * math.log2(Z_l)
    else:
        entries = math.log2(S_g * S_l * A_l * A_g) + _log_comb(k + Z_l - 2, Z_l - 1) / math.log(2)
    return entries + 5


def table_bytes(system, k: int, m: int | None, algorithm: str, solver: str = "auto") -> int:
    """Bytes :func:`learn` allocates for ``(k, m, algorithm, solver)`` (``algorithm`` resolved,
    not ``"auto"``): two Q buffers, R (and its construction temporary), V and the policy tables,
    the composition tables, and the stored samples (at most ``m`` (index, multiplicity) pairs
    per entry) or, for ``m=None``, the exact operator's working tables; with policy iteration,
    also the policy's transition chain (Algorithm 1's exact operator: a dense matrix over the
    joint states). Each operator counts its own (``TabularOperator.table_bytes``,
    ``MeanFieldOperator.table_bytes``). Algorithm 1 past ``2^60`` bytes is refused
    (``ValueError``) without computing the exact size (``|S_l|^k`` for a huge ``k``).

    ``system``: the :class:`~smfq_lib.CooperativeSystem` or
    :class:`~smfq_lib.GenerativeOracle` to learn on (an oracle adds one block of query arrays,
    :func:`~.oracle_samples.block_bytes`).
    """
    if algorithm == "tabular":  # |S_l|^k as an exact integer can take hours: refuse first
        _refuse_astronomical(system, k, algorithm)
    cls = operator_class(algorithm)
    total = cls.table_bytes(system, k, m)
    if _is_oracle(system, m):  # the blocks of queries in flight
        total += block_bytes(system, k, m)
    if _resolve_solver(system, k, m, algorithm, solver) == "policy_iteration":
        total += cls.chain_bytes(system, k, m)
    return total


def _is_oracle(system, m) -> bool:
    """Sampled learning from a :class:`~smfq_lib.GenerativeOracle` (its blocks of queries)."""
    return isinstance(system, GenerativeOracle) and m is not None


def _refuse_astronomical(system, k, algorithm) -> None:
    """``ValueError`` when the Q table alone needs more than ``2^_MAX_LOG2_BYTES`` bytes
    (computed in logs, instantly for any ``k``)."""
    log2 = _log2_table_bytes(system, k, algorithm)
    if log2 > _MAX_LOG2_BYTES:
        raise ValueError(
            f"learn(k={k}, algorithm={algorithm!r}) needs more than 2^{log2:.0f} bytes "
            f"(~1e{log2 * math.log10(2):.0f} bytes; the Q table alone): far beyond any memory. "
            "Use a smaller k (or algorithm='mean_field')."
        )


def _resolve_solver(system, k, m, algorithm, solver, budget=None) -> str:
    """``"auto"`` is policy iteration, except for Algorithm 1's exact operator with more than
    ``TABULAR_PI_MAX`` joint states (its policy chain is a dense matrix over them) and where
    policy iteration's extra memory would not fit ``budget`` but value iteration's would:
    value iteration there."""
    if solver != "auto":
        return solver
    if algorithm == "tabular" and m is None:
        joint = math.log(system.S_g) + k * math.log(system.S_l)  # log Ns, no big powers
        if joint > math.log(TABULAR_PI_MAX):
            return "value_iteration"
    if budget is not None and _log2_table_bytes(system, k, algorithm) <= _MAX_LOG2_BYTES:
        cls = operator_class(algorithm)
        vi = cls.table_bytes(system, k, m)
        if vi <= budget < vi + cls.chain_bytes(system, k, m):
            return "value_iteration"
    return "policy_iteration"


def _largest_k(system, m, algorithm, solver, budget, k_from) -> int:
    """Largest ``k <= k_from`` whose tables fit ``budget`` (0 if not even ``k = 1``); tables
    grow with ``k``, so a doubling then bisection search."""

    def fits(kk):
        alg, _ = choose_algorithm(system.Z_l, kk, algorithm)
        if alg == "tabular" and kk > TABULAR_K_MAX:
            return False
        if _log2_table_bytes(system, kk, alg) > _MAX_LOG2_BYTES:
            return False
        return table_bytes(system, kk, m, alg, solver) <= budget

    if not fits(1):
        return 0
    lo, hi = 1, 2
    while hi <= k_from and fits(hi):
        lo, hi = hi, 2 * hi
    hi = min(hi, k_from + 1)  # fits(lo) holds, fits(hi) fails (or hi = k_from + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _validate(system, k, m, algorithm, solver, tol, max_iter, seed, progress, memory_budget):
    if not isinstance(system, CooperativeSystem | GenerativeOracle):
        raise ValueError(
            f"system must be an smfq_lib.CooperativeSystem or an smfq_lib.GenerativeOracle; got "
            f"{type(system).__name__}. Build one with CooperativeSystem(P_g, P_l, r_g, r_l, "
            "gamma) or GenerativeOracle(S_g=, S_l=, A_g=, A_l=, gamma=, r_g=, r_l=, "
            "sample_global=, sample_local=)."
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
    if m is None and isinstance(system, GenerativeOracle):
        raise ValueError(
            "m=None asks for the exact operator (eq. 12), an expectation under P_g and P_l: it "
            "needs the transition model (a CooperativeSystem), which a GenerativeOracle does not "
            "have. Pass m (samples per entry, eq. 8/9) to learn from the oracle's draws."
        )
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}; got {algorithm!r}.")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}; got {solver!r}.")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not TOL_MIN <= tol < math.inf:
        raise ValueError(f"tol must be a finite float >= {TOL_MIN:g} (e.g. 1e-8); got {tol!r}.")
    if max_iter is not None and (not is_int(max_iter) or max_iter < 1):
        raise ValueError(f"max_iter must be None (automatic) or an int >= 1; got {max_iter!r}.")
    if not is_int(seed) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an int in [0, 2**63); got {seed!r}.")
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False; got {progress!r}.")
    check_budget(memory_budget)  # None or a positive finite number (inf, NaN: ValueError)


def learn(
    system,
    k,
    m=None,
    *,
    algorithm="auto",
    solver="auto",
    tol=1e-8,
    max_iter=None,
    seed=0,
    progress=True,
    memory_budget=None,
) -> SubsampledQ:
    """Learn ``Q_{k,m}^est`` (Algorithms 1, 2; eq. 8, 9) or, with ``m=None``, ``Q_k*`` (eq. 12).

    Parameters
    ----------
    system : CooperativeSystem, or a GenerativeOracle (:mod:`smfq_lib.model.oracle`): the
        black-box oracle of Algorithms 1 and 2. From an oracle the ``m`` fixed samples are drawn
        through its samplers, in blocks (:mod:`smfq_lib.learning.oracle_samples`); ``m=None``
        (the exact operator) needs the transition model and is refused. The result's
        ``oracle_calls`` counts the draws either way.
    k : number of sampled local agents, ``k >= 1`` (``k = 1``: agent 1 alone).
    m : samples per (state, action) entry, drawn once and reused every iteration so that the
        empirical operator has a fixed point; ``None``: the exact expectation.
    algorithm : ``"auto"`` (the smaller table, see :func:`choose_algorithm`), ``"paper"`` (the
        paper's rule: Algorithm 1 iff ``|Z_l|^(k-1) <= k^|Z_l|``), ``"tabular"`` (Algorithm 1)
        or ``"mean_field"`` (Algorithm 2). The result records which rule chose, and why.
    solver : ``"value_iteration"`` (Algorithms 1, 2 as printed: ``Q^{t+1} = T Q^t``),
        ``"policy_iteration"`` (Howard's, on the value table's states; the same fixed point in a
        handful of sweeps, :mod:`smfq_lib.learning.solvers`) or ``"auto"`` (the default): policy
        iteration, which is the faster everywhere measured (``benchmarks/bench_solve.py``),
        except for Algorithm 1's exact operator with more than ``TABULAR_PI_MAX`` joint states
        (dense policy chain) or when only value iteration fits ``memory_budget``: value
        iteration there. The result records the solver that ran.
    tol : both solvers stop on a value-iteration step with ``||Q^{t+1} - Q^t||_inf <= tol (1 -
        gamma) / gamma``, so ``||Q - Q_fix||_inf <= tol``.
    max_iter : cap on sweeps (backups of the whole ``Q``; default: value iteration's
        contraction-bound count for ``tol``, plus 10).
    seed : key of the counter-based RNG; the samples do not depend on the thread count.
    progress : tqdm bar over sweeps showing the residual.
    memory_budget : bytes allowed for the tables (default: half the available memory); a
        positive finite number (``float("inf")`` is refused with a ``ValueError``).

    Raises ``ValueError`` on bad arguments, when the tables would exceed the budget (with their
    size in GiB and the largest ``k`` that would fit), and when ``Q`` stops being finite (a NaN
    or infinite residual: rewards too large for float64).
    """
    t0 = time.perf_counter()
    _validate(system, k, m, algorithm, solver, tol, max_iter, seed, progress, memory_budget)
    k = int(k)
    m = None if m is None else int(m)
    alg, reason = choose_algorithm(system.Z_l, k, algorithm)
    _refuse_astronomical(system, k, alg)
    if alg == "tabular" and k > TABULAR_K_MAX:
        raise ValueError(
            f"k = {format_count(k)} is too large for Algorithm 1 ({reason}): its Q has 2k + 2 "
            f"axes (S_g, S_l^k, A_g, A_l^k) and NumPy arrays hold at most 64, so k <= "
            f"{TABULAR_K_MAX}. Pass algorithm='mean_field' (Algorithm 2, the same fixed point) "
            "or 'auto'."
        )
    budget = default_budget() if memory_budget is None else int(memory_budget)
    solver = _resolve_solver(system, k, m, alg, solver, budget)
    need = table_bytes(system, k, m, alg, solver)
    if need > budget:
        best = _largest_k(system, m, algorithm, solver, budget, k)
        fit = (
            f"The largest k that would fit with algorithm={algorithm!r} is {best}."
            if best
            else f"Not even k = 1 fits with algorithm={algorithm!r}."
        )
        if alg == "tabular":
            other = _largest_k(system, m, "mean_field", solver, budget, k)
            fit += f" With algorithm='mean_field' the largest k is {other}."
        if m is not None:
            fit += " A smaller m also shrinks the stored samples."
        check_fits(
            f"learn(k={k}, m={m}, {alg}, {solver}): Q, R, V and "
            + ("the exact operator's tables" if m is None else "the stored samples"),
            need,
            budget,
            hint=fit + f" ({reason}.) Pass memory_budget= to raise the budget.",
        )
    work = need - (block_bytes(system, k, m) if _is_oracle(system, m) else 0)  # tables only
    with threads_for(work // 8):
        return _run(system, k, m, alg, reason, solver, tol, max_iter, int(seed), progress, t0)


def _run(system, k, m, alg, reason, solver, tol, max_iter, seed, progress, t0) -> SubsampledQ:
    op = operator_class(alg)(system, k, m, seed)
    gamma = system.gamma
    threshold = tol * (1.0 - gamma) / gamma
    r_max = float(np.abs(op.R).max()) if op.size else 0.0
    n_iter = default_max_iter(gamma, r_max, threshold) if max_iter is None else int(max_iter)
    run = policy_iteration if solver == "policy_iteration" else value_iteration
    from tqdm.auto import tqdm

    # total: the sweep cap (value iteration needs about that many from Q = 0); a run that
    # converges earlier ends its bar at 100% (total = the sweeps done)
    with tqdm(total=n_iter, disable=not progress, desc=f"learn k={k} {alg} m={m}") as bar:
        Q, stats = run(op, threshold, n_iter, bar)
        if bar.n < bar.total and stats.residuals[-1] <= threshold:
            bar.total = bar.n
            bar.refresh()
    if stats.residuals[-1] > threshold:
        warnings.warn(
            f"learn stopped after max_iter={n_iter} sweeps with residual "
            f"{stats.residuals[-1]:.3g} > tol (1 - gamma) / gamma = {threshold:.3g}; raise "
            f"max_iter for tol={tol}.",
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
        residuals=np.asarray(stats.residuals),
        seconds=time.perf_counter() - t0,
        seed=seed,
        solver=stats.solver,
        sweeps=stats.sweeps,
        solves=stats.solves,
        solve_seconds=stats.solve_seconds,
        system_fingerprint=system.fingerprint,
        oracle_calls=op.oracle_calls,
    )
