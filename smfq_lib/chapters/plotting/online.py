"""Chapter 13's figures: the exact gap of the online learner against its samples, beside the
generative-oracle learner and the exact ``pi_k^est``; returns at large ``n`` (re-exported by
:mod:`smfq_lib.chapters.plotting`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_gap_vs_samples", "plot_large_n_returns"]


def plot_gap_vs_samples(ax, df, *, title=""):
    """Worst-case exact gap against subsystem samples, one colour per ``k``, on ``ax``.

    ``df``: rows of :func:`smfq_lib.chapters.online.gap_vs_steps`. Per ``k``: the online
    learner's mean over seeds (solid, circles) with the seeds' range as a band, the oracle
    learner given the matched ``m`` (dashed, squares; mean over seeds, absent where ``m = 0``),
    and the exact ``pi_k^est`` (dotted horizontal line). Log-log axes; ``title``: the axes'
    title. Returns ``ax``.
    """
    for j, (k, g) in enumerate(df.groupby("k")):
        colour = f"C{j % 10}"
        by = g.groupby("samples")
        x = np.asarray(sorted(g["samples"].unique()), dtype=float)
        seeds = g["seed"].nunique()
        mean, lo, hi = (by["online_gap"].agg(f).to_numpy() for f in ("mean", "min", "max"))
        ax.plot(x, mean, "o-", color=colour, ms=3.5, lw=1.4,
                label=f"k = {k}: online (mean of {seeds} seeds)")  # fmt: skip
        ax.fill_between(x, lo, hi, color=colour, alpha=0.15, lw=0,
                        label=f"k = {k}: online, range over seeds")  # fmt: skip
        oracle = by["oracle_gap"].mean().to_numpy()
        keep = np.isfinite(oracle)
        ax.plot(x[keep], oracle[keep], "s--", color=colour, ms=3.5, mfc="none", lw=1.0,
                label=f"k = {k}: generative oracle, m = samples // E")  # fmt: skip
        ax.axhline(g["exact_gap"].iloc[0], color=colour, ls=":", lw=1.2,
                   label=f"k = {k}: exact pi_k^est")  # fmt: skip
    ax.set(xscale="log", yscale="log", title=title,
           xlabel="subsystem samples (online: environment steps)",
           ylabel=r"worst-case gap $\max_s V^*(s) - V^{\pi}(s)$")  # fmt: skip
    return ax


def plot_large_n_returns(ax, df, *, n, title=""):
    """Monte Carlo returns at ``n`` agents against ``k``, on ``ax``: ``df`` holds the rows of
    :func:`smfq_lib.chapters.online.returns_at_large_n` (online, oracle with the matched ``m``
    and exact ``pi_k^est``), each drawn with bars of 1.96 standard errors, nudged apart;
    ``title``: the axes' title. Returns ``ax``."""
    from smfq_lib.chapters.plotting.style import keep_in_view, nudged

    k = df["k"].to_numpy(dtype=float)
    for j, (name, label, fmt) in enumerate(
        (
            ("online", "online", "o"),
            ("oracle", "generative oracle (matched m)", "s"),
            ("exact", "exact pi_k^est", "D"),
        )
    ):
        y, se = df[f"{name}_return"].to_numpy(), df[f"{name}_sem"].to_numpy()
        keep = np.isfinite(y)
        ax.errorbar(k[keep], y[keep], yerr=1.96 * se[keep], fmt=fmt, capsize=3, ms=4,
                    transform=nudged(ax, (j - 1) * 4),
                    label=f"{label} (Monte Carlo, 95% CI)")  # fmt: skip
        keep_in_view(ax, k[keep], y[keep] - 1.96 * se[keep], y[keep] + 1.96 * se[keep])
    ax.set(xscale="log", title=title, xlabel="sampled agents k",
           ylabel=f"discounted return at n = {n:,}")  # fmt: skip
    ax.set_xticks(k, [str(int(x)) for x in k])
    ax.minorticks_off()
    return ax
