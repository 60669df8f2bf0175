"""Figures of the model and its sizes (chapters 1 and 2), one function per kind.

Each function draws on the axes it is given and returns the plotted numbers as columns (a dict
for :func:`smfq_lib.chapters.plotting.save_figure`). Re-exported by
:mod:`smfq_lib.chapters.plotting`; use its :func:`~smfq_lib.chapters.plotting.use_style` first.
"""

from __future__ import annotations

import math

import numpy as np

from smfq_lib.chapters.plotting.style import draw_grid

__all__ = [
    "plot_exploration_boxes",
    "plot_rule_vs_true_count",
    "plot_squeeze_reward",
    "plot_table_sizes_vs_k",
    "plot_table_sizes_vs_n",
]

#: Series of :func:`plot_table_sizes_vs_n`: ``smfq_lib.theory.table_sizes`` key -> legend label.
SIZE_LINES = {
    "q_learning": "Q-learning, n agents",
    "mean_field_paper": "mean field, paper's O-form",
    "mean_field": "mean field, exact",
    "subsample_mfq": r"SUBSAMPLE-MFQ, $k=\lceil\ln n\rceil$",
}


def plot_squeeze_reward(ax, ax_split, xbar, rho, homog, split, mu: float, x_star: float) -> dict:
    """Example 0.1's reward (chapter 1): on ``ax``, ``rho`` against the mean load per agent
    (``xbar``, ``rho``: the curve), the stage reward when every agent sends the same load
    (``homog``, one value per load), ``mu`` and the maximiser ``x_star`` (``xbar*``); on
    ``ax_split``, the stage reward ``split[a, b]`` when half the agents send ``a`` and half
    ``b``, its maximisers starred.

    Returns the columns ``kind, load_a, load_b, mean_load, reward`` (the curve, the
    homogeneous loads, the splits).
    """
    loads = np.arange(len(homog))
    ties = np.argwhere(np.isclose(split, split.max()))
    ax.plot(xbar, rho, label=r"$\rho(\bar x)$")
    ax.plot(loads, homog, "o", color="C1", label="every agent sends the same load")
    ax.axvline(mu, color="0.4", ls="--", lw=1.2, label=rf"$\mu$ = {mu:g}")
    ax.axvline(x_star, color="C2", ls=":", lw=2, label=rf"$\bar x^*$ = {x_star:.3f}")
    ax.set(xlabel=r"mean load per agent $\bar x$", ylabel="stage reward",
           title="Reward vs mean load", ylim=(-0.2, 1.5 * np.max(rho)))  # fmt: skip
    ax.legend(loc="upper center", ncol=2, fontsize=9.5)
    im = ax_split.imshow(split, origin="lower", cmap="viridis")
    ax_split.plot(ties[:, 1], ties[:, 0], "*", ms=13, color="white", mec="k", label="best split")
    ax_split.legend(loc="upper right", fontsize=9.5)
    ax_split.set(xlabel="load b sent by the other half", ylabel="load a sent by half the agents",
                 title="Two-load split: reward", xticks=loads, yticks=loads)  # fmt: skip
    ax_split.grid(False)
    ax_split.figure.colorbar(im, ax=ax_split, label="stage reward")
    A, B = (g.ravel() for g in np.meshgrid(loads, loads, indexing="ij"))
    return {
        "kind": ["curve"] * len(xbar) + ["homogeneous"] * loads.size + ["split"] * A.size,
        "load_a": np.r_[xbar, loads, A],
        "load_b": np.r_[xbar, loads, B],
        "mean_load": np.r_[xbar, loads, (A + B) / 2],
        "reward": np.r_[rho, homog, np.ravel(split)],
    }


