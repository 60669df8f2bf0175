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


def plot_time_and_speedup(
    ax_time, ax_speed, k, seconds, reference_seconds=None, *, spread=None, how="",
    reference_label="mean-field VI on all n agents",
):  # fmt: skip
    """Learning time against ``k`` (``ax_time``) and the speedup over a reference (``ax_speed``).

    ``k``, ``seconds``: arrays (one time per ``k``: say which in ``how``, e.g. "median of 5
    repeats after a warm-up run"); ``spread``: optional ``(low, high)`` arrays drawn as bars
    (e.g. the fastest and slowest repeat, taken after compiling, so no bar reaches a compile
    time). ``reference_seconds``: the time of the reference (mean-field value iteration on all
    ``n`` agents, i.e. ``k = n``), drawn as a grey line; the speedup is ``reference / seconds``.
    Without it the speedup is over the largest ``k``, and the axis says so; ``reference_label``
    names the reference in the legend and on the speedup axis. Both axes log-scale.
    """
    from matplotlib.ticker import MaxNLocator

    k, seconds = np.asarray(k, dtype=float), np.asarray(seconds, dtype=float)
    yerr = None if spread is None else [seconds - spread[0], spread[1] - seconds]
    ax_time.errorbar(k, seconds, yerr=yerr, fmt="o-", capsize=4, label=how or None)
    if reference_seconds is None:
        ref, over = seconds[np.argmax(k)], f"k = {int(k.max())}"
    else:
        ref, over = float(reference_seconds), reference_label
        ax_time.axhline(ref, color="0.4", ls="--", lw=1.3, label=f"{over}: {ref:.3g} s")
    ax_time.set(yscale="log", xlabel="sampled agents k", ylabel="learning time (s)")
    if ax_time.get_legend_handles_labels()[1]:
        ax_time.legend(fontsize=9.5)
    ax_speed.plot(k, ref / seconds, "o-", color="C4")
    ax_speed.axhline(1.0, color="0.5", lw=1)
    ax_speed.set(yscale="log", xlabel="sampled agents k", ylabel=f"speedup over {over} (x)")
    for ax in (ax_time, ax_speed):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return ax_time, ax_speed


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
            im = ax.imshow(grid, vmin=0, vmax=1, cmap="Blues")
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
