"""Chapter 11's driver: the exact gap of the learned policy against the generative-oracle calls
it cost (sample complexity, Remark 0.7, Discussion 0.12, Lemma 0.9).

A point of the sweep (:func:`gap_point`) learns ``Q_{k,m}^est`` with ``m`` samples per entry
(Algorithms 1, 2; eq. 8, 9) on ``k`` agents of one of the :data:`INSTANCES`, evaluates the
worst-case gap of its policy over every start state of ``n`` agents exactly
(:func:`smfq_lib.evaluate.worst_case.worst_case_gap`, tie rule
:data:`~smfq_lib.learning.policy.DEFAULT_RULE`: the quantity that tests Theorem 0.11, docs/design.md
§5) and records the oracle calls its ``learn`` made (``q.oracle_calls``: one global and ``k``
local draws per sample). ``k = n`` with Algorithm 2 is mean-field value iteration on all ``n``
agents fed the same oracle: Remark 0.7's comparator, the baseline.

Then, on the table of means over learning seeds (:func:`summarize`): the Pareto frontier of
calls against gap (:func:`frontier`), the best ``(k, m)`` under a call budget
(:func:`best_under_budget`), SUBSAMPLE-MFQ against the baseline budget by budget
(:func:`compare`), the ``m`` from which the gap no longer moves (:func:`settled_m`), and the
paper's O-forms of the calls beside the exact count (:func:`predicted_calls`,
:func:`calls_per_sample`). Means are compared with the round-off tolerance
:data:`~smfq_lib._utils.rounding.ROUNDOFF`: a point improves on another only by more than it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from smfq_lib._utils.checks import check_int
from smfq_lib._utils.rounding import ROUNDOFF
from smfq_lib.evaluate.worst_case import worst_case_gap
from smfq_lib.learning import choose_algorithm, learn
from smfq_lib.learning.policy import DEFAULT_RULE
from smfq_lib.model.examples import majority_mode, random_system
from smfq_lib.theory import oracle_calls

__all__ = [
    "INSTANCES",
    "best_under_budget",
    "calls_per_sample",
    "compare",
    "exact_gaps",
    "frontier",
    "gap_point",
    "instance",
    "predicted_calls",
    "settled_m",
    "summarize",
]

#: The chapter's systems by name: ``majority_mode()`` (``|Z_l| = 2``: the baseline's table grows
#: like ``n``) and chapter 8's ``random_system(2, 2, 2, 2, seed=25)`` (``|Z_l| = 4``: like
#: ``n^3``).
INSTANCES = {
    "majority_mode": lambda: majority_mode(),
    "random_system_25": lambda: random_system(2, 2, 2, 2, seed=25),
}


@functools.cache
def instance(name: str):
    """The system :data:`INSTANCES` names, built once per process (so that the exact ``V*`` of
    :mod:`smfq_lib.evaluate`, cached by system, is solved once per ``n``)."""
    if name not in INSTANCES:
        raise ValueError(f"instance must be one of {sorted(INSTANCES)}; got {name!r}.")
    return INSTANCES[name]()


def _algorithm(k: int, n: int) -> str:
    """Mean-field value iteration at ``k = n`` (Remark 0.7's comparator), else the smaller table."""
    return "mean_field" if k == n else "auto"


def gap_point(instance_name, n, k, m, seed) -> dict:
    """One sweep point: learn with ``m`` samples per entry (learning seed ``seed``) on ``k`` of
    ``n`` agents of ``instance(instance_name)``; return the exact worst-case gap over start
    states (``gap``), a start state attaining it (``worst_s_g``, ``worst_counts`` as text), the
    algorithm that ran and the oracle calls its ``learn`` recorded (``q.oracle_calls``):
    ``calls_global``, ``calls_local`` and ``calls`` (their sum; the count of
    :func:`smfq_lib.theory.oracle_calls`). ``k = n`` runs Algorithm 2 (the baseline), other ``k``
    the smaller table."""
    system = instance(instance_name)
    n = check_int("n", n, 1)
    k = check_int("k", k, 1, n, fix="k agents are sampled out of n.")
    m = check_int("m", m, 1, fix="m is the number of samples per entry.")
    q = learn(system, k, m, algorithm=_algorithm(k, n), seed=seed, progress=False)
    gap, (s_g, counts) = worst_case_gap(system, n, q, rule=DEFAULT_RULE)
    calls = q.oracle_calls
    return {
        "gap": gap,
        "worst_s_g": s_g,
        "worst_counts": " ".join(map(str, counts)),
        "algorithm": q.algorithm,
        "calls_global": calls["global"],
        "calls_local": calls["local"],
        "calls": calls["global"] + calls["local"],
    }


def exact_gaps(instance_name, n, ks) -> dict:
    """``{k: worst-case gap of pi_k^est}`` with the exact operator (``m = None``, eq. 12): the
    limit of :func:`gap_point` as ``m`` grows, for every ``k`` of ``ks``."""
    system = instance(instance_name)
    return {
        int(k): worst_case_gap(system, n, learn(system, k, None, algorithm=_algorithm(k, n),
                                                progress=False), rule=DEFAULT_RULE)[0]
        for k in ks
    }  # fmt: skip


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(k, m)`` of a table of sweep points (columns ``k, m, seed, gap, calls``):
    ``k, m, calls, seeds, gap_mean, gap_std`` (ddof 0), ``gap_min``, ``gap_max``, sorted by
    ``(k, m)``; ``gap_mean`` divides the correctly rounded sum of the seeds' gaps (``math.fsum``)
    by their number and is held within ``[gap_min, gap_max]`` (equal gaps give that gap, not an
    ulp beside it). The calls must be the same for every seed of a ``(k, m)`` (they do not depend
    on the samples drawn)."""
    missing = sorted({"k", "m", "seed", "gap", "calls"} - set(results.columns))
    if missing:
        raise ValueError(f"results lack the column(s) {missing}; pass the sweep's points.")
    if results.groupby(["k", "m"])["calls"].nunique().max() > 1:
        raise ValueError("calls differ between the seeds of one (k, m); they cannot.")
    g = results.groupby(["k", "m"], sort=True)
    out = g.agg(
        calls=("calls", "first"),
        seeds=("seed", "nunique"),
        gap_mean=("gap", lambda x: math.fsum(x) / len(x)),
        gap_std=("gap", lambda x: float(np.std(x))),
        gap_min=("gap", "min"),
        gap_max=("gap", "max"),
    )
    # the mean lies in [min, max]; in floats it can leave it by an ulp (equal gaps), which the
    # figure's bars from the lowest to the highest seed cannot draw
    out["gap_mean"] = out["gap_mean"].clip(out["gap_min"], out["gap_max"])
    return out.reset_index()


def settled_m(results: pd.DataFrame, k, limit, atol: float = ROUNDOFF):
    """The smallest ``m`` of the sweep points ``results`` (columns ``k, m, gap``) from which on
    every seed's gap at sample size ``k`` is within ``atol`` of ``limit`` (the gap of
    ``pi_k^est`` with the exact operator, :func:`exact_gaps`) at this ``m`` and every larger one
    measured; ``None`` if not even the largest ``m`` is there (or ``k`` has no points)."""
    rows = results[results["k"] == k]
    settled = None
    for m in sorted(set(rows["m"]), reverse=True):
        if not np.all(np.abs(rows.loc[rows["m"] == m, "gap"] - limit) <= atol):
            break
        settled = int(m)
    return settled


def _check_table(table: pd.DataFrame) -> None:
    missing = sorted({"k", "m", "calls", "gap_mean"} - set(table.columns))
    if missing:
        raise ValueError(f"the table lacks the column(s) {missing}; pass summarize(...)'s rows.")


def _order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by calls, then k, then m: the tie-breaks of :func:`frontier` and
    :func:`best_under_budget` (the cheaper, then the smaller subsystem, wins)."""
    return table.sort_values(["calls", "k", "m"], kind="stable").reset_index(drop=True)


