"""Chapter 11's driver: the budget selection on hand-made tables (answers worked out by hand),
the sweep point against the library's functions called directly, the calls against the learned
table's own size, and the paper's O-forms by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from smfq_lib._utils.rounding import ROUNDOFF
from smfq_lib.chapters.sample_complexity import (
    best_under_budget,
    calls_per_sample,
    compare,
    exact_gaps,
    frontier,
    gap_point,
    instance,
    predicted_calls,
    settled_m,
    summarize,
)
from smfq_lib.evaluate.worst_case import worst_case_gap
from smfq_lib.learning import learn


def _table(rows):
    return pd.DataFrame(rows, columns=["k", "m", "calls", "gap_mean"])


# (k, m, calls, mean gap). By hand, in increasing calls: (1,1,10,.9) first; (2,1,20,.95) is worse;
# (1,4,40,.7) better; (3,1,40,.6) same calls, better: both improve on .9, and the frontier keeps
# each row better than every row with at most its calls, so (1,4,40) is dropped ((3,1,40) has as
# few calls and a lower gap); (2,4,80,.6 + 1e-12) ties (3,1,40) within round-off: dropped;
# (3,4,160,.3) better; (2,16,320,.35) worse; (3,16,640,.3) ties: dropped.
HAND = _table([
    (1, 1, 10, 0.9), (2, 1, 20, 0.95), (1, 4, 40, 0.7), (3, 1, 40, 0.6),
    (2, 4, 80, 0.6 + 1e-12), (3, 4, 160, 0.3), (2, 16, 320, 0.35), (3, 16, 640, 0.3),
])  # fmt: skip


def test_frontier_by_hand():
    front = frontier(HAND)
    assert list(zip(front.k, front.m, front.calls, strict=True)) == [
        (1, 1, 10), (3, 1, 40), (3, 4, 160)
    ]  # fmt: skip
    # the frontier's gaps fall strictly, its calls rise
    assert np.all(np.diff(front.gap_mean) < -ROUNDOFF) and np.all(np.diff(front.calls) > 0)


def test_frontier_tie_on_calls_goes_to_the_smaller_k():
    table = _table([(4, 1, 50, 0.5), (2, 2, 50, 0.5), (3, 1, 50, 0.5 - 1e-12)])
    assert frontier(table)[["k", "m"]].values.tolist() == [[2, 2]]


def test_best_under_budget_by_hand():
    assert best_under_budget(HAND, 9) is None  # nothing costs 9 or less
    for budget, (k, m) in {10: (1, 1), 39: (1, 1), 40: (3, 1), 159: (3, 1), 160: (3, 4),
                           10**9: (3, 4)}.items():  # fmt: skip
        best = best_under_budget(HAND, budget)
        assert (best.k, best.m) == (k, m), budget
    # brute force: the lowest mean gap under the budget, ties to the fewest calls then k
    for budget in range(0, 700, 7):
        fits = [r for r in HAND.itertuples() if r.calls <= budget]
        best = best_under_budget(HAND, budget)
        if not fits:
            assert best is None
            continue
        low = min(r.gap_mean for r in fits)
        ties = [r for r in fits if r.gap_mean <= low + ROUNDOFF]
        want = min(ties, key=lambda r: (r.calls, r.k, r.m))
        assert (best.k, best.m) == (want.k, want.m), budget


def test_compare_by_hand():
    base = _table([(30, 1, 100, 0.8), (30, 2, 200, 0.1), (30, 4, 400, 0.3)])
    cmp_ = compare(HAND, base, [5, 10, 99, 100, 160, 200, 1000])
    assert cmp_.winner.tolist() == [
        "none", "subsample", "subsample", "subsample", "subsample", "baseline", "baseline"
    ]  # fmt: skip
    row = cmp_.set_index("budget").loc[1000]
    assert (row.sub_k, row.sub_m, row.sub_calls, row.base_m, row.base_calls) == (3, 4, 160, 2, 200)
    assert row.base_gap == 0.1 and row.sub_gap == 0.3
    assert pd.isna(cmp_.set_index("budget").loc[99, "base_m"])  # the baseline cannot run
    tie = compare(_table([(1, 1, 10, 0.5)]), _table([(9, 1, 10, 0.5 + 1e-12)]), [10])
    assert tie.winner.tolist() == ["tie"]
    only_base = compare(_table([(1, 1, 10, 0.5)]), _table([(9, 1, 5, 0.7)]), [5])
    assert only_base.winner.tolist() == ["baseline"]


def test_summarize_by_hand_and_refusals():
    points = pd.DataFrame({
        "k": [1, 1, 1, 2, 2], "m": [4, 4, 4, 1, 1], "seed": [0, 1, 2, 0, 1],
        "gap": [0.1, 0.4, 0.4, 1.0, 3.0], "calls": [8, 8, 8, 6, 6],
    })  # fmt: skip
    t = summarize(points)
    assert t[["k", "m", "calls", "seeds"]].values.tolist() == [[1, 4, 8, 3], [2, 1, 6, 2]]
    np.testing.assert_allclose(t.gap_mean, [0.3, 2.0])
    np.testing.assert_allclose(t.gap_std, [math.sqrt(0.02), 1.0])
    np.testing.assert_allclose(t.gap_min, [0.1, 1.0])
    np.testing.assert_allclose(t.gap_max, [0.4, 3.0])
    with pytest.raises(ValueError, match="calls differ"):
        summarize(points.assign(calls=[8, 8, 9, 6, 6]))
    with pytest.raises(ValueError, match="seed"):
        summarize(points.drop(columns="seed"))
    with pytest.raises(ValueError, match="gap_mean"):
        frontier(points)


def test_summarize_mean_lies_within_the_seeds_range():
    """The mean of equal gaps is that gap, not an ulp beside it (a naive float sum of 16 copies of
    chapter 11's 0.7614445990009662 is not 16 times it), so min <= mean <= max for the figure's
    bars."""
    for gap, seeds in ((0.7614445990009662, 16), (0.1, 10), (0.1757, 12)):
        points = pd.DataFrame({"k": 1, "m": 1, "seed": range(seeds), "gap": gap, "calls": 8})
        t = summarize(points)
        assert t.gap_mean.iloc[0] == t.gap_min.iloc[0] == t.gap_max.iloc[0] == gap
    spread = pd.DataFrame({"k": 1, "m": 1, "seed": range(3), "gap": [0.1, 0.2, 0.6], "calls": 8})
    t = summarize(spread)
    assert t.gap_min.iloc[0] <= t.gap_mean.iloc[0] <= t.gap_max.iloc[0]
    np.testing.assert_allclose(t.gap_mean, [0.3])


def test_gap_point_is_learn_plus_worst_case_gap_and_counts_the_table():
    system = instance("random_system_25")
    for k, m, seed in ((1, 3, 0), (3, 2, 5), (6, 2, 1)):
        out = gap_point("random_system_25", 6, k, m, seed)
        q = learn(system, k, m, algorithm="mean_field" if k == 6 else "auto", seed=seed,
                  progress=False)  # fmt: skip
        gap, (s_g, counts) = worst_case_gap(system, 6, q)
        assert out["gap"] == gap and out["gap"] >= -ROUNDOFF
        assert (out["worst_s_g"], out["worst_counts"]) == (s_g, " ".join(map(str, counts)))
        assert out["algorithm"] == q.algorithm == ("mean_field" if k >= 3 else "tabular")
        # one global draw per entry of the learned table and sample, k local ones
        assert out["calls_global"] == q.Q.size * m
        assert out["calls_local"] == k * q.Q.size * m
        assert out["calls"] == (k + 1) * q.Q.size * m
    # at k = n, Algorithm 2 on all agents: |S_g||S_l||A_l||A_g| C(n + Z - 2, Z - 1) entries
    base = gap_point("random_system_25", 6, 6, 2, 0)
    assert base["calls_global"] == 2 * 2 * 2 * 2 * math.comb(6 + 2, 3) * 2


def test_gap_point_refusals():
    with pytest.raises(ValueError, match="k must"):
        gap_point("majority_mode", 4, 5, 1, 0)
    with pytest.raises(ValueError, match="m must"):
        gap_point("majority_mode", 4, 2, 0, 0)
    with pytest.raises(ValueError, match="instance must be one of"):
        gap_point("no_such_system", 4, 2, 1, 0)


def test_exact_gaps_is_the_exact_operator_and_zero_at_k_equal_n():
    system = instance("majority_mode")
    gaps = exact_gaps("majority_mode", 7, [1, 3, 7])
    assert gaps[1] == worst_case_gap(system, 7, 1)[0] > gaps[3] > 0.0
    assert abs(gaps[7]) <= ROUNDOFF  # k = n attains V* (docs/design.md §9)


def test_predicted_calls_by_hand():
    # S_g = 2, A_g = 3, Z = S_l A_l = 4, k = 3, m = 5:
    # tabular 2 * 3 * 4^3 * 5 = 1920; mean field 2 * 3 * 4 * 3^4 * 5 = 9720
    assert predicted_calls(2, 2, 3, 2, 3, 5) == {"tabular": 1920, "mean_field": 9720, "min": 1920}
    with pytest.raises(ValueError, match="k must"):
        predicted_calls(2, 2, 3, 2, 0)


def test_calls_per_sample_below_the_o_forms():
    system = instance("random_system_25")
    c = calls_per_sample(system, 12, range(1, 13))
    assert c["algorithm"][:2] == ["tabular", "tabular"] and set(c["algorithm"][2:]) == {
        "mean_field"
    }
    for k, g, t, f_min, f_tab in zip(c["k"], c["global"], c["total"], c["form_min"],
                                     c["form_tabular"], strict=True):  # fmt: skip
        assert t == (k + 1) * g and g <= f_min
        assert c["algorithm"][k - 1] == "mean_field" or g == f_tab  # Algorithm 1: the O-form


def test_settled_m_by_hand():
    points = pd.DataFrame({
        "k": [1] * 6 + [2] * 4,
        "m": [1, 1, 2, 2, 4, 4, 1, 1, 2, 2],
        "gap": [0.5, 0.7, 0.5, 0.5, 0.5, 0.5 + 1e-12, 0.5, 0.5, 0.4, 0.5],
    })  # fmt: skip
    assert settled_m(points, 1, 0.5) == 2  # m = 1 has a seed at 0.7; from m = 2 on all at 0.5
    assert settled_m(points, 2, 0.5) is None  # the largest m has a seed at 0.4
    assert settled_m(points, 3, 0.5) is None  # no points
    assert settled_m(points.assign(gap=0.5), 1, 0.5) == 1


def test_gap_point_does_not_depend_on_where_it_runs():
    """A sweep point gives the same numbers bit for bit in this process and in a Dask worker's
    environment (one Numba, OpenMP and BLAS thread), so run_sweep's choice between the two
    cannot change a stored result."""
    from threads import hexed, in_worker_environment

    params = dict(instance_name="random_system_25", n=8, k=4, m=16, seed=3)
    here = gap_point(**params)
    there = in_worker_environment("smfq_lib.chapters.sample_complexity", "gap_point", params)
    assert there == hexed(here)
