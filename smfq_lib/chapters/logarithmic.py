"""Chapter 12's driver: SUBSAMPLE-MFQ at ``k = O(log n)`` against mean-field value iteration on
all ``n`` agents (the paper's abstract and Discussion 0.12; Remark 0.7's comparator).

* :func:`k_of_n` -- the sample size ``k`` of ``n`` agents: the smallest ODD integer ``>= c ln n``.
* :func:`n_grid` -- ``n`` at ``per_decade`` log-spaced points per decade from 10 to ``10^top``.
* :func:`learn_all` -- ``pi_k^est`` (sampled operator, ``m`` fixed samples per entry, eq. 8, 9)
  for every distinct ``k``, each learned once.
* :func:`costs` -- per ``n``: the entries of the learned table (``smfq_lib.theory.table_sizes``)
  and its generative-oracle draws (``smfq_lib.theory.oracle_calls``), for SUBSAMPLE-MFQ at
  ``k(n)`` and for mean-field value iteration (Algorithm 2 at ``k = n``), exact integers.
* :func:`polylog_exponent`, :func:`power_law` -- the exponent ``p`` of ``cost ~ (ln n)^p`` and of
  ``cost ~ C n^p`` (least squares in logs, through
  :func:`smfq_lib.evaluate.gap_study.loglog_slope`), and :func:`extrapolate` along the latter.
* :func:`majority_limit` -- ``majority_mode``'s values as ``n -> inf`` (the share of agents in
  a state then moves deterministically): the worst-case gap of ``pi_k^est`` over start states and
  ``V*``, ``V^{pi_k^est}`` at a start share, the reference of the gap beyond ``n_exact``.
* :func:`values_vs_n` -- per ``n``: the Monte Carlo return of ``pi_k^est`` from a start state
  (count-level executor, Algorithm 3) and, where ``n <= n_exact``, the exact ``V*``,
  ``V^{pi_k^est}``, the worst-case gap over start states (docs/design.md §5) and Theorem 0.11's
  bound at the same ``(n, k)``.

Wall times are measured apart (:func:`smfq_lib.chapters.experiments.learning_times`), so every
number returned here is deterministic.
"""

from __future__ import annotations

import math

import numpy as np

from smfq_lib._utils.checks import check_gamma, check_int
from smfq_lib.evaluate import optimal_value, policy_value, worst_case_gap
from smfq_lib.evaluate.gap_study import loglog_slope
from smfq_lib.execute import rollout_counts
from smfq_lib.learning import learn
from smfq_lib.theory import gap_bound, oracle_calls, table_sizes

__all__ = [
    "costs",
    "extrapolate",
    "k_of_n",
    "learn_all",
    "majority_limit",
    "n_grid",
    "polylog_exponent",
    "power_law",
    "values_vs_n",
]


def k_of_n(n, c) -> int:
    """The sample size at ``n`` agents: the smallest odd integer ``k >= c ln n``, so ``k = O(log
    n)`` (``c ln n <= k < c ln n + 2``).

    Odd, because on ``majority_mode`` a sample of even size can split in half, where the
    ``k``-agent ``Q`` ties and the tie rule, not the sample, picks the mode (docs/design.md §4;
    chapter 8: the worst-case gap at even ``k`` exceeds the one at ``k - 1``); rounding up to odd
    keeps ``k(n)`` free of that parity staircase. ``n >= 2`` agents, ``c > 0``; a ``k`` above
    ``n`` is refused (``ValueError``), never clipped.
    """
    n = check_int("n", n, 2, fix="k = O(log n) needs n >= 2 agents (ln 1 = 0).")
    if isinstance(c, bool) or not isinstance(c, int | float) or not (math.isfinite(c) and c > 0):
        raise ValueError(f"c must be a finite number > 0 (k = c ln n); got {c!r}.")
    k = max(1, math.ceil(c * math.log(n)))
    k += 1 - k % 2
    if k > n:
        raise ValueError(
            f"k(n) = {k} (the smallest odd integer >= {c} ln {n}) exceeds n = {n}; take a "
            "smaller c or a larger n."
        )
    return k


