"""Chapter 12's panels: costs against ``n`` (SUBSAMPLE-MFQ at ``k = O(log n)`` against mean-field
value iteration on all ``n`` agents), and the gap and return of ``pi_k^est`` against ``n``
(re-exported by :mod:`smfq_lib.chapters.plotting`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_cost_vs_n", "plot_gap_vs_n", "plot_return_vs_n_exact"]

_MF = "#a50f15"  # mean-field value iteration, in every panel


def plot_cost_vs_n(ax, ns, curves, *, mf=None, mf_measured=None, mf_fit=None, ylabel, title=""):
    """One cost against ``n`` on log-log axes, on ``ax``, at the numbers of agents ``ns``.

    ``curves``: ``{label: values over ns}``, SUBSAMPLE-MFQ's cost at each ``n`` (one per ``c``),
    drawn as markers and lines. Mean-field value iteration on all ``n`` agents, in red:
    ``mf`` (values over ``ns``, exact, a solid line), or where it is only measured at some ``n``,
    ``mf_measured = (label, n, values)`` (markers) and ``mf_fit = (label, values over ns)``, the
    fitted power law extrapolated over every ``n`` (dashed). Labels name what each series is;
    ``ylabel`` names the cost and its unit, ``title`` the panel. Returns ``ax``.
    """
    ns = np.asarray(ns, dtype=float)
    for (label, values), marker in zip(curves.items(), "os^D", strict=False):
        ax.loglog(ns, np.asarray(values, dtype=float), marker=marker, ms=4, lw=1.2, label=label)
    if mf is not None:
        ax.loglog(ns, np.asarray(mf, dtype=float), "-", color=_MF, lw=1.8,
                  label="mean-field VI on all n agents (exact count)")  # fmt: skip
    if mf_fit is not None:
        ax.loglog(ns, np.asarray(mf_fit[1], dtype=float), "--", color=_MF, lw=1.4, label=mf_fit[0])
    if mf_measured is not None:
        label, n_meas, values = mf_measured
        ax.loglog(np.asarray(n_meas, dtype=float), np.asarray(values, dtype=float), "s",
                  color=_MF, ms=5, label=label)  # fmt: skip
    ax.set(xlabel="local agents n", ylabel=ylabel, title=title)
    return ax


def plot_gap_vs_n(ax, ns, worst, *, at_start=None, lines=None, reference=None, title=""):
    """Exact gaps against the numbers of agents ``ns`` on log-log axes, on ``ax`` (its title:
    ``title``); the ``j``-th entry of each dict in colour ``C{j}`` (one per ``c``).

    ``worst``: ``{label: values over ns}``, the worst case over start states (filled markers,
    solid). ``at_start``: the gap at one start state (hollow markers, dotted). ``lines``: e.g.
    the gap's limit as ``n -> inf`` at each ``k(n)`` (thin, small markers). ``reference``:
    ``{label: values over ns}``, e.g. ``C / sqrt(c ln n)``, black (dashed, then dotted). NaN
    values are not drawn. Returns ``ax``.
    """
    ns = np.asarray(ns, dtype=float)
    for j, (label, values) in enumerate(worst.items()):
        ax.loglog(ns, np.asarray(values, dtype=float), "os^D"[j % 4] + "-", color=f"C{j}", ms=5,
                  lw=1.2, label=label)  # fmt: skip
    for j, (label, values) in enumerate((at_start or {}).items()):
        ax.loglog(ns, np.asarray(values, dtype=float), "os^D"[j % 4] + ":", color=f"C{j}", ms=8,
                  mfc="none", lw=1.0, label=label)  # fmt: skip
    for j, (label, values) in enumerate((lines or {}).items()):
        ax.loglog(ns, np.asarray(values, dtype=float), ".-", color=f"C{j}", ms=3, lw=0.8,
                  alpha=0.8, label=label)  # fmt: skip
    for (label, values), ls in zip((reference or {}).items(), ("--", ":", "-."), strict=False):
        ax.loglog(ns, np.asarray(values, dtype=float), ls=ls, color="k", lw=1.3, label=label)
    ax.set(xlabel="local agents n", ylabel=r"gap $V^*(s) - V^{\pi_k^{est}}(s)$", title=title)
    return ax


def plot_return_vs_n_exact(ax, ns, mc, *, exact=None, optimal=None, limit=None, title=""):
    """Returns of ``pi_k^est`` from one start state against the numbers of agents ``ns`` (log
    ``x``), on ``ax`` (its title: ``title``).

    ``mc``: ``{label: (mean, sem) over ns}``, Monte Carlo means drawn with bars of 2 standard
    errors. ``exact``: ``{label: values over ns}`` (NaN where not computed), hollow markers.
    ``optimal``: ``(label, values over ns)``, ``V*`` at the start state (black crosses).
    ``limit``: ``(label, value)``, e.g. ``V*`` as ``n -> inf``, a dashed horizontal line. Returns
    ``ax``.
    """
    ns = np.asarray(ns, dtype=float)
    for j, (label, (mean, sem)) in enumerate(mc.items()):
        ax.errorbar(ns, mean, yerr=2 * np.asarray(sem), fmt="o-", ms=3.5, lw=1.0, capsize=2,
                    color=f"C{j}", label=label)  # fmt: skip
    for j, (label, values) in enumerate((exact or {}).items()):
        ax.plot(ns, values, "o", mfc="none", ms=9, mew=1.3, color=f"C{j}", label=label)
    if optimal is not None:
        ax.plot(ns, optimal[1], "x", color="k", ms=8, mew=1.8, label=optimal[0])
    if limit is not None:
        ax.axhline(limit[1], color="k", ls="--", lw=1.2, label=limit[0])
    ax.set_xscale("log")
    ax.set(xlabel="local agents n", ylabel="discounted return from $s_0$", title=title)
    return ax
