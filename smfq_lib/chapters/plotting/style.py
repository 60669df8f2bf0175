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
``<root>/<notebook>/<name>.csv``, the figure's data by construction (:func:`save_figure`): every
series drawn, read from the figure's artists (:func:`figure_series`), one row per plotted point,
then the chapter's own columns (``data``), if any, as rows of kind ``table``.

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
    "SERIES_COLUMNS",
    "draw_grid",
    "figure_series",
    "figures_root",
    "keep_in_view",
    "legend_below",
    "nudged",
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


#: Columns of a figure's CSV that hold its plotted series, in this order (see :func:`save_figure`).
SERIES_COLUMNS = ("panel", "series", "kind", "x", "y", "y_low", "y_high", "x_low", "x_high", "z")


def _panels(fig) -> list[tuple[str, object]]:
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    titles = [ax.get_title() for ax in axes]
    names = []
    for i, (ax, title) in enumerate(zip(axes, titles, strict=True), start=1):
        unique = title and titles.count(title) == 1
        names.append((title if unique else f"{title} [panel {i}]".lstrip(), ax))
    return names


def _series_label(artist, panel: str, kind: str) -> str:
    label = artist.get_label()
    if not label or label.startswith("_"):
        raise ValueError(
            f"panel {panel!r}: a {kind} series without a label; give it label=... (it names the "
            "series in the legend and in the figure's CSV: say the method and the estimator, "
            "e.g. 'coordinated (Monte Carlo, 95% CI)')."
        )
    return label


def _line_rows(ax, line, panel: str) -> list[dict]:
    x = np.asarray(line.get_xdata(), dtype=float)
    y = np.asarray(line.get_ydata(), dtype=float)
    transform = line.get_transform()
    if transform == ax.get_yaxis_transform():  # axhline: y fixed, x across the axes
        kind, points = "horizontal line", [{"y": y[0]}]
    elif transform == ax.get_xaxis_transform():  # axvline
        kind, points = "vertical line", [{"x": x[0]}]
    else:
        kind = "markers" if line.get_linestyle() in ("None", "", " ", "none") else "line"
        points = [{"x": a, "y": b} for a, b in zip(x, y, strict=True)]
    if not points or (kind in ("line", "markers") and x.size == 0):
        return []
    label = _series_label(line, panel, kind)
    return [{"panel": panel, "series": label, "kind": kind, **p} for p in points]


def _errorbar_rows(container, panel: str) -> list[dict]:
    data_line, _, bar_lines = container.lines
    if data_line is None:
        raise ValueError(f"panel {panel!r}: error bars without markers (fmt='none') are not saved")
    x, y = (np.asarray(v, dtype=float) for v in data_line.get_data())
    if x.size == 0:
        return []
    rows = [{"x": a, "y": b} for a, b in zip(x, y, strict=True)]
    bars = list(bar_lines)
    for axis, has in (("x", container.has_xerr), ("y", container.has_yerr)):
        if not has:
            continue
        segments = bars.pop(0).get_segments()
        coord = 0 if axis == "x" else 1
        for row, seg in zip(rows, segments, strict=True):
            row[f"{axis}_low"], row[f"{axis}_high"] = sorted(float(p[coord]) for p in seg)
    label = _series_label(container, panel, "error-bar")
    return [{"panel": panel, "series": label, "kind": "error bars", **r} for r in rows]


def _image_rows(image, panel: str) -> list[dict]:
    values = np.ma.filled(np.ma.asarray(image.get_array(), dtype=float), np.nan)
    rows, cols = values.shape[:2]
    left, right, bottom, top = image.get_extent()
    y0, y1 = (top, bottom) if image.origin == "upper" else (bottom, top)
    label = _series_label(image, panel, "image")
    return [
        {"panel": panel, "series": label, "kind": "image", "z": values[i, j],
         "x": left + (j + 0.5) * (right - left) / cols, "y": y0 + (i + 0.5) * (y1 - y0) / rows}
        for i in range(rows) for j in range(cols)
    ]  # fmt: skip


