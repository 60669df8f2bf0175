"""One figure style for every notebook, and one way to save a figure with the numbers behind it.

Usage in a notebook::

    from smfq_lib.chapters.plotting import use_style, save_figure
    use_style()
    fig, ax = plt.subplots()
    ax.plot(k, gap)
    ax.set(xlabel="k", ylabel="gap")
    save_figure(fig, "08_optimality_gap", "gap_vs_k", {"k": k, "gap": gap}, profile=cfg.profile)

Where figures go (:func:`figures_root`): ``$SMFQ_FIGURES`` if set, else ``<repo>/figures`` for
the ``"full"`` profile (the committed, paper-scale figures) and ``<repo>/results/<profile>/figures``
for any other profile, so quick runs never overwrite the committed figures. ``<repo>`` is the
parent of the ``smfq_lib`` package directory. :mod:`smfq_lib.chapters.reproduce` sets
``SMFQ_FIGURES`` for the notebooks it runs by the same rule.

Every figure is written as ``<root>/<notebook>/<name>.png`` (dpi 150) together with
``<root>/<notebook>/<name>.csv``: the plotted numbers, one column per key of ``data``.

Timing files. A figure of wall times (learning time, speedup, cost per step) changes on every
run; it is named ``timing_<what>`` (PNG and CSV), and no other figure holds a wall time, so
that after ``make reproduce`` only ``figures/*/timing_*`` files differ from the committed ones.

Besides the style and the files, the pieces several kinds of figures share: :func:`draw_grid`,
:func:`plot_return_vs_k`, :func:`legend_below`, :data:`RULE_STYLE`. The kinds themselves are in the
sibling modules (:mod:`smfq_lib.chapters.plotting`).
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
from pathlib import Path

import matplotlib as mpl
import numpy as np

__all__ = [
    "DPI",
    "REPO",
    "RULE_STYLE",
    "draw_grid",
    "figures_root",
    "legend_below",
    "plot_return_vs_k",
    "save_figure",
    "use_style",
]

#: Resolution of saved figures.
DPI = 150
#: The repository: parent of the ``smfq_lib`` package directory (this file is
#: ``smfq_lib/chapters/plotting/style.py``).
REPO = Path(__file__).resolve().parents[3]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def use_style() -> None:
    """Apply the package's figure style (seaborn ``whitegrid``, readable fonts, dpi 150 on save).

    Call once at the top of a notebook, before creating figures. Idempotent.
    """
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 4.2),
            "figure.dpi": 100,  # inline display; files are saved at DPI
            "savefig.dpi": DPI,
            "savefig.bbox": "tight",
            "font.size": 12,
            "axes.titlesize": 13,
            "axes.labelsize": 12,
            "xtick.labelsize": 11,
            "ytick.labelsize": 11,
            "legend.fontsize": 10.5,
            "legend.title_fontsize": 11,
            "lines.linewidth": 2.0,
            "lines.markersize": 6,
            "axes.titleweight": "regular",
            "figure.constrained_layout.use": True,
        }
    )


def figures_root(profile: str) -> Path:
    """Directory under which figures of a run with ``profile`` go (see the module docstring)."""
    env = os.environ.get("SMFQ_FIGURES")
    if env:
        return Path(env)
    if not isinstance(profile, str) or not profile:
        raise ValueError(
            f"profile must be a non-empty string like 'quick' or 'full'; got {profile!r}."
        )
    if profile == "full":
        return REPO / "figures"
    return REPO / "results" / profile / "figures"


def _check_labels(fig) -> None:
    for ax in fig.axes:
        if not ax.axison or ax.get_label() == "<colorbar>":
            continue
        if not ax.has_data() and not ax.images:
            continue
        missing = [w for w, lab in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if not lab]
        if missing:
            title = ax.get_title() or "untitled"
            raise ValueError(
                f"axes {title!r} has no {' and no '.join(missing)} label; label every axis "
                "(ax.set(xlabel=..., ylabel=...)) or hide it (ax.set_axis_off()), or pass "
                "require_labels=False."
            )


def _columns(data) -> dict[str, list]:
    if not isinstance(data, dict) or not data:
        raise ValueError(
            "data must be a non-empty dict of equal-length columns, e.g. "
            "{'k': ks, 'gap': gaps}: the numbers the figure plots."
        )
    cols = {}
    for key, col in data.items():
        arr = np.asarray(col)
        if arr.ndim != 1:
            raise ValueError(
                f"data[{key!r}] must be one-dimensional (a column); got shape {arr.shape}. "
                "Flatten grids into long format (one row per plotted point)."
            )
        cols[str(key)] = arr.tolist()
    lengths = {key: len(col) for key, col in cols.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"data columns must have equal lengths; got {lengths}.")
    return cols


def save_figure(
    fig, notebook: str, name: str, data, *, profile: str, require_labels: bool = True
) -> tuple[Path, Path]:
    """Write ``fig`` as PNG and ``data`` as CSV under ``<root>/<notebook>/``; return both paths.

    ``notebook`` is the chapter's name (e.g. ``"01_system_and_examples"``), ``name`` the figure's
    (e.g. ``"table_sizes_vs_n"``); both must be plain file names. ``data`` is a dict of
    equal-length 1-D columns holding the numbers the figure plots (written with ``repr`` of
    Python floats, so they round-trip exactly). ``profile`` selects the root directory (see
    :func:`figures_root`). With ``require_labels`` (default) every visible axes with data must
    have x and y labels.
    """
    for what, value in (("notebook", notebook), ("name", name)):
        if not isinstance(value, str) or not _SAFE_NAME.match(value):
            raise ValueError(
                f"{what} must be a plain file name (letters, digits, '_', '-', '.'); got {value!r}."
            )
    cols = _columns(data)
    if require_labels:
        _check_labels(fig)
    out_dir = figures_root(profile) / notebook
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    csv_path = out_dir / f"{name}.csv"
    with _replaced(png, "wb") as fh:
        fig.savefig(fh, format="png", dpi=DPI)
    with _replaced(csv_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(cols))
        writer.writerows(zip(*cols.values(), strict=True))
    return png, csv_path


@contextlib.contextmanager
def _replaced(path: Path, mode: str, **kw):
    """A file object whose content replaces ``path`` atomically when the block ends: written to a
    temporary file beside it, then renamed over it (``os.replace``). A reader never sees half a
    file, a crash leaves the old one, and a symlink at ``path`` is replaced, not followed (so a
    link planted in the figures folder cannot make the write land elsewhere)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # new, mode as by open()
    try:
        with open(fd, mode, **kw) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def draw_grid(ax, M: int, *, box=(), hazard=(), arrows=(), values=None, fmt: str = "{:g}"):
    """Draw an ``M x M`` grid world (Example 0.2) on ``ax``: row 0 at the top, cell code
    ``row * M + col``.

    ``box`` -- cell codes of the ``d x d`` box (shaded, thick outline); ``hazard`` -- cell codes of
    the hazard zone (red, hatched); ``arrows`` -- ``(from_cell, to_cell)`` pairs drawn as arrows
    between cell centres (e.g. where an agent is pulled); ``values`` -- optional length ``M*M``
    numbers written in the cells (e.g. agent counts), zeros omitted. Axes are labelled
    ``column`` / ``row``.

    ``fmt``: the format of each value (default ``"{:g}"``).
    """
    from matplotlib.patches import Rectangle

    box, hazard = set(box), set(hazard)
    for s in range(M * M):
        r, c = divmod(s, M)
        face = "#cfe2f3" if s in box else "white"
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=face, edgecolor="0.6", lw=0.8))
        if s in hazard:
            ax.add_patch(
                Rectangle(
                    (c - 0.5, r - 0.5),
                    1,
                    1,
                    facecolor="#f4cccc",
                    edgecolor="#c0392b",
                    hatch="//",
                    lw=1.2,
                    alpha=0.9 if s not in box else 0.7,
                )
            )
        if values is not None and values[s]:
            ax.text(c, r, fmt.format(values[s]), ha="center", va="center", fontsize=11)
    if box:
        rows = [s // M for s in box]
        cols = [s % M for s in box]
        ax.add_patch(
            Rectangle(
                (min(cols) - 0.5, min(rows) - 0.5),
                max(cols) - min(cols) + 1,
                max(rows) - min(rows) + 1,
                fill=False,
                edgecolor="#1f4e79",
                lw=3,
            )
        )
    for src, dst in arrows:
        (r0, c0), (r1, c1) = divmod(src, M), divmod(dst, M)
        ax.annotate(
            "",
            xy=(c0 + 0.6 * (c1 - c0), r0 + 0.6 * (r1 - r0)),
            xytext=(c0 - 0.2 * (c1 - c0), r0 - 0.2 * (r1 - r0)),
            arrowprops={"arrowstyle": "-|>", "color": "0.25", "lw": 1.6},
        )
    ax.set_xlim(-0.5, M - 0.5)
    ax.set_ylim(M - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(M))
    ax.set_yticks(range(M))
    ax.grid(False)
    ax.set(xlabel="column", ylabel="row")


#: Colour, marker and legend label of each tie rule (``smfq_lib.learning.policy.RULES``) in every
#: figure.
RULE_STYLE = {
    "first": ("C0", "o", "first"),
    "uniform": ("C1", "s", "uniform"),
    "coordinated": ("C2", "D", "coordinated"),
    "authors": ("C3", "v", "authors' code (comparison)"),
}


def plot_return_vs_k(ax, k, *, exact=None, mc=None, references=(), curves=(), title=""):
    """The return of ``pi_k^est`` against ``k``, one marker series per tie rule, on ``ax``.

    ``k`` is an integer: every series is drawn as markers at the integer ``k``, never joined by
    lines. ``exact``: ``{rule: values}`` drawn as filled markers (exact values, e.g. from the
    count chain); ``mc``: ``{rule: (mean, ci95)}`` Monte Carlo means with 95% error bars (hollow
    markers, nudged sideways per rule so the bars stay apart); ``references``: ``(label,
    value)`` pairs drawn as grey horizontal lines (e.g. ``V*`` and the best homogeneous load);
    ``curves``: ``(label, values)`` pairs drawn as grey markers over ``k`` (e.g. the k-agent
    subsystem's own optimum). Rules take their style from :data:`RULE_STYLE`; integer ticks on
    ``k``. Legend entries: one per rule and kind; Monte Carlo beside exact values gets a single
    entry drawn with its error bar. ``title``: the axes' title (name the instance's parameters
    there, e.g. ``mu`` and ``sigma``). Returns ``ax``.
    """
    from matplotlib.ticker import MaxNLocator

    k = np.asarray(k, dtype=float)
    exact, mc = exact or {}, mc or {}
    rules = [r for r in RULE_STYLE if r in exact or r in mc]
    width = 0.08 * (np.diff(k).min() if k.size > 1 else 1.0)
    for j, rule in enumerate(rules):
        color, marker, label = RULE_STYLE[rule]
        if rule in exact:
            ax.plot(k, exact[rule], marker, color=color, ms=6, label=f"{label} (exact)")
        if rule in mc:
            mean, ci = mc[rule]
            tag = f"{label} (Monte Carlo, 95% CI)" if rule not in exact else None
            ax.errorbar(
                k + (j - (len(rules) - 1) / 2) * width, mean, yerr=ci, fmt=marker, color=color,
                mfc="none", capsize=3, lw=1.2, label=tag,
            )  # fmt: skip
    if any(r in exact for r in mc):  # the Monte Carlo markers beside exact values: one entry
        ax.errorbar([], [], yerr=[], fmt="o", mfc="none", color="0.4", capsize=3, lw=1.2,
                    label="hollow: Monte Carlo, 95% CI")  # fmt: skip
    for (label, values), marker in zip(curves, "x+1", strict=False):
        ax.plot(k, values, marker, color="0.45", ms=7, mew=1.5, label=label)
    for (label, value), ls in zip(references, ("--", "-.", ":"), strict=False):
        ax.axhline(value, color="0.35", ls=ls, lw=1.3, label=f"{label} = {value:.3f}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="sampled agents k", ylabel="discounted return", title=title)
    return ax


def legend_below(fig, axes, ncol: int = 4) -> None:
    """One legend for ``axes`` (labels deduplicated, in order of appearance) below the figure
    (``fig`` must use the constrained layout of :func:`use_style`).

    ``ncol``: columns of the legend.
    """
    handles = {}
    for ax in np.atleast_1d(axes).ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=ncol)