def n_grid(top, per_decade) -> np.ndarray:
    """``round(10^(j / per_decade))`` for ``j = per_decade .. top * per_decade``: from 10 to
    ``10^top`` agents, ``per_decade`` points per decade (int64)."""
    top = check_int("top", top, 1, 18, fix="n runs from 10 to 10^top agents (int64).")
    per = check_int("per_decade", per_decade, 1, fix="Points per decade of n.")
    return np.array([round(10 ** (j / per)) for j in range(per, top * per + 1)], dtype=np.int64)


def learn_all(system, ks, m, seed: int = 0) -> dict:
    """``{k: learn(system, k, m, seed=seed)}`` for every distinct ``k`` of ``ks`` (``m`` fixed
    samples per entry; ``m=None``: the exact operator). ``algorithm="auto"``: SUBSAMPLE-MFQ runs
    the algorithm with the smaller table, recorded as ``q.algorithm``."""
    return {int(k): learn(system, int(k), m, seed=seed, progress=False) for k in sorted(set(ks))}


def _sizes(system) -> tuple[int, int, int, int]:
    return system.S_g, system.S_l, system.A_g, system.A_l


def costs(system, ns, ks, algorithms, m) -> dict:
    """Table entries and generative-oracle draws against ``n``, exact Python integers.

    ``ns``: numbers of agents; ``ks``: SUBSAMPLE-MFQ's sample size at each; ``algorithms``: the
    algorithm that learned it at each (``"tabular"`` or ``"mean_field"``, ``q.algorithm``);
    ``m``: samples per entry. Returns lists over ``ns``: ``entries`` (``"alg1"`` or ``"alg2"``
    of :func:`smfq_lib.theory.table_sizes`, the algorithm that ran), ``oracle_global``,
    ``oracle_local`` (:func:`smfq_lib.theory.oracle_calls`), and the same three with prefix
    ``mf_`` for mean-field value iteration on all ``n`` agents: Algorithm 2 at ``k = n`` fed the
    same oracle with the same ``m`` (``table_sizes(...)["mean_field"]`` entries).
    """
    m = check_int("m", m, 1, fix="Samples per entry of the empirical operator.")
    if not len(ns) == len(ks) == len(algorithms):
        raise ValueError(
            f"ns, ks and algorithms must have one entry per n; got lengths {len(ns)}, "
            f"{len(ks)}, {len(algorithms)}."
        )
    sizes = _sizes(system)
    keys = ("entries", "oracle_global", "oracle_local")
    out: dict = {key: [] for key in keys} | {f"mf_{key}": [] for key in keys}
    for n, k, alg in zip(ns, ks, algorithms, strict=True):
        n, k = int(n), int(k)
        table = table_sizes(*sizes, n, k)
        calls = oracle_calls(*sizes, k, m, alg)
        mf_calls = oracle_calls(*sizes, n, m, "mean_field")
        out["entries"].append(table["alg1" if alg == "tabular" else "alg2"])
        out["mf_entries"].append(table["mean_field"])
        for prefix, c in (("", calls), ("mf_", mf_calls)):
            out[f"{prefix}oracle_global"].append(c["global"])
            out[f"{prefix}oracle_local"].append(c["local"])
    return out


def polylog_exponent(ns, cost) -> float:
    """The ``p`` of ``cost ~ C (ln n)^p``: the least-squares slope of ``log cost`` on ``log ln
    n`` (:func:`~smfq_lib.evaluate.gap_study.loglog_slope` with ``k = ln n``) over every ``n >=
    2`` with ``cost > 0``."""
    ln_n = np.log(np.asarray(ns, dtype=float))
    return loglog_slope(ln_n, np.asarray(cost, dtype=float), lo=math.log(2.0), floor=0.0)


