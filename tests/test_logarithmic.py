"""Chapter 12's driver (``smfq_lib.chapters.logarithmic``) and panels: ``k(n)``, the grid of
``n``, the fitted exponents on synthetic data with known exponents, and the driver's numbers at
tiny ``n`` against direct calls of the library (and the learned tables' own sizes)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from smfq_lib.chapters import plotting  # noqa: E402
from smfq_lib.chapters.experiments import learning_times  # noqa: E402
from smfq_lib.chapters.logarithmic import (  # noqa: E402
    costs,
    extrapolate,
    k_of_n,
    learn_all,
    majority_limit,
    n_grid,
    polylog_exponent,
    power_law,
    values_vs_n,
)
from smfq_lib.evaluate import optimal_value, policy_value, worst_case_gap  # noqa: E402
from smfq_lib.execute import rollout_counts  # noqa: E402
from smfq_lib.learning import learn  # noqa: E402
from smfq_lib.model.examples import majority_mode, random_system  # noqa: E402
from smfq_lib.theory import gap_bound, oracle_calls  # noqa: E402


# -- k(n) and the grid -----------------------------------------------------------------------------
@pytest.mark.parametrize("c", [0.5, 1.0, 2.0, 3.7])
def test_k_of_n_is_the_smallest_odd_integer_at_least_c_ln_n(c):
    for n in [3, 10, 32, 100, 1000, 10**6, 10**9, 10**18]:
        if c * math.log(n) > n:
            continue
        k = k_of_n(n, c)
        assert k % 2 == 1 and c * math.log(n) <= k < c * math.log(n) + 2
        smaller = [j for j in range(1, k, 2) if j >= c * math.log(n)]  # by enumeration
        assert not smaller


def test_k_of_n_at_exact_integers_and_refusals():
    assert k_of_n(2, 1.0) == 1  # ln 2 < 1
    assert k_of_n(10, 1.0) == 3 and k_of_n(10, 2.0) == 5 and k_of_n(1000, 2.0) == 15
    for bad_n in (1, 0, True, 2.5):
        with pytest.raises(ValueError, match="n must be"):
            k_of_n(bad_n, 1.0)
    for bad_c in (0, -1.0, math.inf, math.nan, True, "1"):
        with pytest.raises(ValueError, match="c must be"):
            k_of_n(10, bad_c)
    with pytest.raises(ValueError, match="exceeds n = 3"):
        k_of_n(3, 5.0)  # 5 ln 3 = 5.5 -> k = 7 > 3


def test_n_grid():
    assert n_grid(2, 1).tolist() == [10, 100]
    assert n_grid(2, 2).tolist() == [10, 32, 100]
    assert n_grid(9, 2)[-1] == 10**9 and n_grid(9, 2).dtype == np.int64
    with pytest.raises(ValueError, match="top"):
        n_grid(0, 1)
    with pytest.raises(ValueError, match="per_decade"):
        n_grid(3, 0)


# -- the fits recover known exponents --------------------------------------------------------------
def test_polylog_exponent_recovers_a_known_power_of_ln_n():
    ns = n_grid(9, 2)
    for p in (0.5, 1.0, 2.5):
        assert polylog_exponent(ns, 3.0 * np.log(ns) ** p) == pytest.approx(p, abs=1e-10)
    # a power of n is no polylog: its fitted exponent in ln n is far larger
    assert polylog_exponent(ns, ns**0.5) > 4


def test_power_law_recovers_exponent_and_constant_and_extrapolates():
    ns = np.array([10, 20, 40, 80, 160])
    y = 0.2 * ns**1.7
    p, C = power_law(ns, y)
    assert p == pytest.approx(1.7, abs=1e-10) and C == pytest.approx(0.2, rel=1e-10)
    np.testing.assert_allclose(extrapolate((p, C), [1e6]), [0.2 * 1e6**1.7], rtol=1e-9)
    # n_min leaves the points below it out: an offset at small n does not bend the fit
    y_off = y + np.where(ns < 40, 50.0, 0.0)
    assert power_law(ns, y_off, 40)[0] == pytest.approx(1.7, abs=1e-10)
    assert power_law(ns, y_off)[0] != pytest.approx(1.7, abs=1e-2)
    with pytest.raises(ValueError, match="at least two points"):
        power_law(ns, y, 160)


# -- costs at tiny n against direct calls and the learned tables ---------------------------------
def test_costs_equal_direct_calls_and_the_learned_tables():
    mm = majority_mode()
    ns, m = [3, 5, 8], 7
    ks = [k_of_n(n, 1.0) for n in ns]  # 3, 3, 3
    policies = learn_all(mm, ks, m)
    out = costs(mm, ns, ks, [policies[k].algorithm for k in ks], m)
    sizes = (mm.S_g, mm.S_l, mm.A_g, mm.A_l)
    for i, (n, k) in enumerate(zip(ns, ks, strict=True)):
        q = policies[k]
        assert out["entries"][i] == q.Q.size  # the table that was learned, counted
        calls = oracle_calls(*sizes, k, m, q.algorithm)
        assert (out["oracle_global"][i], out["oracle_local"][i]) == (
            calls["global"],
            calls["local"],
        )
        # mean-field VI on all n agents: Algorithm 2 at k = n, learned here and counted
        mf = learn(mm, n, m, algorithm="mean_field", progress=False)
        assert out["mf_entries"][i] == mf.Q.size == 8 * n  # |S_g||S_l||A_l||A_g| C(n, 1)
        mf_calls = oracle_calls(*sizes, n, m, "mean_field")
        assert out["mf_oracle_local"][i] == mf_calls["local"] == 8 * n * m * n
        assert out["mf_oracle_global"][i] == mf_calls["global"] == 8 * n * m
    assert all(type(v) is int for key in out for v in out[key])  # exact integers
    with pytest.raises(ValueError, match="one entry per n"):
        costs(mm, ns, ks[:2], ["mean_field"] * 3, m)
    with pytest.raises(ValueError, match="m must be"):
        costs(mm, ns, ks, ["mean_field"] * 3, 0)


def test_learn_all_learns_each_distinct_k_once_with_the_seed():
    mm = majority_mode()
    pol = learn_all(mm, [3, 5, 3], 20, seed=4)
    assert sorted(pol) == [3, 5]
    direct = learn(mm, 5, 20, seed=4, progress=False)
    np.testing.assert_array_equal(pol[5].Q, direct.Q)
    assert pol[3].k == 3


def test_learning_times_takes_m():
    seconds = learning_times(majority_mode(), [3], 2, "auto", m=10)
    assert seconds.shape == (1, 2) and np.isfinite(seconds).all()  # timing: never ordered


# -- values at tiny n against direct calls ---------------------------------------------------
def test_values_vs_n_equal_direct_calls():
    mm = majority_mode()
    ns = [4, 6, 9]
    pol = learn_all(mm, [3, 3, 5], 50, seed=1)
    qs = [pol[3], pol[3], pol[5]]
    kw = {"rollouts": 40, "horizon": 12, "seed": 5, "rule": "coordinated"}
    out = values_vs_n(mm, ns, qs, start_share=0.3, n_exact=6, **kw)
    for i, (n, q) in enumerate(zip(ns, qs, strict=True)):
        c0 = round(0.3 * n)
        run = rollout_counts(mm, q, n, 0, (c0, n - c0), 12, 40, 5, rule="coordinated")
        assert out["ret"][i] == run.mean() and out["sem"][i] == run.sem() and out["k"][i] == q.k
        assert out["bound"][i] == gap_bound(mm.r_tilde, mm.gamma, n, q.k, 2, 1, 2)
        if n <= 6:
            worst, (s_g, at) = worst_case_gap(mm, n, q, rule="coordinated")
            assert out["worst"][i] == worst and out["worst_counts"][i] == f"{s_g}: {at[0]} {at[1]}"
            assert out["v_star"][i] == optimal_value(mm, n, 0, (c0, n - c0))
            assert out["v_pi"][i] == policy_value(mm, q, n, 0, (c0, n - c0), rule="coordinated")
            assert out["v_star"][i] - out["v_pi"][i] <= worst + 1e-12
        else:
            assert all(math.isnan(out[key][i]) for key in ("v_star", "v_pi", "worst"))
            assert out["worst_counts"][i] == ""


def test_values_vs_n_refusals():
    mm = majority_mode()
    q = learn(mm, 1, None, progress=False)
    kw = {"n_exact": 0, "rollouts": 2, "horizon": 2, "seed": 0}
    with pytest.raises(ValueError, match="start_share"):
        values_vs_n(mm, [4], [q], start_share=1.5, **kw)
    with pytest.raises(ValueError, match="one learned policy per n"):
        values_vs_n(mm, [4, 5], [q], start_share=0.5, **kw)
    three = random_system(1, 3, 1, 1, seed=0)
    q3 = learn(three, 1, None, progress=False)
    with pytest.raises(ValueError, match="S_l = 3"):
        values_vs_n(three, [4], [q3], start_share=0.5, **kw)


# -- the panels -----------------------------------------------------------------------------------
def test_panels_draw_every_series_with_its_label():
    ns = np.array([10, 100, 1000])
    fig, (a, b, c) = plt.subplots(1, 3)
    mf_meas, mf_fit = ("meas", [10], [0.1]), ("fit", [0.1, 10, 1000])
    plotting.plot_cost_vs_n(
        a, ns, {"s": [1, 2, 3]}, mf=[10, 100, 1000], mf_measured=mf_meas, mf_fit=mf_fit, ylabel="c"
    )
    ref = {"ref": [0.5, 0.4, 0.3]}
    plotting.plot_gap_vs_n(
        b, ns, {"g": [0.4, 0.3, np.nan]}, at_start={"st": [0.3, 0.2, 0.1]},
        lines={"sh": [0.5, 0.3, 0.2]}, reference=ref,
    )  # fmt: skip
    mc, exact = {"mc": ([5, 5.1, 5.2], [0.01] * 3)}, {"ex": [5, np.nan, np.nan]}
    limit = ("lim", 5.5)
    plotting.plot_return_vs_n_exact(c, ns, mc, exact=exact, optimal=("V*", [6, 6, 6]), limit=limit)
    series = {row["series"] for row in plotting.figure_series(fig)}
    assert {
        "s",
        "mean-field VI on all n agents (exact count)",
        "meas",
        "fit",
        "g",
        "st",
        "sh",
        "ref",
    } <= series
    assert {"mc", "ex", "V*", "lim"} <= series
    assert a.get_xscale() == a.get_yscale() == b.get_yscale() == c.get_xscale() == "log"
    plt.close(fig)


def _mean_field_limit_return(k, x0, flip, gamma, horizon):
    """``majority_mode``'s return from mode 0 and a share ``x0`` in local state 0 as ``n -> inf``,
    written from the model, not from the executor: the share follows ``x' = x (1 - 2 flip) +
    flip`` deterministically (local dynamics ignore the mode); each step the global agent sets the
    next mode to the majority of ``k`` (odd) agents drawn from the share (binomial at ``n = inf``),
    and the stage reward is the share matching the current mode (eq. 3)."""
    x, total, mode0 = x0, x0, 1.0  # P(current mode = 0)
    for t in range(1, horizon):
        mode0 = sum(math.comb(k, j) * x**j * (1 - x) ** (k - j) for j in range(k // 2 + 1, k + 1))
        x = x * (1 - 2 * flip) + flip
        total += gamma**t * (mode0 * x + (1 - mode0) * (1 - x))
    return total


@pytest.mark.parametrize("k", [3, 21])
def test_count_executor_at_a_billion_agents_matches_the_mean_field_limit(k):
    """At n = 10^9 the count-level executor's mean return is the n -> inf value of pi_k^est
    (independent route, above) within its standard error: exact binomial draws at huge counts."""
    mm = majority_mode()
    q = learn(mm, k, None, progress=False)
    n, H = 10**9, 60
    out = values_vs_n(
        mm, [n], [q], start_share=0.4, n_exact=0, rollouts=4000, horizon=H, seed=2,
        rule="coordinated",
    )  # fmt: skip
    limit = _mean_field_limit_return(k, 0.4, 0.05, 0.9, H)
    assert abs(out["ret"][0] - limit) <= 4 * out["sem"][0] + 1e-3  # 1e-3: finite n, ~1/sqrt(n)


def test_majority_limit_against_the_model_and_the_exact_gap_at_large_n():
    """majority_limit's V^pi is the loop above (another route, same model); its worst case over
    start shares is what the exact worst-case gap over count states approaches at large n."""
    lim = majority_limit(7, 0.05, 0.9, start_share=0.4)
    assert lim["v_pi"] == pytest.approx(_mean_field_limit_return(7, 0.4, 0.05, 0.9, 400), abs=1e-12)
    assert 0 < lim["v_star"] - lim["v_pi"] <= lim["worst"]
    mm = majority_mode()
    for k in (3, 7):
        exact, _ = worst_case_gap(mm, 316, learn(mm, k, None, progress=False))
        assert abs(majority_limit(k, 0.05, 0.9)["worst"] - exact) < 0.01, k
    # more samples, smaller limit gap; k = 1 is chapter 8's k = 1 at n = 200 (0.761)
    gaps = [majority_limit(k, 0.05, 0.9)["worst"] for k in (1, 3, 5, 9, 17, 33)]
    assert all(np.diff(gaps) < 0) and gaps[0] == pytest.approx(0.761, abs=2e-3)


def test_majority_limit_refusals():
    with pytest.raises(ValueError, match="k must be odd"):
        majority_limit(4, 0.05, 0.9)
    with pytest.raises(ValueError, match="flip"):
        majority_limit(3, 0.5, 0.9)
    with pytest.raises(ValueError, match="start_share"):
        majority_limit(3, 0.05, 0.9, start_share=1.5)
    with pytest.raises(ValueError, match="gamma"):
        majority_limit(3, 0.05, 1.0)
