"""Figures of learning and execution runs (chapters 3, 4, 5 and 9), one function per kind.

Each function draws on the axes it is given and returns the plotted numbers as columns (a dict
for :func:`smfq_lib.chapters.plotting.save_figure`) where the figure has numbers beyond its
inputs. Re-exported by :mod:`smfq_lib.chapters.plotting`; use its
:func:`~smfq_lib.chapters.plotting.use_style` first.
"""

from __future__ import annotations

import numpy as np

from smfq_lib.chapters.plotting.style import keep_in_view, nudged

__all__ = [
    "plot_bellman_noise",
    "plot_cost_per_step",
    "plot_executors_vs_exact",
    "plot_residuals",
    "plot_return_histograms",
    "plot_return_vs_n",
    "plot_reward_traces",
    "plot_stochastic_reward_gaps",
    "plot_value_and_executors",
]


def plot_residuals(ax, ax_ratio, runs: dict, gamma: float, threshold: float) -> dict:
    """Residual histories ``||Q^{t+1} - Q^t||_inf`` of value iteration against the contraction
    line ``gamma^t ||Q^1 - Q^0||_inf`` (chapter 3).

    ``runs``: ``{label: residuals}``, the first run's first residual anchoring the line (every
    run starts from ``Q^0 = 0``, so they share it); exact runs (label without ``"m ="``) are
    drawn solid/dashed, sampled ones dotted and thicker. ``ax``: residuals on a log axis with
    the line and the stopping ``threshold`` (dotted); ``ax_ratio``: residual / line, which a
    ``gamma``-contraction keeps ``<= 1``. Returns the columns ``run, t, residual,
    residual_over_line`` (the line included, as run ``"contraction line"``).
    """
    T = max(len(r) for r in runs.values())
    t_line = np.arange(T)
    line = next(iter(runs.values()))[0] * gamma**t_line
    data = {"run": [], "t": [], "residual": [], "residual_over_line": []}
    exact_styles = iter(["-", "--", "-."] * len(runs))
    for label, res in runs.items():
        res = np.asarray(res, dtype=float)
        t, ratio = np.arange(res.size), res / line[: res.size]
        sampled = "m =" in label
        style = dict(ls=":" if sampled else next(exact_styles), lw=2.6 if sampled else 2)
        ax.semilogy(t, res, label=label, **style)
        ax_ratio.plot(t, ratio, label=label, **style)
        for key, col in zip(data, ([label] * t.size, t, res, ratio), strict=True):
            data[key] += list(col)
    ax.semilogy(t_line, line, color="k", lw=1.2, label=r"$\gamma^t\,\|Q^1-Q^0\|_\infty$")
    ax.axhline(threshold, color="0.4", ls=":", lw=1.2, label=r"stop: tol$(1-\gamma)/\gamma$")
    ax.set(xlabel="iteration t", ylabel=r"residual $\|Q^{t+1}-Q^t\|_\infty$")
    ax_ratio.axhline(1.0, color="k", lw=1.2, label="contraction line")
    ax_ratio.set(xlabel="iteration t", ylabel=r"residual / $\gamma^t\,\|Q^1-Q^0\|_\infty$",
                 ylim=(0, 1.08), title=r"Residual / contraction line ($\leq 1$)")  # fmt: skip
    for key, col in zip(data, (["contraction line"] * T, t_line, line, [1.0] * T), strict=True):
        data[key] += list(col)
    return data


