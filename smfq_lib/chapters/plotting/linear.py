"""Chapter 10's figure panels, drawn from the rows of :mod:`smfq_lib.chapters.linear_experiments`
(pandas DataFrames with columns ``k``, ``n``, ``ret``, ``ci95``, ``seconds``; docs/design.md §6,
§10)."""

from __future__ import annotations

from smfq_lib.chapters.plotting.style import RULE_STYLE, keep_in_view, nudged

__all__ = ["draw_gap_vs_M", "draw_learning_time", "draw_return_vs_k"]


def draw_return_vs_k(axes, ns, lin, tab, *, features, rule, title, references=None, extra=None):
    """One panel per population size ``n`` in ``ns`` on ``axes``: the linear learner's Monte
    Carlo returns ``lin`` (features named ``features``, tie rule ``rule``, 95% intervals, in the
    style of ``rule``), ``references[n]``: ``(label, value)`` lines, ``extra`` (``{label: rows}``,
    triangles) and the tabular learner's ``tab`` (hollow black squares, nudged right); every label
    names the learner, its features or table, the rule and the estimator; titles
    ``f"{title}, n = {n}"``."""
    color, marker, _ = RULE_STYLE[rule]
    mc = "Monte Carlo, 95% CI"
    for ax, n in zip(axes, ns, strict=True):
        rows = lin[lin.n == n].set_index("k")
        label = f"linear, {features}, rule {rule!r} ({mc})"
        ax.errorbar(rows.index, rows.ret, rows.ci95, fmt=marker, color=color, mfc="none",
                    capsize=3, lw=1.2, label=label)  # fmt: skip
        for (label, value), ls in zip(references[n] if references else (), ("--", "-.", ":"),
                                      strict=False):  # fmt: skip
            ax.axhline(value, color="0.35", ls=ls, lw=1.3, label=f"{label} = {value:.3f}")
        for label, df in (extra or {}).items():
            sel = df[df.n == n].set_index("k")
            ax.errorbar(sel.index, sel.ret, sel.ci95, fmt="^", color="C4", capsize=3,
                        transform=nudged(ax, -5),
                        label=f"{label}, rule {rule!r} ({mc})")  # fmt: skip
        sel = tab[tab.n == n].set_index("k")
        ax.errorbar(sel.index, sel.ret, sel.ci95, fmt="s", color="k", mfc="none", capsize=3,
                    transform=nudged(ax, 5),
                    label=f"tabular, Algorithm 2, rule {rule!r} ({mc})")  # fmt: skip
        for df in [tab, *(extra or {}).values()]:  # nudged series: autoscaling does not see them
            sel = df[df.n == n]
            keep_in_view(ax, sel.k, sel.ret - sel.ci95, sel.ret + sel.ci95)
        ax.set(xlabel="sampled agents k", ylabel="discounted return (to the horizon)",
               title=f"{title}, n = {n}")  # fmt: skip


def draw_learning_time(ax, lin, tab, lin_label):
    """Learning seconds against ``k`` (log scale) on ``ax``: the linear learner's rows ``lin``
    (labelled ``lin_label``) and the tabular learner's rows ``tab``."""
    times = lin.drop_duplicates("k")
    ax.semilogy(times.k, times.seconds, "o-", color="C2", label=f"{lin_label}, one run per k")
    times = tab.drop_duplicates("k")
    ax.semilogy(times.k, times.seconds, "s--k", label="tabular, Algorithm 2, one run per k")
    ax.set(xlabel="sampled agents k", ylabel="learning time (s)", title="Learning time vs k")


def draw_gap_vs_M(ax, rows, ns):
    """The tabular return minus the linear one at ``k = 2`` against the design size ``M`` (log
    scale) on ``ax``, one curve per ``n`` in ``ns``, with the summed 95% half-widths; ``rows``:
    columns ``n``, ``M``, ``gap_to_tabular``, ``gap_ci95``."""
    for n, marker in zip(ns, "oD", strict=False):
        sel = rows[rows.n == n]
        ax.errorbar(
            sel.M, sel.gap_to_tabular, sel.gap_ci95, fmt=marker + "-", capsize=3,
            label=f"k = 2, n = {n} (Monte Carlo; bars: summed 95% CIs)",
        )  # fmt: skip
    ax.axhline(0, color="0.5", lw=1, label="no gap")
    ax.set(
        xscale="log", xlabel="design size M", ylabel="tabular return - linear return",
        title="Gap to the table vs M (k = 2)",
    )  # fmt: skip
    ax.set_xticks(sorted(set(rows.M)), [str(m) for m in sorted(set(rows.M))])
    ax.minorticks_off()