def power_law(ns, y, n_min=1) -> tuple[float, float]:
    """``(p, C)`` of ``y ~ C n^p`` fitted in logs over ``n >= n_min`` (``y > 0``): ``p`` the
    slope (:func:`~smfq_lib.evaluate.gap_study.loglog_slope`), ``C = exp(mean(log y - p log
    n))`` given ``p``."""
    ns, y = np.asarray(ns, dtype=float), np.asarray(y, dtype=float)
    p = loglog_slope(ns, y, lo=n_min, floor=0.0)
    use = (ns >= n_min) & (y > 0)
    return p, float(np.exp(np.mean(np.log(y[use]) - p * np.log(ns[use]))))


def extrapolate(fit, ns) -> np.ndarray:
    """``C n^p`` at every ``n`` of ``ns``, for ``fit = (p, C)`` from :func:`power_law`."""
    p, C = fit
    return C * np.asarray(ns, dtype=float) ** p


def values_vs_n(
    system, ns, policies, *, start_share, n_exact, rollouts, horizon, seed, rule=None,
    progress=False,
) -> dict:  # fmt: skip
    """Returns of ``pi_k^est`` on ``n`` agents, Monte Carlo at every ``n``, exact where ``n <=
    n_exact``.

    ``ns``: numbers of agents; ``policies``: the learned ``pi_k^est`` at each (a list of
    ``SubsampledQ``, from :func:`learn_all`). The start state ``s_0`` is global state 0 with
    ``round(start_share n)`` agents in local state 0 and the rest in state 1 (``S_l = 2``, as in
    chapter 8). Per ``n``, lists of: ``k``; ``ret`` and ``sem`` (mean discounted return over
    ``rollouts`` runs of ``horizon`` steps of :func:`smfq_lib.execute.rollout_counts`, streams
    keyed by ``seed``, tie rule ``rule``, and its standard error); ``bound`` (Theorem 0.11 as
    printed, :func:`smfq_lib.theory.gap_bound`); and, for ``n <= n_exact`` (else NaN / empty):
    ``v_star`` (``V*(s_0)``, :func:`smfq_lib.evaluate.optimal_value`), ``v_pi``
    (``V^{pi_k^est}(s_0)``, exact), ``worst`` (the worst-case gap over start states,
    :func:`smfq_lib.evaluate.worst_case_gap`) and ``worst_counts`` (a state attaining it,
    ``"s_g: c_0 c_1"``). ``progress``: a bar over ``ns``.
    """
    if system.S_l != 2:
        raise ValueError(
            f"values_vs_n starts from a share of agents in local state 0 of two (S_l = 2); the "
            f"system has S_l = {system.S_l}."
        )
    if not (isinstance(start_share, int | float) and 0.0 <= start_share <= 1.0):
        raise ValueError(f"start_share must be a number in [0, 1]; got {start_share!r}.")
    if len(ns) != len(policies):
        raise ValueError(
            f"policies must hold one learned policy per n; got {len(policies)} for {len(ns)} n."
        )
    n_exact = check_int("n_exact", n_exact, 0, fix="Largest n with exact values (0: none).")
    from tqdm.auto import tqdm

    keys = ("k", "ret", "sem", "bound", "v_star", "v_pi", "worst", "worst_counts")
    out: dict = {key: [] for key in keys}
    sizes = (system.S_l, system.A_l, system.A_g)
    pairs = list(zip(ns, policies, strict=True))
    for n, q in tqdm(pairs, desc="returns vs n", unit="n", disable=not progress):
        n = int(n)
        c0 = round(start_share * n)
        counts = (c0, n - c0)
        run = rollout_counts(
            system, q, n, 0, counts, horizon, rollouts, seed, rule=rule, keep="returns"
        )
        out["k"].append(q.k)
        out["ret"].append(run.mean())
        out["sem"].append(run.sem())
        out["bound"].append(gap_bound(system.r_tilde, system.gamma, n, q.k, *sizes))
        if n <= n_exact:
            worst, (s_g, at) = worst_case_gap(system, n, q, rule=rule)
            out["v_star"].append(optimal_value(system, n, 0, counts))
            out["v_pi"].append(policy_value(system, q, n, 0, counts, rule=rule))
            out["worst"].append(worst)
            out["worst_counts"].append(f"{s_g}: " + " ".join(map(str, at)))
        else:
            for key in ("v_star", "v_pi", "worst"):
                out[key].append(math.nan)
            out["worst_counts"].append("")
    return out