def _collection_rows(collection, panel: str) -> list[dict]:
    from matplotlib.collections import FillBetweenPolyCollection, PathCollection

    if isinstance(collection, FillBetweenPolyCollection):  # fill_between: a band per path
        label, rows = _series_label(collection, panel, "band"), []
        for path in collection.get_paths():
            v = path.vertices  # start, (x, y1) forward, end, (x, y2) backward, close
            n = (len(v) - 3) // 2
            for (x, y1), y2 in zip(v[1 : n + 1], v[n + 2 : 2 * n + 2, 1][::-1], strict=True):
                low, high = sorted((float(y1), float(y2)))
                rows.append({"x": x, "y_low": low, "y_high": high})
        return [{"panel": panel, "series": label, "kind": "band", **r} for r in rows]
    if isinstance(collection, PathCollection):  # scatter: offsets, colour values as z
        xy = np.asarray(collection.get_offsets(), dtype=float)
        if xy.size == 0:
            return []
        z = collection.get_array()
        label = _series_label(collection, panel, "scatter")
        return [
            {"panel": panel, "series": label, "kind": "scatter", "x": a, "y": b,
             **({} if z is None else {"z": float(z[i])})}
            for i, (a, b) in enumerate(xy)
        ]  # fmt: skip
    raise ValueError(
        f"panel {panel!r}: save_figure cannot read a {type(collection).__name__} yet; draw the "
        "series with plot, errorbar, stairs, bar, imshow, scatter or fill_between."
    )


def figure_series(fig) -> list[dict]:
    """Every series drawn on ``fig``, read from its artists: a list of rows (dicts with keys
    among :data:`SERIES_COLUMNS`), one per plotted point (see :func:`save_figure`). Raises
    ``ValueError`` for a series without a label and for an artist it cannot read."""
    from matplotlib.container import BarContainer, ErrorbarContainer
    from matplotlib.patches import StepPatch

    rows = []
    for panel, ax in _panels(fig):
        owned = set()  # artists drawn by a container (error bars, bars), read through it
        for container in ax.containers:
            owned.update(id(a) for a in container.get_children() if a is not None)
            if isinstance(container, ErrorbarContainer):
                rows += _errorbar_rows(container, panel)
            elif isinstance(container, BarContainer):
                label = _series_label(container, panel, "bar")
                for p in container.patches:
                    x, w, b, h = p.get_x(), p.get_width(), p.get_y(), p.get_height()
                    rows.append({"panel": panel, "series": label, "kind": "bars",
                                 "x_low": x, "x_high": x + w, "y_low": b, "y": b + h})  # fmt: skip
        for line in ax.lines:
            if id(line) not in owned:
                rows += _line_rows(ax, line, panel)
        for collection in ax.collections:
            if id(collection) not in owned:
                rows += _collection_rows(collection, panel)
        for image in ax.images:
            rows += _image_rows(image, panel)
        for patch in ax.patches:  # histograms drawn with stairs; other patches are decoration
            if isinstance(patch, StepPatch) and id(patch) not in owned:
                values, edges, _ = patch.get_data()
                label = _series_label(patch, panel, "histogram")
                rows += [
                    {"panel": panel, "series": label, "kind": "histogram", "x_low": lo,
                     "x_high": hi, "y": v}
                    for v, lo, hi in zip(values, edges[:-1], edges[1:], strict=True)
                ]  # fmt: skip
    return rows


def _cell(value):
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, float) else value


def nudged(ax, points: float):
    """The data transform of ``ax`` shifted sideways by ``points`` (1/72 inch): pass it as
    ``transform=`` to draw a series beside another at the same ``x`` (e.g. two estimators per
    ``k``) while its data, and so its CSV (:func:`save_figure`), keep the true ``x``."""
    from matplotlib.transforms import ScaledTranslation

    return ax.transData + ScaledTranslation(points / 72, 0, ax.figure.dpi_scale_trans)
    # (autoscaling does not see a series drawn with it: follow it with keep_in_view)


def keep_in_view(ax, x, *ys) -> None:
    """Extend the data limits of ``ax`` to the points ``(x, y)`` for each ``y`` of ``ys`` and
    autoscale: a series drawn with a :func:`nudged` transform is not seen by matplotlib's
    autoscaling (its transform does not end in ``ax.transData``), so call this after drawing it
    (with the ends of its error bars)."""
    x = np.asarray(x, dtype=float)
    for y in ys:
        ax.update_datalim(np.column_stack([x, np.asarray(y, dtype=float)]))
    ax.autoscale_view()


