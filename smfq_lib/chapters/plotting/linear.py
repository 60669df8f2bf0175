"""Chapter 10's figure panels, drawn from the rows of :mod:`smfq_lib.chapters.linear_experiments`
(pandas DataFrames with columns ``k``, ``n``, ``ret``, ``ci95``, ``seconds``; docs/design.md §6,
§10)."""

from __future__ import annotations

from smfq_lib.chapters.plotting.style import plot_return_vs_k

__all__ = ["draw_gap_vs_M", "draw_learning_time", "draw_return_vs_k"]


def draw_return_vs_k(axes, ns, lin, tab, *, rule, title, references=None, extra=None):
    """One panel per population size ``n`` in ``ns`` on ``axes``: the linear learner's Monte
    Carlo returns ``lin`` (95% intervals, :func:`smfq_lib.chapters.plotting.plot_return_vs_k` in the
    style of ``rule``, with ``references[n]``: ``(label, value)`` lines), ``extra`` (``{label:
    rows}``, triangles) and the tabular learner's ``tab`` (hollow black squares, nudged
    right); titles ``f"{title}, n = {n}"``. ``lin``, ``tab`` and each ``extra`` value: rows of
    :func:`~smfq_lib.chapters.linear_experiments.linear_vs_k` or ``tabular_vs_k``."""
    for ax, n in zip(axes, ns, strict=True):
        rows = lin[lin.n == n].set_index("k")
        refs = references[n] if references else ()
        mc = {rule: (rows.ret, rows.ci95)}
        plot_return_vs_k(ax, rows.index, mc=mc, title=f"{title}, n = {n}", references=refs)
        for label, df in (extra or {}).items():
            sel = df[df.n == n].set_index("k")
            ax.errorbar(sel.index, sel.ret, sel.ci95, fmt="^", color="C4", capsize=3, label=label)
        sel = tab[tab.n == n].set_index("k")
        ax.errorbar(
            sel.index + 0.12, sel.ret, sel.ci95, fmt="s", color="k", mfc="none", capsize=3,
            label="tabular (Algorithm 2)",
        )  # fmt: skip


def draw_learning_time(ax, lin, tab, lin_label):
    """Learning seconds against ``k`` (log scale) on ``ax``: the linear learner's rows ``lin``
    (labelled ``lin_label``) and the tabular learner's rows ``tab``."""
    times = lin.drop_duplicates("k")
    ax.semilogy(times.k, times.seconds, "o-", color="C2", label=f"{lin_label} (s)")
    times = tab.drop_duplicates("k")
    ax.semilogy(times.k, times.seconds, "s--k", label="tabular learner (s)")
    ax.set(xlabel="sampled agents k", ylabel="learning time (s)", title="Learning time vs k")


def draw_gap_vs_M(ax, rows, ns):
    """The tabular return minus the linear one at ``k = 2`` against the design size ``M`` (log
    scale) on ``ax``, one curve per ``n`` in ``ns``, with the summed 95% half-widths; ``rows``:
    columns ``n``, ``M``, ``gap_to_tabular``, ``gap_ci95``."""
    for n, marker in zip(ns, "oD", strict=False):
        sel = rows[rows.n == n]
        ax.errorbar(
            sel.M, sel.gap_to_tabular, sel.gap_ci95, fmt=marker + "-", capsize=3,
            label=f"k = 2, n = {n}",
        )  # fmt: skip
    ax.axhline(0, color="0.5", lw=1)
    ax.set(
        xscale="log", xlabel="design size M", ylabel="tabular return - linear return",
        title="Gap to the table vs M (k = 2)",
    )  # fmt: skip