def majority_limit(k, flip, gamma, start_share=None, grid=4001) -> dict:
    """``majority_mode(S=2, flip, gamma)`` as ``n -> inf``: the gap of ``pi_k^est`` (``k`` odd).

    With infinitely many agents the share ``x`` in local state 0 moves deterministically, ``x' =
    x (1 - 2 flip) + flip`` (the local dynamics ignore the mode), and the stage reward (eq. 3) is
    the share matching the current mode. ``V*`` sets the next mode to the current majority, which
    is also the majority of ``x'`` (``x' - 1/2 = (x - 1/2)(1 - 2 flip)``), earning ``max(x', 1 -
    x')``; ``pi_k^est`` sets it to the majority of ``k`` agents drawn from the share (binomial),
    wrong with probability ``P(Bin(k, x) on the minority side)``. So from share ``x_0`` (either
    mode: step 0's reward is the same under both policies) the gap is ``sum_{t >= 1} gamma^t
    P(wrong at x_{t-1}) |2 x_t - 1|``, summed until ``gamma^t < 1e-17``.

    Returns ``worst`` (its maximum over ``grid`` shares ``x_0`` in ``[0, 1]``: the worst case over
    start states, which the exact worst-case gap at finite ``n`` approaches) and ``worst_share``
    (a maximiser); with ``start_share``: ``v_star`` and ``v_pi`` from mode 0 and that share
    (eq. 13 as ``n -> inf``). ``k`` odd (an even sample can tie, and the tie rule then decides,
    docs/design.md §4); ``0 <= flip < 1/2``; bad input raises ``ValueError``.
    """
    k = check_int("k", k, 1, fix="The sample size of pi_k^est.")
    if k % 2 == 0:
        raise ValueError(f"k must be odd (an even sample can tie); got k={k}.")
    if isinstance(flip, bool) or not isinstance(flip, int | float) or not 0 <= flip < 0.5:
        raise ValueError(f"flip must be a number in [0, 1/2) (majority_mode, S = 2); got {flip!r}.")
    gamma = check_gamma(gamma)
    grid = check_int("grid", grid, 2, fix="Number of start shares in [0, 1].")
    from scipy.stats import binom  # here, not at import: scipy.stats takes ~1 s to import

    steps = math.ceil(math.log(1e-17) / math.log(gamma))
    shares = np.linspace(0.0, 1.0, grid)
    if start_share is not None:
        if not (isinstance(start_share, int | float) and 0.0 <= start_share <= 1.0):
            raise ValueError(f"start_share must be a number in [0, 1]; got {start_share!r}.")
        shares = np.append(shares, start_share)
    x, gap, best, pi = shares.copy(), np.zeros_like(shares), shares.copy(), shares.copy()
    for t in range(1, steps):
        # P(the sample's majority is state 0) at x_{t-1}, then the share moves to x_t
        mode0 = binom.sf(k // 2, k, x)
        wrong = np.where(x < 0.5, mode0, 1.0 - mode0)
        x = x * (1.0 - 2.0 * flip) + flip
        gap += gamma**t * wrong * np.abs(2.0 * x - 1.0)
        best += gamma**t * np.maximum(x, 1.0 - x)
        pi += gamma**t * (mode0 * x + (1.0 - mode0) * (1.0 - x))
    i = int(np.argmax(gap[:grid]))
    out = {"worst": float(gap[i]), "worst_share": float(shares[i])}
    if start_share is not None:
        out |= {"v_star": float(best[-1]), "v_pi": float(pi[-1])}
    return out
