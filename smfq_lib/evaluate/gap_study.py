"""Chapter 8's experiment: exact gap curves over ``k`` beside Theorem 0.11, and their slopes.

* :func:`gap_curves` -- for every ``k`` of a list: learn ``pi_k^est`` (exact operator, eq. 12)
  and, per tie rule, the exact gap at a start state and its worst case over start states
  (:mod:`smfq_lib.evaluate.worst_case`), with the bound of Theorem 0.11 (both readings,
  :func:`smfq_lib.theory.gap_bound`).
* :func:`loglog_slope` -- least-squares slope of ``log y`` on ``log k`` over a stated range.
* :func:`shape_constant` -- the one constant ``C`` that best fits ``y ~ C sqrt((n-k+1)/(nk))``,
  the shape of Theorem 0.11's first term, in log space.

No wall time enters the returned curves; the learning time of each ``k`` is returned apart
(``learn_seconds``), so that tables of the curves stay deterministic.
"""

from __future__ import annotations

import numpy as np

from smfq_lib._utils.checks import check_int
from smfq_lib.evaluate.values import gap, optimal_value_table
from smfq_lib.evaluate.worst_case import worst_case_gap
from smfq_lib.learning.policy import RULES
from smfq_lib.theory import gap_bound

__all__ = ["GAP_FLOOR", "gap_curves", "loglog_slope", "shape", "shape_constant"]


def gap_curves(system, n, ks, *, rules=("coordinated",), start=None, algorithm="auto", tol=1e-8):
    """Exact gap curves of ``pi_k^est`` on ``n`` agents for every ``k`` in ``ks``.

    ``start``: the chapter's start state, a dict of :func:`smfq_lib.evaluate.gap`'s keywords
    (``{"s_g": 0, "counts": (20, 30)}`` or ``{"initial": iid_initial(system)}``), or None.
    Returns a dict of arrays over ``ks``: ``k``; per rule ``r``: ``worst_r`` (the worst case
    over start states), ``worst_sg_r`` and ``worst_counts_r`` (a maximising state, counts as
    text ``"c_0 c_1 ..."``), ``start_r`` (the gap at ``start``, when given); ``bound_printed``,
    ``bound_scaled`` (Theorem 0.11, both readings); ``algorithm`` (the learner ``learn`` chose);
    and ``learn_seconds`` (wall time, the only non-deterministic entry).
    """
    n = check_int("n", n, 1, fix="n is the number of local agents.")
    ks = [check_int("k", k, 1, n, fix=f"Every k must satisfy 1 <= k <= n = {n}.") for k in ks]
    bad = [r for r in rules if r not in RULES]
    if isinstance(rules, str) or not rules or bad:
        raise ValueError(f"rules must be a non-empty sequence of {RULES}; got {rules!r}.")
    from smfq_lib.learning import learn

    optimal_value_table(system, n)  # V* once (cached): every gap below reads it
    sizes = (system.S_l, system.A_l, system.A_g)
    out: dict = {"k": np.array(ks), "algorithm": [], "learn_seconds": []}
    for reading in ("printed", "scaled"):
        out[f"bound_{reading}"] = np.array(
            [gap_bound(system.r_tilde, system.gamma, n, k, *sizes, reading=reading) for k in ks]
        )
    cols = {f"{what}_{r}": [] for r in rules for what in ("worst", "worst_sg", "worst_counts")}
    cols.update({f"start_{r}": [] for r in rules} if start is not None else {})
    for k in ks:
        q = learn(system, k, None, algorithm=algorithm, tol=tol, progress=False)
        out["algorithm"].append(q.algorithm)
        out["learn_seconds"].append(q.seconds)
        for rule in rules:
            worst, (s_g, counts) = worst_case_gap(system, n, q, rule=rule)
            cols[f"worst_{rule}"].append(worst)
            cols[f"worst_sg_{rule}"].append(s_g)
            cols[f"worst_counts_{rule}"].append(" ".join(map(str, counts)))
            if start is not None:  # the tables are cached: this reads them
                cols[f"start_{rule}"].append(gap(system, q, n, **start, rule=rule))
    out.update({key: np.array(v) for key, v in cols.items()})
    out["learn_seconds"] = np.array(out["learn_seconds"])
    return out


#: Gaps at or below this are 0 to the solvers' tolerance (``V*`` to 1e-12, ``pi_k^est`` to 1e-8).
GAP_FLOOR = 1e-9


def loglog_slope(k, y, lo=1, hi=None, floor=GAP_FLOOR) -> float:
    """Least-squares slope of ``log y`` against ``log k`` over ``lo <= k <= hi`` (``hi`` None: all
    ``k``), using only the points with ``y > floor``; ``ValueError`` with fewer than two."""
    k, y = np.asarray(k, dtype=float), np.asarray(y, dtype=float)
    hi = k.max() if hi is None else hi
    use = (k >= lo) & (k <= hi) & (y > floor)
    if use.sum() < 2:
        raise ValueError(
            f"loglog_slope needs at least two points with y > floor in {lo} <= k <= {hi}; got "
            f"{int(use.sum())}. Widen the range."
        )
    return float(np.polyfit(np.log(k[use]), np.log(y[use]), 1)[0])


def shape(n, k) -> np.ndarray:
    """``sqrt((n - k + 1) / (n k))``: the ``k``-dependence of Theorem 0.11's first term."""
    k = np.asarray(k, dtype=float)
    return np.sqrt((n - k + 1) / (n * k))


def shape_constant(n, k, y, lo=1, hi=None, floor=GAP_FLOOR) -> float:
    """The ``C`` minimising ``sum (log y - log(C shape(n, k)))^2`` over ``lo <= k <= hi`` and
    ``y > floor``: ``C = exp(mean(log y - log shape))``, one constant, no free exponent."""
    k, y = np.asarray(k, dtype=float), np.asarray(y, dtype=float)
    hi = k.max() if hi is None else hi
    use = (k >= lo) & (k <= hi) & (y > floor)
    if not use.any():
        raise ValueError(f"shape_constant needs a point with y > floor in {lo} <= k <= {hi}.")
    return float(np.exp(np.mean(np.log(y[use]) - np.log(shape(n, k[use])))))
