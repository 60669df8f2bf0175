"""Figures of the studies of chapters 7 and 8: the exact gap against Theorem 0.11, learning time
and speedup against ``k``, occupancy pictures of the grid world (re-exported by
:mod:`smfq_lib.chapters.plotting`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_gap_vs_bound", "plot_occupancy_grid", "plot_time_and_speedup"]


def plot_gap_vs_bound(ax, k, gaps, bound, shape_fit=None, *, floor=1e-9, title=""):
    """Exact optimality gaps against Theorem 0.11 on log-log axes, on ``ax``.

    ``gaps``: ``{label: values over k}``, e.g. the worst case over start states and the gap at the
    start state (put fitted slopes and their ranges in the labels); the first is drawn filled on
    top, the others hollow, so equal values stay visible. Points at or below
    ``floor`` (0 to the solvers' tolerance, e.g. at ``k = n``) cannot be drawn on a log axis and
    are left out, which the label then says. ``bound``: ``{label: values}`` of the theorem's
    bound (e.g. both readings), drawn in red. ``shape_fit``: ``(label, values)``, the theorem's
    shape ``sqrt((n-k+1)/(nk))`` times one fitted constant, drawn dashed black. ``title``: the
    axes' title. Returns ``ax``.
    """
    from matplotlib.ticker import FixedLocator, NullFormatter

    k = np.asarray(k, dtype=float)
    for (label, values), ls in zip(bound.items(), ("-", "--", ":"), strict=False):
        ax.loglog(k, values, ls=ls, color="#a50f15", lw=1.8, label=label)
    styles = ("oC0", "DC2", "sC4", "^C7")
    for j, ((label, values), style) in enumerate(zip(gaps.items(), styles, strict=False)):
        values = np.asarray(values, dtype=float)
        keep = values > floor
        if not keep.all():
            label = f"{label} ({int((~keep).sum())} k with gap 0 not drawn)"
        # the first curve filled and on top, the others hollow and larger: equal values stay
        # visible as a filled marker inside a hollow one
        marks = {"ms": 3.5} if j == 0 else {"mfc": "none", "ms": 6}
        ax.loglog(k[keep], values[keep], marker=style[0], color=style[1:], lw=0.9,
                  zorder=3 - 0.1 * j, label=label, **marks)  # fmt: skip
    if shape_fit is not None:
        ax.loglog(k, shape_fit[1], "--", color="k", lw=1.4, label=shape_fit[0])
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= k.max()]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set(xlabel="sampled agents k", ylabel=r"gap $V^*(s) - V^{\pi_k^{est}}(s)$", title=title)
    return ax


def plot_time_and_speedup(ax_time, ax_speed, k, seconds, *, reference: str) -> dict:
    """Learning time against ``k`` (``ax_time``) and the speedup over the largest ``k``
    (``ax_speed``), both with the spread of repeated measurements.

    ``k``: the sample sizes; ``seconds``: array ``(len(k), repeats)`` of wall seconds, each row
    timed after an untimed warm-up run (:func:`smfq_lib.experiments.learning_times`); at least
    two repeats. ``ax_time``: the median per ``k`` with bars from the fastest to the slowest
    repeat. ``ax_speed``: the speedup over the largest ``k`` (named ``reference`` in the labels,
    e.g. "mean-field VI on all n = 18", which the largest ``k`` is when it equals ``n``): the
    ratio of the medians, with bars from the least to the most favourable pairing of repeats
    (slowest reference over fastest ``k``... fastest reference over slowest ``k``), so that a
    ratio is never read without its spread. Both axes log-scale; the legends say what the
    markers and bars are. Returns the columns ``k, median_seconds, min_seconds, max_seconds,
    speedup, speedup_low, speedup_high``.
    """
    from matplotlib.ticker import MaxNLocator

    k, seconds = np.asarray(k), np.asarray(seconds, dtype=float)
    if seconds.ndim != 2 or seconds.shape[0] != k.size or seconds.shape[1] < 2:
        raise ValueError(
            f"seconds must have shape (len(k), repeats) with repeats >= 2; got {seconds.shape}."
        )
    repeats = seconds.shape[1]
    med, low, high = np.median(seconds, axis=1), seconds.min(axis=1), seconds.max(axis=1)
    ref = np.argmax(k)
    speed = med[ref] / med
    s_low, s_high = low[ref] / high, high[ref] / low
    ax_time.errorbar(k, med, yerr=[med - low, high - med], fmt="o-", capsize=4,
                     label=f"median of {repeats} repeats after a warm-up;\n"
                     "bars: fastest to slowest repeat")  # fmt: skip
    ax_time.set(yscale="log", xlabel="sampled agents k", ylabel="learning time (s)")
    ax_speed.errorbar(k, speed, yerr=[speed - s_low, s_high - speed], fmt="o-", color="C4",
                      capsize=4, label=f"median time of {reference} / median at k;\n"
                      "bars: from fastest/slowest to slowest/fastest repeat")  # fmt: skip
    ax_speed.axhline(1.0, color="0.5", lw=1, label=f"no speedup: {reference}")
    ax_speed.set(yscale="log", xlabel="sampled agents k", ylabel=f"speedup over {reference} (x)")
    for ax in (ax_time, ax_speed):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # the time rises with k (its upper left is free); the speedup's legend goes below its axes,
    # where it covers neither the curve nor the "no speedup" line, whatever the curve's shape
    ax_time.legend(fontsize=9, loc="upper left")
    ax_speed.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    return {"k": k, "median_seconds": med, "min_seconds": low, "max_seconds": high,
            "speedup": speed, "speedup_low": s_low, "speedup_high": s_high}  # fmt: skip


def plot_occupancy_grid(axes, share, M, times, row_labels, *, boxes=None, zones=()):
    """Occupancy pictures of an ``M x M`` grid world: row ``i`` of ``axes`` (labelled
    ``row_labels[i]``, e.g. "k = 1") shows ``share[i][t]``
    (the mean share of the agents in every cell, length ``M*M``) at each step ``t`` of ``times``.

    Every panel is titled with its row label and step, and every cell with a share of at least
    0.5% prints it. ``boxes``: optional ``boxes[i][j] = (cells, frequency)``: the box's most
    frequent position at that step (drawn as a blue outline) and the share of rollouts in which
    it is there (in the title, so the outline never claims more than it shows). ``zones``:
    ``(label, cells, colour)`` outlined and hatched. Only the steps in ``times`` are drawn: the
    caller's figure title should list them. Returns the last image (for a colour bar).
    """
    from matplotlib.patches import Rectangle

    axes = np.atleast_2d(axes)
    for i, row in enumerate(axes):
        for j, (ax, t) in enumerate(zip(row, times, strict=True)):
            grid = np.asarray(share[i][t], dtype=float).reshape(M, M)
            im = ax.imshow(grid, vmin=0, vmax=1, cmap="Blues", label="mean share of agents")
            for cell, value in enumerate(grid.ravel()):
                if value >= 0.005:
                    r, c = divmod(cell, M)
                    ax.text(c, r, f"{value:.0%}", ha="center", va="center", fontsize=9,
                            color="white" if value > 0.6 else "black")  # fmt: skip
            for _, cells, colour in zones:
                for cell in cells:
                    r, c = divmod(cell, M)
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec=colour,
                                           hatch="//", lw=1.5))  # fmt: skip
            title = f"{row_labels[i]}, t = {t}"
            if boxes is not None:
                cells, freq = boxes[i][j]
                rows, cols = [s // M for s in cells], [s % M for s in cells]
                ax.add_patch(Rectangle((min(cols) - 0.5, min(rows) - 0.5), max(cols) - min(cols)
                                       + 1, max(rows) - min(rows) + 1, fill=False, ec="#e67e22",
                                       lw=3))  # fmt: skip
                title += f"\nbox (orange): {freq:.0%} of runs"
            ax.set(xticks=range(M), yticks=range(M), title=title, xlabel="column", ylabel="row")
            ax.tick_params(labelsize=8)
            ax.xaxis.label.set_fontsize(9)
            ax.yaxis.label.set_fontsize(9)
            ax.title.set_fontsize(10)
            ax.grid(False)
    return im
