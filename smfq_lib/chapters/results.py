"""README's numbers, read from the figures' CSVs: ``python -m smfq_lib.reproduce --summary``.

Every number the README quotes from a figure is written by :func:`findings` from the CSVs that
:func:`smfq_lib.chapters.plotting.save_figure` wrote (one row per plotted point, columns
``panel, series, kind, x, y, ...``, the chapter's own columns in rows of ``kind`` ``table``), and
nowhere else: :func:`write_readme` replaces the block between :data:`BEGIN` and :data:`END` of
``README.md`` with it, and ``tests/test_results.py`` fails when the README's block differs from
what the committed ``figures/`` give. Run the command after ``make reproduce`` (``make reproduce``
runs it for the full profile).

A figure written before ``save_figure`` wrote the long format (header without ``panel, series,
kind``) cannot be read: :func:`long_format` says which format a CSV has.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from smfq_lib._utils.rounding import fmt

__all__ = ["BEGIN", "END", "findings", "long_format", "readme_block", "write_readme"]

#: The first and last line of the README's generated block.
BEGIN = "<!-- results: generated from figures/*.csv by `python -m smfq_lib.reproduce --summary` -->"
END = "<!-- end of results -->"
_FLOOR = 1e-9  # a gap at or below this is 0 (the solvers' tolerance; GAP_FLOOR of chapter 8)


# -- reading ------------------------------------------------------------------------------------
def long_format(path) -> bool:
    """Whether the CSV at ``path`` is in ``save_figure``'s long format (its header starts with
    ``panel,series,kind``)."""
    with open(path, newline="") as fh:
        header = next(csv.reader(fh), [])
    return header[:3] == ["panel", "series", "kind"]


class Figure:
    """One figure's CSV: ``series(panel=..., series=...)`` the plotted points, ``table`` the
    chapter's columns (a pandas DataFrame of the ``kind == "table"`` rows)."""

    def __init__(self, root: Path, notebook: str, name: str):
        import pandas as pd

        path = Path(root) / notebook / f"{name}.csv"
        if not long_format(path):
            raise ValueError(
                f"{path} is not in save_figure's long format (panel, series, kind, ...): it was "
                "written by an older version; regenerate the figures (make reproduce)."
            )
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        self.path = path
        self.points = frame[frame.kind != "table"]
        self.table = frame[frame.kind == "table"].dropna(axis=1, how="all")

    def series(self, panel=None, series=None):
        """The points whose panel and series match the regular expressions (``re.search``)."""
        rows = self.points
        for column, pattern in (("panel", panel), ("series", series)):
            if pattern is not None:
                rows = rows[rows[column].astype(str).str.contains(pattern, regex=True)]
        if rows.empty:
            raise ValueError(f"{self.path.name}: no series matches panel {panel!r}, {series!r}")
        return rows

    def line(self, panel=None, series=None) -> float:
        """The ``y`` of a horizontal line (e.g. a reference value)."""
        return float(self.series(panel, series).y.iloc[0])


# -- formatting ---------------------------------------------------------------------------------
def _f(x, digits=2) -> str:
    return fmt(float(x), f".{digits}f")