def plot_bellman_noise(ax, ax_ext, ms, eps: dict, fits: dict, m_star: dict, m_fit_min,
                       labels=None) -> dict:  # fmt: skip
    """The Bellman noise ``epsilon_{k,m}`` of Lemma 0.9 against ``m`` (chapter 4).

    ``ms``: the sample counts; ``eps``: ``{k: array (len(ms), seeds)}``; ``fits``: ``{k: (slope,
    intercept)}`` of the least-squares line of ``log mean eps`` on ``log m`` over ``m >=
    m_fit_min``; ``m_star``: ``{k: m*}`` of Lemma 0.9; ``labels``: ``{k: legend label}`` (default
    ``"k = <k>"``). ``ax``: every seed (crosses), the mean (hollow circles), the fit and an
    ``m^-1/2`` reference, log-log; ``ax_ext``: the fits, solid over the measured ``m`` and dashed
    beyond (extrapolated), to ``m*`` (stars). Returns the columns ``source, k, m, seed, eps``
    (measured values, then the fit at ``m*`` with seed -1).
    """
    ms = np.asarray(ms)
    fit_m = ms[ms >= m_fit_min]
    m_ext = np.geomspace(1, 10 * max(m_star.values()), 200)
    data = {"source": [], "k": [], "m": [], "seed": [], "eps": []}
    for i, (k, e) in enumerate(eps.items()):
        color, (slope, icpt), ms_k = f"C{i}", fits[k], m_star[k]
        label = labels[k] if labels else f"k = {k}"
        ax.loglog(np.repeat(ms, e.shape[1]), e.ravel(), "x", color=color, alpha=0.5, ms=4,
                  mew=1, label=f"{label}: each seed")  # fmt: skip
        ax.loglog(ms, e.mean(axis=1), "o", color=color, mfc="none", mew=1.8, ms=8,
                  label=f"{label}: mean over seeds")  # fmt: skip
        ax.loglog(fit_m, np.exp(icpt) * fit_m**slope, color=color, lw=1.5,
                  label=f"{label}: fit, slope {slope:+.2f}")  # fmt: skip
        ax_ext.loglog(fit_m, np.exp(icpt) * fit_m**slope, color=color, lw=2,
                      label=f"{label}: fit over the measured m")  # fmt: skip
        beyond = m_ext[m_ext >= fit_m.max()]
        ax_ext.loglog(beyond, np.exp(icpt) * beyond**slope, color=color, lw=1.5, ls="--",
                      label=f"{label}: fit extrapolated")  # fmt: skip
        ax_ext.loglog(ms, e.mean(axis=1), "o", color=color, ms=4, label=f"{label}: mean over seeds")
        at_star = float(np.exp(icpt) * ms_k**slope)
        ax_ext.loglog([ms_k], [at_star], "*", color=color, ms=14, mec="k",
                      label=f"{label}: Lemma 0.9's m* = {ms_k:.1e}")  # fmt: skip
        rows = [("measured", m, j, e[a, j]) for j in range(e.shape[1]) for a, m in enumerate(ms)]
        for panel, m, j, value in [*rows, ("fit at m*", ms_k, -1, at_star)]:
            for key, v in zip(data, (panel, k, float(m), j, float(value)), strict=True):
                data[key].append(v)
    first = next(iter(eps.values())).mean(axis=1)[0]
    ax.loglog(ms, first * ms.astype(float) ** -0.5, "k--", lw=1, label=r"$\propto m^{-1/2}$")
    ax.set(xlabel="samples per entry m",
           ylabel=r"Bellman noise $\epsilon_{k,m}=\|\hat Q_{k,m}-\hat Q_k^*\|_\infty$")  # fmt: skip
    ax_ext.set(xlabel="samples per entry m", ylabel=r"$\epsilon_{k,m}$ (fit, extrapolated)",
               title="Fits extrapolated (dashed) to Lemma 0.9's m*")  # fmt: skip
    return data


def plot_executors_vs_exact(ax, ks, exact: dict, mc: dict) -> None:
    """Monte Carlo estimates of both executors beside the exact value, per ``k`` (chapter 5).

    ``ks``: the sample sizes (integers, drawn as markers); ``exact``: ``{k: value}`` (a black
    bar per ``k``); ``mc``: ``{(k, executor): (mean, sem)}``, drawn with 95%
    error bars (``1.96 sem``), nudged sideways per executor.

    ``ax``: the matplotlib axes drawn on.
    """
    kk = np.asarray(ks, dtype=float)
    # the bar is a horizontal error bar of half-width 0.15 around an invisible marker at
    # (k, exact): its legend handle is an ordinary short bar and its CSV rows hold (k, exact)
    ax.errorbar(kk, [exact[k] for k in ks], xerr=0.15, fmt="k_", ms=0, elinewidth=2.5,
                capsize=0, label="exact (count chain)")  # fmt: skip
    names = sorted({name for _, name in mc})
    for j, name in enumerate(names):
        mean, sem = (np.array([mc[k, name][i] for k in ks]) for i in (0, 1))
        ax.errorbar(kk, mean, yerr=1.96 * sem, fmt="o", capsize=5,
                    transform=nudged(ax, 9 * (j - (len(names) - 1) / 2)),
                    label=f"rollout_{name} (Monte Carlo, 95% CI)")  # fmt: skip
        keep_in_view(ax, kk, mean - 1.96 * sem, mean + 1.96 * sem)
    ax.set(xlabel="sampled agents k", ylabel="discounted return", xticks=kk)
    ax.ticklabel_format(axis="y", useOffset=False)