def frontier(table: pd.DataFrame, atol: float = ROUNDOFF) -> pd.DataFrame:
    """The Pareto frontier of oracle calls against mean gap: the rows of ``table`` (columns
    ``k, m, calls, gap_mean``) whose mean gap is lower, by more than ``atol``, than that of every
    row with at most as many calls (ties: fewer calls, then smaller ``k``, then smaller ``m``
    first). In increasing calls, so decreasing gap: row ``i`` is the best ``(k, m)`` for every
    budget from its calls up to the next row's."""
    _check_table(table)
    ordered = _order(table)
    rows, best = [], math.inf
    for _, group in ordered.groupby("calls", sort=True):
        low = group["gap_mean"].min()
        i = group.index[group["gap_mean"] <= low + atol][0]  # ties: smaller k, then m
        if ordered.at[i, "gap_mean"] < best - atol:
            rows.append(i)
            best = ordered.at[i, "gap_mean"]
    return ordered.loc[rows].reset_index(drop=True)


def best_under_budget(table: pd.DataFrame, budget, atol: float = ROUNDOFF):
    """The row of ``table`` with the lowest mean gap among those with ``calls <= budget`` (ties
    within ``atol``: fewer calls, then smaller ``k``, then smaller ``m``), as a ``pd.Series``;
    ``None`` when no row fits the budget."""
    front = frontier(table, atol)
    fits = front[front["calls"] <= budget]
    return None if fits.empty else fits.iloc[-1]


