"""Chapter 11's figures: the exact gap against the oracle calls spent, and the paper's O-forms
of the calls beside the exact count (re-exported by :mod:`smfq_lib.chapters.plotting`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_calls_vs_k", "plot_gap_vs_calls"]


def plot_gap_vs_calls(ax, table, exact: dict, front, *, n: int, title: str = "", linthresh=0.01):
    """Mean worst-case gap over learning seeds against oracle calls (log x), on ``ax``.

    ``table``: :func:`smfq_lib.chapters.sample_complexity.summarize`'s rows (``k, m, calls,
    gap_mean, gap_min, gap_max``); the rows with ``k < n`` are SUBSAMPLE-MFQ, one series per
    ``k`` (points along ``m``, bars from the lowest to the highest seed), the rows with ``k = n``
    the mean-field baseline (black squares). ``exact``: ``{k: gap of pi_k^est with the exact
    operator}``, dotted in the colour of its ``k`` (the limit ``m -> infinity``). ``front``: the
    budget frontier (:func:`~smfq_lib.chapters.sample_complexity.frontier` of the ``k < n``
    rows), a grey step line: the best gap SUBSAMPLE-MFQ reaches within a budget. The gap axis is
    logarithmic above ``linthresh`` and linear below it (shaded), so that gaps spanning decades
    and gaps of exactly 0 (a policy attaining ``V*``) are both drawn. ``title``: the axes'
    title. Returns ``ax``.
    """
    ks = sorted(int(k) for k in set(table["k"]) if k < n)
    for i, k in enumerate(ks):
        rows = table[table["k"] == k]
        mean = rows["gap_mean"].to_numpy(float)
        err = [mean - rows["gap_min"].to_numpy(float), rows["gap_max"].to_numpy(float) - mean]
        ax.errorbar(rows["calls"].to_numpy(float), mean, yerr=err, fmt="o-", color=f"C{i}",
                    ms=4, lw=1, capsize=2, elinewidth=0.8, label=f"k = {k}")  # fmt: skip
        if k in exact:
            ax.axhline(exact[k], color=f"C{i}", ls=":", lw=1.2,
                       label=f"k = {k}: exact operator (m = inf)")  # fmt: skip
    base = table[table["k"] == n]
    mean = base["gap_mean"].to_numpy(float)
    err = [mean - base["gap_min"].to_numpy(float), base["gap_max"].to_numpy(float) - mean]
    ax.errorbar(base["calls"].to_numpy(float), mean, yerr=err, fmt="s-", color="k", ms=5,
                lw=1.2, capsize=2, elinewidth=0.8,
                label=f"mean-field VI on all n = {n} (k = n)")  # fmt: skip
    x = np.append(front["calls"].to_numpy(float), table["calls"].max())
    y = np.append(front["gap_mean"].to_numpy(float), front["gap_mean"].iloc[-1])
    ax.step(x, y, where="post", color="0.45", lw=4, alpha=0.35, zorder=0,
            label="budget frontier of SUBSAMPLE-MFQ (best mean gap within the calls)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=linthresh, linscale=0.3)
    ax.set(xlabel="generative-oracle calls (global + local draws)",
           ylabel=r"worst-case gap $\max_s V^*(s) - V^{\hat\pi}(s)$ (linear below "
           f"{linthresh:g})", title=title)  # fmt: skip
    ax.set_ylim(bottom=0.0)
    ax.axhspan(0.0, linthresh, color="0.93", zorder=-1)
    return ax


def plot_calls_vs_k(ax, k, forms: dict, measured: dict, *, points=None, title: str = ""):
    """Oracle calls per sample (``calls / m``) against ``k``, log-log, on ``ax``: the paper's
    O-forms (``forms``: ``{label: values over k}``, dashed; Remark 0.7 at ``k = n``, Discussion
    0.12 at fixed ``k``) beside the exact count (``measured``: ``{label: values over k}``, solid).
    ``points``: ``(k values, {label: values})`` marked with circles (the ``k`` the chapter ran).
    ``title``: the axes' title. Returns ``ax``."""
    k = np.asarray(k, dtype=float)
    for (label, values), ls in zip(forms.items(), ("--", "-.", ":"), strict=False):
        ax.loglog(k, np.asarray(values, dtype=float), ls=ls, color="#a50f15", lw=1.5, label=label)
    for i, (label, values) in enumerate(measured.items()):
        ax.loglog(k, np.asarray(values, dtype=float), color=f"C{i}", lw=1.8, label=label)
    if points is not None:
        pk, values = points
        for i, (label, v) in enumerate(values.items()):
            ax.loglog(pk, np.asarray(v, dtype=float), "o", color=f"C{i}", mfc="none", ms=7,
                      label=label)  # fmt: skip
    ax.set(xlabel="sampled agents k", ylabel="oracle calls per sample m", title=title)
    return ax