def plot_exploration_boxes(fig, axes, system, M: int, d: int, stay: int = 0) -> dict:
    """Example 0.2 (chapter 1): one grid per global state (a box position) on ``axes`` (one
    per ``s_g``, flat order), with the box, the hazard zone and, for every cell outside the
    box, an arrow to the likely next cell under local action ``stay``; the titles give
    ``r_g(s_g, stay)``, and one legend goes below ``fig``.

    ``system``: a :func:`smfq_lib.model.examples.constrained_exploration` on an ``M x M`` grid with
    a ``d x d`` box. Returns the columns ``s_g, cell, row, col, in_box, hazard,
    next_cell_stay, r_g_stay, r_l_stay``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from smfq_lib.model.examples import box_cells, hazard_cells

    H = hazard_cells(M)
    cols = ["s_g", "cell", "row", "col", "in_box", "hazard", "next_cell_stay", "r_g_stay"]
    data = {c: [] for c in [*cols, "r_l_stay"]}
    for s_g, ax in enumerate(np.ravel(axes)):
        box = box_cells(M, d, s_g)
        pull = system.P_l[:, s_g, stay, :].argmax(axis=1)
        draw_grid(ax, M, box=box, hazard=H, arrows=[(s, int(pull[s])) for s in range(M * M)
                                                    if s not in box])  # fmt: skip
        r_g = float(system.r_g[s_g, stay])
        ax.set_title(f"$s_g$ = {s_g} ({system.labels['S_g'][s_g]}): $r_g$ = {r_g:.2g}", fontsize=11)
        for s in range(system.S_l):
            row = (s_g, s, s // M, s % M, s in box, s in H, int(pull[s]), r_g)
            for c, v in zip(cols, row, strict=True):
                data[c].append(v)
            data["r_l_stay"].append(float(system.r_l[s, s_g, stay]))
    fig.suptitle(f"Constrained exploration, M = {M}, d = {d}")
    handles = [
        Patch(facecolor="#cfe2f3", edgecolor="#1f4e79", lw=2, label="box (global state)"),
        Patch(facecolor="#f4cccc", edgecolor="#c0392b", hatch="//", label="hazard zone"),
        Line2D([], [], color="0.25", marker=">", lw=1.6, label="likely next cell, action 'stay'"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=10)
    return data


def _ln_k(n) -> int:
    return max(1, math.ceil(math.log(n)))


def plot_table_sizes_vs_n(ax, dims, ns, title: str) -> dict:
    """Table sizes against ``n`` (chapter 2, Remark 0.7, Discussion 0.12): Q-learning on the
    joint space, mean-field VI (the paper's O-form, dashed, and the exact count) and
    SUBSAMPLE-MFQ with ``k = ceil(ln n)``, as ``log10`` entries over a log ``n`` axis.

    ``dims``: ``(S_g, S_l, A_g, A_l)``; ``ns``: the numbers of agents; ``title``: the panel's
    title. Q-learning leaves the panel (its top is 1.15 x the paper's mean-field size).
    Returns the columns ``n, k`` and one per series (``SIZE_LINES``' keys).

    ``ax``: the matplotlib axes drawn on.
    """
    from smfq_lib.theory import table_sizes

    ns = [int(n) for n in ns]
    log10 = [table_sizes(*dims, n, _ln_k(n))["log10"] for n in ns]
    data = {"n": ns, "k": [_ln_k(n) for n in ns]}
    for i, (key, label) in enumerate(SIZE_LINES.items()):
        data[key] = [t[key] for t in log10]
        ax.plot(ns, data[key], label=label, color=f"C{i}",
                ls="--" if key == "mean_field_paper" else "-")  # fmt: skip
    ax.set(xscale="log", xlabel="number of agents n", ylabel="log10(entries of the Q-table)",
           title=title, ylim=(0, 1.15 * max(data["mean_field_paper"])))  # fmt: skip
    return data


def plot_table_sizes_vs_k(ax, dims, ks, n: int, title: str) -> dict:
    """Table sizes of Algorithms 1 and 2 against ``k`` at fixed ``n`` (chapter 2), as ``log10``
    entries (lines through the integer ``k``: up to a hundred of them), with the sizes the
    paper's rule (thick grey) and the learners' default (``smfq_lib.learning.choose_algorithm``,
    dashed black) pick, mean-field VI on all ``n`` (grey), and the ``k`` from which the paper's
    rule picks Algorithm 2 (red, dotted); integer ticks.

    ``dims``: ``(S_g, S_l, A_g, A_l)``; ``ks``: the sample sizes; ``title``: the panel's
    title. Returns the columns ``k, alg1, alg2, rule, smaller, auto``.

    ``ax``: the matplotlib axes drawn on.
    """
    from matplotlib.ticker import MaxNLocator

    from smfq_lib.learning import choose_algorithm
    from smfq_lib.theory import table_sizes

    Z = dims[1] * dims[3]
    tabs = [table_sizes(*dims, n, int(k)) for k in ks]
    a1, a2 = (np.array([t["log10"][key] for t in tabs]) for key in ("alg1", "alg2"))
    rule = np.array([t["rule"] for t in tabs])
    auto = np.array([choose_algorithm(Z, int(k))[0] for k in ks])
    ax.plot(ks, a1, color="C0", lw=1.2, label=r"Algorithm 1, $|S_g||A_g||Z_l|^k$")
    ax.plot(ks, a2, color="C1", lw=1.2, label="Algorithm 2, exact")
    ax.plot(ks, np.where(rule == "tabular", a1, a2), color="k", lw=3.5, alpha=0.35,
            label="the paper's rule picks")  # fmt: skip
    ax.plot(ks, np.where(auto == "tabular", a1, a2), "k--", lw=1.4, label="the default picks")
    ax.axhline(tabs[0]["log10"]["mean_field"], color="0.5", ls="--", lw=1.2,
               label=f"mean field, all n = {n}")  # fmt: skip
    mf = np.flatnonzero(rule == "mean_field")
    if mf.size:
        ax.axvline(ks[mf[0]], color="C3", ls=":", lw=2,
                   label=f"paper's rule picks 2 from k = {ks[mf[0]]}")  # fmt: skip
    ax.set(xlabel="sample size k", ylabel="log10(entries of the Q-table)", title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", fontsize=8.5)
    smaller = [t["smaller"] for t in tabs]
    return {"k": list(ks), "alg1": a1, "alg2": a2, "rule": rule, "smaller": smaller, "auto": auto}


def plot_rule_vs_true_count(ax, ax_over, Zs, k_rule, k_true, overhead) -> dict:
    """Where the paper's rule ``|Z_l|^(k-1) <= k^|Z_l|`` switches to Algorithm 2 against where
    Algorithm 2's table becomes smaller, per ``|Z_l|`` (chapter 2); ``ax_over``: the log10
    ratio of the two tables at the last ``k`` the rule gives Algorithm 1.

    ``Zs``, ``k_rule``, ``k_true``, ``overhead``: equal-length sequences. Returns them as the
    columns ``Z_l, k_rule, k_true, log10_overhead``.

    ``ax``: the axes of the switch points.
    """
    ax.plot(Zs, k_rule, "o", ms=4, label="rule switches to Algorithm 2")
    ax.plot(Zs, k_true, "s", ms=4, label="Algorithm 2's table smaller (from k = 3)")
    ax.fill_between(Zs, k_true, k_rule, color="C3", alpha=0.15,
                    label="rule picks Algorithm 1, Algorithm 2 smaller")  # fmt: skip
    ax.set(xlabel=r"$|Z_l| = |S_l||A_l|$", ylabel="sample size k", title="Where the rule switches")
    ax.legend(loc="upper left", fontsize=9.5)
    ax_over.plot(Zs, overhead, "o", ms=4, color="C3")
    ax_over.set(xlabel=r"$|Z_l| = |S_l||A_l|$", ylabel="log10(Algorithm 1 / Algorithm 2 entries)",
                title="Overhead at the last k the rule gives Algorithm 1")  # fmt: skip
    return {"Z_l": Zs, "k_rule": k_rule, "k_true": k_true, "log10_overhead": overhead}