def compare(sub: pd.DataFrame, base: pd.DataFrame, budgets, atol: float = ROUNDOFF):
    """SUBSAMPLE-MFQ (``sub``: rows with ``k < n``) against the baseline (``base``: ``k = n``)
    at every budget of ``budgets``: one row per budget with the best of each under it
    (:func:`best_under_budget`: ``sub_k, sub_m, sub_calls, sub_gap``, ``base_m, base_calls,
    base_gap``; counts as pandas' nullable ``Int64``, missing (and the gap NaN) where nothing
    fits) and ``winner``: ``"subsample"`` when its gap is lower by more than ``atol`` (or the
    baseline cannot run), ``"baseline"`` when the baseline's is, ``"tie"`` otherwise
    (``"none"``: neither fits)."""
    rows = []
    for budget in budgets:
        s, b = best_under_budget(sub, budget, atol), best_under_budget(base, budget, atol)
        row = {"budget": budget}
        for prefix, best, keys in (("sub", s, ("k", "m", "calls")), ("base", b, ("m", "calls"))):
            for key in keys:
                row[f"{prefix}_{key}"] = np.nan if best is None else int(best[key])
            row[f"{prefix}_gap"] = np.nan if best is None else float(best["gap_mean"])
        if s is None:
            row["winner"] = "none" if b is None else "baseline"
        elif b is None or s["gap_mean"] < b["gap_mean"] - atol:
            row["winner"] = "subsample"
        elif b["gap_mean"] < s["gap_mean"] - atol:
            row["winner"] = "baseline"
        else:
            row["winner"] = "tie"
        rows.append(row)
    counts = ["sub_k", "sub_m", "sub_calls", "base_m", "base_calls"]
    return pd.DataFrame(rows).astype({key: "Int64" for key in counts})


def predicted_calls(S_g, S_l, A_g, A_l, k, m=1) -> dict:
    """The paper's O-forms of the sample complexity on ``k`` agents with ``m`` samples per entry,
    without their hidden constants and logarithms: Remark 0.7 (``k = n``) and Discussion 0.12
    (fixed ``k``), ``min{|S_g||A_g||Z_l|^k, |S_g||A_g||Z_l| k^|Z_l|} m`` (Discussion 0.12 writes
    ``min{O(|Z_l|^k), O(k^|Z_l|)}``; the factors ``|S_g||A_g|`` and ``|S_g||A_g||Z_l|`` are Remark
    0.7's). Returns ``{"tabular": ..., "mean_field": ..., "min": ...}``, exact Python ints.
    The exact count of :func:`smfq_lib.theory.oracle_calls` differs by the table's true size
    (``C(k+|Z_l|-2, |Z_l|-1) <= k^(|Z_l|-1)`` compositions) and by the ``k + 1`` draws per
    sample."""
    S_g, S_l, A_g, A_l, k, m = (
        check_int(name, v, 1) for name, v in zip(("S_g", "S_l", "A_g", "A_l", "k", "m"),
                                                 (S_g, S_l, A_g, A_l, k, m), strict=True)
    )  # fmt: skip
    Z = S_l * A_l
    tabular, mean_field = S_g * A_g * Z**k * m, S_g * A_g * Z * k**Z * m
    return {"tabular": tabular, "mean_field": mean_field, "min": min(tabular, mean_field)}


def calls_per_sample(system, n, ks) -> dict:
    """Oracle calls per sample (``m = 1``) for every ``k`` of ``ks`` (``k <= n``): the O-forms of
    :func:`predicted_calls` (``form_tabular``, ``form_mean_field``, ``form_min``) and the exact
    count of :func:`smfq_lib.theory.oracle_calls` for the algorithm that runs (``algorithm``:
    ``learn``'s smaller table below ``n``, Algorithm 2 at ``k = n``): ``global`` (one per entry)
    and ``total`` (global + local, ``k + 1`` per entry). Columns as lists of Python ints/str."""
    sizes = (system.S_g, system.S_l, system.A_g, system.A_l)
    out = {key: [] for key in ("k", "algorithm", "form_tabular", "form_mean_field", "form_min",
                               "global", "total")}  # fmt: skip
    for k in ks:
        k = check_int("k", k, 1, n, fix="k agents are sampled out of n.")
        algorithm = "mean_field" if k == n else choose_algorithm(system.Z_l, k)[0]
        calls = oracle_calls(*sizes, k, 1, algorithm)
        form = predicted_calls(*sizes, k)
        row = (k, algorithm, form["tabular"], form["mean_field"], form["min"], calls["global"],
               calls["global"] + calls["local"])  # fmt: skip
        for key, value in zip(out, row, strict=True):
            out[key].append(value)
    return out