def save_figure(
    fig, notebook: str, name: str, data=None, *, profile: str, require_labels: bool = True
) -> tuple[Path, Path]:
    """Write ``fig`` as PNG and its data as CSV under ``<root>/<notebook>/``; return both paths.

    ``notebook`` is the chapter's name (e.g. ``"01_system_and_examples"``), ``name`` the figure's
    (e.g. ``"table_sizes_vs_n"``); both must be plain file names. ``profile`` selects the root
    directory (see :func:`figures_root`). With ``require_labels`` (default) every visible axes
    with data must have x and y labels.

    The CSV is the figure's data by construction. Its first columns (:data:`SERIES_COLUMNS`, those
    used) hold every series drawn, read from the figure's artists, one row per plotted point:

    - ``panel``: the axes' title; a panel whose title is empty or shared with another gets
      ``"<title> [panel i]"``, ``i`` counting the figure's axes from 1 in creation order (left to
      right, then top to bottom for ``plt.subplots``), colour bars not counted;
    - ``series``: the label the series has in the legend (every series must have one: it names
      the method and the estimator, e.g. ``"coordinated (Monte Carlo, 95% CI)"``);
    - ``kind`` and the coordinates: ``line`` / ``markers`` (``x, y``); ``error bars`` (``x, y``
      and the bar's ends ``y_low, y_high``, ``x_low, x_high`` for horizontal bars: what they
      mean is in the label); ``band`` (``fill_between``: ``x, y_low, y_high``); ``bars`` and
      ``histogram`` (``stairs``): one row per bar, ``x_low, x_high`` its edges and ``y`` its
      height (count or density, as the y label says); ``image``: one row per pixel, ``x, y`` its
      centre, ``z`` its value; ``scatter`` (``x, y``, ``z`` the colour value if any);
      ``horizontal line`` (``y``) and ``vertical line`` (``x``), e.g. ``axhline``.

    Numbers are written with ``repr`` of Python floats, so they round-trip exactly; a point
    nudged sideways for legibility should be nudged by a transform
    (:func:`nudged`), so that its ``x`` stays the value it stands for.

    ``data``: optional, the chapter's own columns (a dict of equal-length 1-D columns, e.g.
    per-``k`` results the figure summarises): appended after the series columns, in rows of
    ``kind`` ``table``.
    """
    for what, value in (("notebook", notebook), ("name", name)):
        if not isinstance(value, str) or not _SAFE_NAME.match(value):
            raise ValueError(
                f"{what} must be a plain file name (letters, digits, '_', '-', '.'); got {value!r}."
            )
    table = {} if data is None else _columns(data)
    clash = sorted(set(table) & set(SERIES_COLUMNS))
    if clash:
        raise ValueError(f"data columns {clash} clash with the series columns; rename them.")
    if require_labels:
        _check_labels(fig)
    series = figure_series(fig)
    used = [c for c in SERIES_COLUMNS if c in ("panel", "series", "kind") or
            any(c in row for row in series)]  # fmt: skip
    out_dir = figures_root(profile) / notebook
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    csv_path = out_dir / f"{name}.csv"
    with _replaced(png, "wb") as fh:
        fig.savefig(fh, format="png", dpi=DPI)
    with _replaced(csv_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*used, *table])
        pad = [""] * len(table)
        for row in series:
            writer.writerow([_cell(row.get(c, "")) for c in used] + pad)
        lead = {"kind": "table"}
        for values in zip(*table.values(), strict=True):
            writer.writerow([lead.get(c, "") for c in used] + [_cell(v) for v in values])
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
    lines. ``exact``: ``{rule: values}`` drawn as filled markers (exact values, e.g. from the count
    chain); ``mc``: ``{rule: (mean, ci95)}`` Monte Carlo means with 95% error bars (hollow markers,
    nudged sideways per rule by a few points so the bars stay apart); ``references``: ``(label,
    value)`` pairs drawn as grey horizontal lines (e.g. ``V*`` and the best homogeneous load);
    ``curves``: ``(label, values)`` pairs drawn as grey markers over ``k`` (e.g. the k-agent
    subsystem's own optimum). Rules take their style from :data:`RULE_STYLE`; integer ticks on
    ``k``. Legend entries: one per rule and estimator. ``title``: the axes' title (name the
    instance's parameters there, e.g. ``mu`` and ``sigma``). Returns ``ax``.
    """
    from matplotlib.ticker import MaxNLocator

    k = np.asarray(k, dtype=float)
    exact, mc = exact or {}, mc or {}
    rules = [r for r in RULE_STYLE if r in exact or r in mc]
    for j, rule in enumerate(rules):
        color, marker, label = RULE_STYLE[rule]
        if rule in exact:
            ax.plot(k, exact[rule], marker, color=color, ms=6, label=f"{label} (exact)")
        if rule in mc:
            mean, ci = mc[rule]
            ax.errorbar(
                k, mean, yerr=ci, fmt=marker, color=color, mfc="none", capsize=3, lw=1.2,
                label=f"{label} (Monte Carlo, 95% CI)",
                transform=nudged(ax, 3.5 * (j - (len(rules) - 1) / 2)),
            )  # fmt: skip
            keep_in_view(ax, k, np.asarray(mean) - ci, np.asarray(mean) + ci)
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