def plot_reward_traces(ax, runs: dict, steps: int) -> None:
    """Mean stage reward per time step of several executors' rollouts, with 95% bands, over the
    first ``steps`` steps (chapter 5). ``runs``: ``{name: Rollouts}`` kept with
    ``keep="steps"``.

    ``ax``: the matplotlib axes drawn on.
    """
    for (name, r), style in zip(runs.items(), ["o-", "x--", "s:"], strict=False):
        mean = r.mean_rewards()[:steps]
        band = 1.96 * r.rewards[:, :steps].std(axis=0, ddof=1) / np.sqrt(r.rollouts)
        t = np.arange(mean.size)
        ax.plot(t, mean, style, ms=6, mew=2, label=f"rollout_{name}, mean over rollouts")
        ax.fill_between(t, mean - band, mean + band, alpha=0.25, label=f"rollout_{name}, 95% CI")
    ax.set(xlabel="time step t", ylabel="mean stage reward (eq. 3)")
    ax.legend(fontsize=9)


def plot_return_histograms(ax, runs: dict, bins: int = 40) -> None:
    """Histograms (densities, step outlines, ``bins`` shared bins spanning every return) of the
    discounted returns of several executors' rollouts (chapter 5). ``runs``: ``{name:
    Rollouts}``; ``bins``: bin count.

    ``ax``: the matplotlib axes drawn on.
    """
    lo = min(r.returns.min() for r in runs.values())
    hi = max(r.returns.max() for r in runs.values())
    edges = np.linspace(lo, hi, bins + 1)
    for name, r in runs.items():
        density, _ = np.histogram(r.returns, bins=edges, density=True)
        ax.stairs(density, edges, lw=2, label=f"rollout_{name}")
    ax.set(xlabel="discounted return", ylabel="density")
    ax.legend()


def plot_return_vs_n(ax, ns, ks, by_n: dict, agent_max_n: int) -> None:
    """The return of ``pi_k^est`` against the number of agents ``n`` (log axis), one colour per
    ``k`` (chapter 5): the count-level executor with 95% error bars at every ``n``, the
    agent-level one (crosses) up to ``agent_max_n``. ``by_n``: ``{(k, n, executor): (mean,
    sem, ...)}``; points are nudged sideways per ``k`` by a few points (:func:`nudged`).

    ``ax``: the matplotlib axes drawn on; ``ns``: the numbers of agents; ``ks``: the sample
    sizes, one colour each.
    """
    ns_ = np.array(ns, dtype=float)
    for j, k in enumerate(ks):
        shift = nudged(ax, 5 * (j - (len(ks) - 1) / 2))
        mean, sem = (np.array([by_n[k, n, "counts"][i] for n in ns]) for i in (0, 1))
        ax.errorbar(ns_, mean, yerr=1.96 * sem, fmt="o", capsize=4, color=f"C{j}", transform=shift,
                    label=f"k = {k}, rollout_counts (Monte Carlo, 95% CI)")  # fmt: skip
        agents = [i for i, n in enumerate(ns) if n <= agent_max_n]
        ax.plot(ns_[agents], [by_n[k, ns[i], "agents"][0] for i in agents], "x", ms=9, mew=2,
                color=f"C{j}", transform=shift,
                label=f"k = {k}, rollout_agents (Monte Carlo mean)")  # fmt: skip
        keep_in_view(ax, ns_, mean - 1.96 * sem, mean + 1.96 * sem)
    ax.set(xscale="log", xlabel="number of agents n", ylabel="discounted return")
    ax.legend(fontsize=8.5, ncol=2)


def plot_cost_per_step(ax, cost: dict) -> None:
    """Wall time per rollout step against ``n`` (log-log), one line per executor (chapter 5).

    ``cost``: ``{executor: {n: seconds per rollout step}}``; drawn in microseconds.

    ``ax``: the matplotlib axes drawn on.
    """
    for name, by_n in cost.items():
        nn = sorted(by_n)
        ax.plot(nn, [1e6 * by_n[n] for n in nn], "o-", label=f"rollout_{name}")
    ax.set(xscale="log", yscale="log", xlabel="number of agents n",
           ylabel="wall time per rollout step (µs)")  # fmt: skip
    ax.legend()