def _g(x, digits=2) -> str:
    """``x`` with ``digits`` significant digits, thousands separated (no exponent below 1e6)."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return fmt(x, ".0f")
    if abs(x) >= 1e6:
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{round(x, decimals):,.{decimals}f}"


def _range(values, digits=2) -> str:
    values = np.asarray(values, dtype=float)
    lo, hi = _f(values.min(), digits), _f(values.max(), digits)
    return lo if lo == hi else f"{lo}-{hi}"


def _ks(ks) -> str:
    ks = [int(k) for k in ks]
    return ", ".join(map(str, ks)) if ks else "none"


def _ns(n) -> str:
    n = int(n)
    return f"10^{round(math.log10(n))}" if n >= 10**5 and math.log10(n).is_integer() else str(n)


def _by(rows, key, value):
    return dict(zip(rows[key].astype(int), rows[value].astype(float), strict=True))


# -- one paragraph per chapter ------------------------------------------------------------------
def _learning(root) -> str:
    res = Figure(root, "03_learning", "residuals").table
    rates = []
    for _, run in res.groupby("run", sort=False):
        r = run.sort_values("t").residual.to_numpy(dtype=float)
        rates.append((r[-1] / r[0]) ** (1 / (r.size - 1)))
    noise = Figure(root, "04_bellman_noise", "bellman_noise_vs_m")
    panel = "Measured"
    slopes, mstar, gaps = [], [], []
    for k in sorted(set(noise.table.k.astype(int))):
        fit = noise.series(panel, rf"^k = {k} .*: fit, slope")
        x, y = np.log(fit.x.to_numpy(float)), np.log(fit.y.to_numpy(float))
        slopes.append((y[-1] - y[0]) / (x[-1] - x[0]))
        star = noise.series("extrapolated", rf"^k = {k} .*m\* = ").x.iloc[0]
        mean = noise.series(panel, rf"^k = {k} .*: mean over seeds")
        reach = mean[mean.y <= 1 / math.sqrt(k)].x.min()
        mstar.append(star)
        gaps.append(math.log10(star / reach))
    s = sorted(slopes)
    return (
        "- Algorithms 1 and 2 with the exact operator agree entry by entry; the residuals "
        f"contract at a mean rate of {_range(rates, 3)} per iteration for gamma = 0.9 (ch. 3). "
        f"The Bellman noise falls like m^{_f(s[-1])} to m^{_f(s[0])}; Lemma 0.9's m* "
        f"({_g(min(mstar))} to {_g(max(mstar))}) is {math.floor(min(gaps))} to "
        f"{math.floor(max(gaps))} orders of magnitude above the m that reaches "
        "eps <= 1/sqrt(k) (ch. 4)."
    )


def _optimality_gap(root) -> str:
    from smfq_lib.evaluate.gap_study import loglog_slope, shape, shape_constant

    fig = Figure(root, "08_optimality_gap", "gap_vs_bound")
    t = fig.table.sort_values("k")
    k, worst = t.k.to_numpy(int), t.worst_gap.to_numpy(float)
    bound, n = t.bound_printed.to_numpy(float), int(t.k.max())
    rule = re.search(r"rule '(\w+)'", fig.points.panel.iloc[0]).group(1)
    shown = [q for q in (1, 2, 4, 8, 16, 32) if q < n]
    zero = [int(q) for q in k[worst <= _FLOOR]]
    odd = k % 2 == 1
    half = (1, n // 2)
    slope_half, slope_odd = loglog_slope(k, worst, *half), loglog_slope(k[odd], worst[odd], *half)
    slope_all = loglog_slope(k, worst, 1, n - 1)
    shape_half, shape_all = (
        loglog_slope(k, shape(n, k), *half),
        loglog_slope(k, shape(n, k), 1, n - 1),
    )
    C = shape_constant(n, k, worst, 1, n - 1)
    pos = worst > _FLOOR
    ratio = bound[pos] / worst[pos]
    rnd_fig = Figure(root, "08_optimality_gap", "random_system_gap")
    rnd = rnd_fig.table.sort_values("k")
    seed = re.search(r"seed=(\d+)", rnd_fig.points.panel.iloc[0]).group(1)
    smaller = worst.max() / rnd.worst_gap.max()
    return (
        f"- Optimality gap (ch. 8, exact): on `majority_mode` (n = {n} agents, every k = 1..{n}, "
        f'rule "{rule}") the worst-case gap over start states is '
        f"{', '.join(_f(worst[q - 1], 3) for q in shown)} at k = {_ks(shown)}, and 0 at k = "
        f"{_ks(zero)}. Its log-log slope is {_f(slope_half)} over k <= n/2 ({_f(slope_odd)} over "
        f"odd k; the theorem's shape sqrt((n-k+1)/(nk)) has {_f(shape_half)} there) and "
        f"{_f(slope_all)} over all k < n (shape: {_f(shape_all)}), and one fitted constant, "
        f"{_f(C)} sqrt((n-k+1)/(nk)), follows the curve over every k: the rate of Theorem 0.11 "
        f"is attained, while its printed bound is {_g(ratio.min(), 3)} to {_g(ratio.max(), 3)} "
        f"times the gap ({_g(ratio[0], 3)} at k = 1). At even k a sample can split in half and "
        'the k-agent Q ties: "first" and "coordinated" then always pick the same mode, so the '
        'gap at even k exceeds the one at k - 1; "uniform" (a fair coin) makes them equal. On a '
        f"random system (seed {seed}, n = {int(rnd.k.max())}) the worst-case gap is at most "
        f"{_f(rnd.worst_gap.max(), 3)}, {_f(smaller, 1)} times smaller than on `majority_mode`, "
        "and irregular in k; on most random systems the gap of pi_1^est at the i.i.d. uniform "
        "start state is 0 (the chapter's seed scan)."
    )


def _squeeze(root) -> str:
    fig = Figure(root, "06_gaussian_squeeze", "return_vs_k_by_rule")
    t = fig.table.sort_values("k")
    k = t.k.to_numpy(int)
    n = int(k.max())
    ex = {
        r: t[f"exact_{r}"].to_numpy(float) for r in ("first", "uniform", "coordinated", "authors")
    }
    v_star, homog = fig.line("all rules", r"^\$V\^\*\$"), fig.line("all rules", "every agent sends")
    first_zero = int(k[np.flatnonzero(ex["first"] <= _FLOOR)[0]])
    authors = sorted({_f(v) for v in ex["authors"]}, key=float)
    co, sub = ex["coordinated"], t.subsystem_value.to_numpy(float)
    dips = [int(q) for q in k[1:][np.diff(co) < -1e-6]]
    own = [q for q in dips if sub[q - 1] < sub[q - 2] - 1e-9]
    not_own = [q for q in dips if q not in own]
    paper_fig = Figure(root, "06_gaussian_squeeze", "paper_instance_return_vs_k")
    paper, paper_homog = paper_fig.table, paper_fig.line(None, "every agent sends")
    parts = []
    for pn, rows in paper.groupby(paper.n.astype(int)):
        rows = rows[rows.k >= 2].sort_values("k")
        co_p = rows.mc_coordinated
        side = ("below" if co_p.max() < paper_homog else "above" if co_p.min() > paper_homog
                else "on either side of")  # fmt: skip
        star = paper_fig.line(rf"n = {pn}$", rf"^\$V\^\*\$ \(n = {pn}\)")
        parts.append(
            f"at n = {pn} coordinated is {side} the best homogeneous load at every k >= 2 "
            f"({_range(rows.mc_coordinated, 1)}; uniform {_range(rows.mc_uniform, 1)}, first "
            f"{_range(rows.mc_first, 1)}; V* = {_f(star, 1)})"
        )
    timing = Figure(root, "06_gaussian_squeeze", "timing_learning_time_and_speedup")
    sp = timing.series("vs MF-VI", "median time").sort_values("x").iloc[0]
    return (
        "- Gaussian squeeze (ch. 6): the answer depends on how the argmax breaks ties, which the "
        "paper leaves open (the reward depends on the total load only, so maximizers are never "
        f"unique). Exact values, 3 loads, n = {n} (V* = {_f(v_star)}, best homogeneous load "
        f'{_f(homog, 1)}): rule "first" (fixed index order) collapses to 0 from k = '
        f'{first_zero}, every agent playing "agent 1"\'s share (load 0) of a split optimum; the '
        f"authors' code's reading gives {' or '.join(authors)}; \"uniform\" (random tie-breaking) "
        f'is flat at {_range(ex["uniform"][1:])} for k = 2..{n}; "coordinated" (the default: '
        "one canonical joint maximizer per sample, random roles) rises from "
        f"{_f(co[1])} at k = 2 to {_f(co[-1])} at k = n ({_f(v_star - co[-1])} below V*), with "
        f"dips at k = {_ks(dips)}"
        + (
            f", all but k = {_ks(not_own)} where the k-agent optimum (mean loads on the grid j/k) "
            "dips itself"
            if own and not_own
            else (
                ", where the k-agent optimum (mean loads on the grid j/k) dips itself"
                if own
                else ""
            )
        )
        + ". Paper's instance (10 loads, Monte Carlo, best homogeneous load "
        + f"{_f(paper_homog, 1)}): "
        + "; ".join(parts)
        + '. So "monotonic improvement as k -> n" holds under no rule strictly. Learning at '
        f"k = 1 is {_g(sp.y)}x faster than mean-field VI on all n = {n} (median of repeats; "
        f"{_g(sp.y_low)}x to {_g(sp.y_high)}x between the extreme repeats)."
    )


def _exploration(root) -> str:
    fig = Figure(root, "07_constrained_exploration", "return_and_gap_vs_k")
    t = fig.table
    exact = t[t.estimator == "exact"].sort_values("k")
    n_exact = int(exact.n.iloc[0])
    v_star = fig.line(None, r"V\^\*")
    mc = t[t.estimator == "monte_carlo"]
    returns = "; ".join(
        f"n = {_ns(n)}: "
        + ", ".join(
            f"{_f(r, 3)} +- {_f(c, 3)}"
            for r, c in zip(rows.return_mean, rows.return_ci95, strict=True)
        )
        for n, rows in ((n, rows.sort_values("k")) for n, rows in mc.groupby(mc.n.astype(int)))
    )
    ks_mc = sorted(set(mc.k.astype(int)))
    occ = Figure(root, "07_constrained_exploration", "occupancy_small_and_large_k").table
    last = occ[occ.t == occ.t.max()].sort_values("k")
    shares = [
        f"{_g(100 * s)}% under k = {int(q)}"
        for q, s in zip(last.k, last.share_cell_r0c0, strict=True)
    ]
    timing = Figure(root, "07_constrained_exploration", "timing_learning_and_speedup")
    sp = timing.series("Speedup", "median time").sort_values("x").iloc[0]
    return (
        "- Constrained exploration (ch. 7): with one hazard zone (the paper's example) the exact "
        "gap at the paper's start is 0 for every k (the box's best move ignores the agents). "
        "With two zones of different value (start: box r0c1, the agents split next to either "
        f"zone) k matters: exact gap at the start {', '.join(_f(g) for g in exact.gap_start)} "
        f"and worst case {', '.join(_f(g) for g in exact.gap_worst)} "
        f"(n = {n_exact}, k = 1..{n_exact}; V* = {_f(v_star, 3)}); "
        f"Monte Carlo return (95% CI) for k = {_ks(ks_mc)}: {returns}. "
        f"In zone A at the last step drawn: {', '.join(shares)} of the agents"
        + f". Learning at k = 1 is {_g(sp.y)}x faster than mean-field VI on all n = {n_exact} "
        f"agents (median of repeats; {_g(sp.y_low)}x to {_g(sp.y_high)}x between the extreme "
        "repeats)."
    )


def _extensions(root) -> str:
    types = Figure(root, "09_extensions", "types_gap_vs_k").table.sort_values("k")
    zero = types.k[types.gap.abs() <= 1e-6].astype(int)
    from_k = (
        int(zero.min()) if len(zero) and (types.k[types.k >= zero.min()].isin(zero)).all() else None
    )
    noisy = Figure(root, "09_extensions", "stochastic_rewards_gap").table
    worst = float((noisy.gap_noisy_rewards / noisy.bound).max())
    return (
        "- Stochastic rewards and agent types (ch. 9): every gap is far below the bound (noisy "
        f"rewards: at most {_g(100 * worst)}% of it); with two types the gap decays"
        + (f" and is 0 from k = {from_k}." if from_k else ".")
    )


def _linear(root) -> str:
    fig = Figure(root, "10_linear_function_approximation", "squeeze_return_vs_k")
    lin = fig.table
    ns = sorted(set(lin.n.astype(int)))

    def tab(n, figure=fig):
        return _by(figure.series(rf"n = {n}$", "^tabular"), "x", "y")

    def linear(n, table=lin):
        return _by(table[table.n == n], "k", "ret")

    out = (
        "- The non-tabular setting (ch. 10, Theorem 0.15): a linear model `theta[s_g, s_1, a_1, "
        "a_g] . phi(F)` fitted by value iteration on the k-agent subsystem. It reproduces the "
        "tables where its features can (one-hot features are Algorithm 2; `[1, F]` was exact, gap "
        "for gap, on every random system with decomposed rewards) and, with a greedy step in "
        "closed form for features affine in `F`, runs at every k: on the paper's Gaussian squeeze "
        f"up to k = {int(lin.k.max())} ({_f(lin.seconds.min(), 1)}-{_f(lin.seconds.max(), 1)} s "
        f"of learning per k, where the table stops at k = {max(tab(ns[0]))})."
    )
    both = [q for q in (2, 3) if all(q in tab(n) and q in linear(n) for n in ns)]
    for q in both:
        pairs = ", ".join(f"{_f(linear(n)[q], 1)} vs {_f(tab(n)[q], 1)}" for n in ns)
        on = ", ".join(map(str, ns))
        out += f" At k = {q} the linear return against the table's is {pairs} (n = {on})."
    big = ns[-1]
    star = fig.line(rf"n = {big}$", r"^\$V\^\*\$")
    out += (
        f" Over all k its return ranges over {_range(list(linear(big).values()), 1)} at n = {big} "
        f"(V* = {_f(star, 1)} to the horizon)."
    )
    ex = Figure(root, "10_linear_function_approximation", "exploration_return_vs_k")
    n0 = ns[0]
    grid = re.search(r"(\d+x\d+)", ex.points.panel.iloc[0]).group(1)
    ex_lin, ex_tab = linear(n0, ex.table), tab(n0, ex)
    gap = ex.series("Gap to the table", rf"n = {n0} ").sort_values("x")
    out += (
        f" On the two-zone exploration ({grid} grid, tables up to k = {max(ex_tab)}, n = {n0}) "
        f"the table gives {', '.join(_f(v) for v in ex_tab.values())} at k = {_ks(ex_tab)}, the "
        f"linear model {', '.join(_f(v) for v in ex_lin.values())} at k = {_ks(ex_lin)}; its gap "
        f"to the table at k = 2 is {', '.join(_f(v) for v in gap.y)} for design sizes M = "
        f"{_ks(gap.x)}."
    )
    return out


def _sample_complexity(root) -> str:
    from smfq_lib.chapters.sample_complexity import compare, frontier

    table = Figure(root, "11_sample_complexity", "gap_vs_calls").table
    out = (
        "- Sample complexity (ch. 11): the exact worst-case gap against the generative-oracle calls"
    )
    out += " spent, SUBSAMPLE-MFQ against mean-field VI on all n agents fed the same oracle."
    for name, Z in (("majority_mode", 2), ("random_system_25", 4)):
        rows = table[table.instance == name].astype({"k": int, "m": int, "calls": int})
        n = int(rows.k.max())
        sub, base = rows[rows.k < n], rows[rows.k == n]
        cmp_ = compare(sub, base, sorted(base.calls))
        won = cmp_[cmp_.winner == "subsample"].budget
        lost = cmp_[cmp_.winner == "baseline"].budget
        best, zero = frontier(sub).iloc[-1], base[base.gap_mean <= _FLOOR]
        last = base.iloc[-1]
        reach = (
            f"reaches V* (gap 0) from {_g(zero.calls.min())} calls"
            if len(zero)
            else f"has gap {_f(last.gap_mean)} at its largest m = {int(last.m)} "
            f"({_g(last.calls)} calls)"
        )
        out += (
            f" On `{name}` (n = {n}, |Z_l| = {Z}) the baseline costs {_g(base.calls.min())} calls"
            f" at m = 1 and {reach}; SUBSAMPLE-MFQ's best mean gap is {_f(best.gap_mean)} (k ="
            f" {int(best.k)}, m = {int(best.m)}, {_g(best.calls)} calls), and SUBSAMPLE-MFQ has"
            " the lower gap at "
        )
        if lost.empty:
            out += f"every budget measured (up to {_g(cmp_.budget.max())} calls)."
        else:
            out += f"budgets up to {_g(won.max())} calls, the baseline from {_g(lost.min())} on."
    return out


def _online(root) -> str:
    fig = Figure(root, "13_online_learning", "online_gap_vs_samples")
    panel = fig.points.panel[fig.points.panel.str.startswith("majority_mode")].iloc[0]
    ks = sorted({int(m) for m in fig.points.series.str.extract(r"^k = (\d+):")[0].dropna()})
    delta = 0.05  # the chapter's delta

    def reach(k, what):
        exact = fig.line(re.escape(panel), rf"^k = {k}: exact")
        pts = fig.series(re.escape(panel), rf"^k = {k}: {what}").sort_values("x")
        ok = (pts.y <= exact + delta).to_numpy()
        tail = np.flip(np.cumprod(np.flip(ok))).astype(bool)
        return (float(pts.x.iloc[tail.argmax()]) if tail.any() else None), exact

    rows = [(k, *reach(k, r"online \(mean"), reach(k, "generative")[0]) for k in ks]
    top = fig.series(re.escape(panel), r"online \(mean").x.max()
    done = [(k, on, orc) for k, on, _, orc in rows if on is not None]
    never = [k for k, on, _, _ in rows if on is None]
    n = panel.split(", ")[1]
    online = ", ".join(_g(on) for _, on, _ in done)
    oracle = ", ".join(_g(orc) for _, _, orc in done)
    return (
        "- Without a generative oracle (ch. 13, `learn_online`: Q-learning on k-subsets of the "
        f"n-agent system's own transitions, same fixed point Q_k*): on `majority_mode` ({n}) "
        f"the online policy reaches the exact pi_k^est's worst-case gap (within {delta}) at k = "
        f"{_ks([k for k, _, _ in done])} after {online} samples, where the oracle learner with "
        f"as many samples needs {oracle}"
        + (f"; at k = {_ks(never)} not within {_g(top)}." if never else ".")
        + f" The exact gaps at k = {_ks(ks)} are "
        + ", ".join(_f(e) for _, _, e, _ in rows)
        + " (at even k the sample can tie, ch. 8); the online learner's cost in samples grows"
        " with k much faster than the oracle's."
    )


def findings(root) -> str:
    """The README's block of findings, every number read from the CSVs under ``root`` (a
    figures directory: ``<root>/<notebook>/<name>.csv``)."""
    root = Path(root)
    paragraphs = (
        _learning,
        _optimality_gap,
        _squeeze,
        _exploration,
        _extensions,
        _linear,
        _sample_complexity,
        _online,
    )
    return "\n".join(p(root) for p in paragraphs)


def readme_block(text: str) -> str | None:
    """The generated block of a README's ``text`` (between :data:`BEGIN` and :data:`END`,
    markers excluded), or None if it has none."""
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n?" + re.escape(END), text, flags=re.S)
    return match.group(1) if match else None


def write_readme(root, readme) -> bool:
    """Replace the block of ``readme`` (a path) by :func:`findings` of ``root``; return whether the
    file changed. ``ValueError`` if the README has no block."""
    readme = Path(readme)
    text = readme.read_text()
    if readme_block(text) is None:
        raise ValueError(f"{readme} has no block between {BEGIN!r} and {END!r}.")
    new = re.sub(
        re.escape(BEGIN) + r"\n.*?" + re.escape(END),
        lambda _: f"{BEGIN}\n{findings(root)}\n{END}",
        text,
        flags=re.S,
    )
    if new != text:
        readme.write_text(new)
    return new != text