def plot_stochastic_reward_gaps(ax, ax_prob, k, seed_k, gaps: dict, exact_gap, bound, below,
                                probability, floor: float) -> None:  # fmt: skip
    """Theorem 0.13 (chapter 9): exact gaps of policies learned from noisy rewards, per seed,
    against the bound; and the fraction of seeds below the bound against the theorem's
    probability.

    ``k``: the sample sizes (one tick each, log2 axis); ``seed_k``: the ``k`` of each seed's gap;
    ``gaps``: ``{label: gap per seed}`` (e.g. noisy rewards, mean rewards), drawn as dots, each
    series nudged sideways by a few points; ``exact_gap``: the exact operator's gap per ``k``
    (triangles); ``bound``: Theorem 0.11's bound per ``k``; gaps ``<= floor`` (0 to the solvers'
    tolerance) are not drawn on the log axis. ``ax_prob``: ``below`` (fraction of seeds with gap <=
    bound per ``k``) and ``probability`` (the theorem's ``1 - 1/(100 sqrt k)``).

    ``ax``: the axes of the gaps.
    """
    x_k = np.asarray(k, dtype=float)
    x_seed = np.asarray(seed_k, dtype=float)
    for (label, g), dx, mark, col in zip(gaps.items(), (-5, 5), "os", ("C0", "C2"),
                                         strict=False):  # fmt: skip
        g = np.asarray(g)
        ok = g > floor
        ax.semilogy(x_seed[ok], g[ok], mark, ms=3.5, alpha=0.55, color=col, label=label,
                    transform=nudged(ax, dx))  # fmt: skip
        keep_in_view(ax, x_seed[ok], g[ok])
    exact_gap = np.asarray(exact_gap)
    ok = exact_gap > floor
    ax.semilogy(x_k[ok], exact_gap[ok], "k^", ms=7, label=r"exact operator ($m=\infty$)")
    ax.semilogy(x_k, bound, "_", color="C3", ms=22, mew=2.5, label="Theorem 0.11 bound")
    ax_prob.plot(x_k, below, "o", color="C0", label="fraction of seeds with gap <= bound")
    ax_prob.plot(x_k, probability, "s", color="C3", mfc="none",
                 label=r"Theorem 0.13: $1 - 1/(100\sqrt{k})$")  # fmt: skip
    ax.set(xlabel="sampled agents k", ylabel=r"$V^*(s_0) - V^{\pi_k^{est}}(s_0)$")
    ax_prob.set(xlabel="sampled agents k", ylabel="probability", ylim=(0.985, 1.002))
    for a in (ax, ax_prob):
        a.set_xscale("log", base=2)
        a.set(xticks=x_k, xticklabels=[str(int(v)) for v in k])
        a.minorticks_off()


def plot_value_and_executors(ax, k, v_pi, v_star, mc) -> None:
    """The exact value of ``pi_k^est`` against ``k`` beside ``V*`` and both executors' Monte
    Carlo estimates (chapter 9).

    ``k``, ``v_pi``: the sample sizes and exact values (markers); ``v_star``: ``V*`` (dotted);
    ``mc``: rows ``(k, agents mean, agents sem, counts mean, counts sem)``, drawn with error
    bars of 2 standard errors, nudged sideways per executor.

    ``ax``: the matplotlib axes drawn on.
    """
    mc = np.asarray(mc, dtype=float)
    ax.plot(k, v_pi, "o", color="C0", ms=5, label=r"$V^{\pi_k^{est}}(s_0)$, exact")
    ax.axhline(v_star, color="k", ls=":", lw=1.3, label=r"$V^*(s_0)$")
    styles = ((1, -5, "s", "C1", "agent"), (3, 5, "D", "C2", "count"))
    for col, dx, fmt, color, name in styles:
        ax.errorbar(mc[:, 0], mc[:, col], yerr=2 * mc[:, col + 1], fmt=fmt, color=color, ms=5,
                    capsize=3, transform=nudged(ax, dx),
                    label=f"{name}-level executor (Monte Carlo, 2 SE)")  # fmt: skip
        se2 = 2 * mc[:, col + 1]
        keep_in_view(ax, mc[:, 0], mc[:, col] - se2, mc[:, col] + se2)
    ax.set(xlabel="sampled agents k", ylabel="value from $s_0$")
