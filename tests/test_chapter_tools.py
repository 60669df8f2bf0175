"""Chapters 7 and 8: the two-zone drivers against the exact value they estimate, the occupancy
bookkeeping, the figure functions, and the chapters' notebook pattern."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from smfq_lib.chapters import plotting  # noqa: E402
from smfq_lib.chapters.experiments import (  # noqa: E402
    learning_times,
    occupancy,
    two_zone_point,
    two_zone_start,
)
from smfq_lib.evaluate import policy_value  # noqa: E402
from smfq_lib.learning import learn  # noqa: E402
from smfq_lib.model.examples import box_cells, majority_mode, two_zone_exploration  # noqa: E402


def test_two_zone_start_is_the_documented_state():
    tz = two_zone_exploration()
    s_g, counts = two_zone_start(tz, 5)
    assert s_g == 1 and tz.labels["S_g"][1] == "box r0c1"
    assert counts.tolist() == [0, 2, 0, 0, 0, 3, 0, 0, 0]  # r0c1: n // 2, r1c2: the rest
    assert {1, 5} <= box_cells(3, 2, s_g)  # both cells inside the start box
    with pytest.raises(ValueError, match="two_zone_exploration"):
        two_zone_start(majority_mode(), 4)


def test_two_zone_point_agrees_with_the_exact_policy_value():
    out = two_zone_point(0.1, 0.9, 2, 1, seed=3, rollouts=3000, horizon=120, rule="coordinated")
    tz = two_zone_exploration()
    q = learn(tz, 1, None, algorithm="mean_field", progress=False)
    exact = policy_value(tz, q, 2, *two_zone_start(tz, 2), rule="coordinated")
    assert abs(out["ret"] - exact) <= 4 * out["sem"] + 0.9**120 * 1.05 / 0.1
    assert out["ci95"] == pytest.approx(1.9606 * out["sem"], rel=1e-3)  # t_{0.975, 2999}
    assert set(out) == {"ret", "sem", "ci95", "entries"}


def test_occupancy_bookkeeping():
    tz = two_zone_exploration()
    q = learn(tz, 1, None, algorithm="mean_field", progress=False)
    s_g, counts = two_zone_start(tz, 10)
    zones = (("A", {0}), ("B", {8}))
    occ = occupancy(tz, q, 10, s_g, counts, M=3, d=2, steps=6, rollouts=50, seed=0, zones=zones)
    np.testing.assert_allclose(occ["share"].sum(axis=1), 1.0)
    assert occ["share"].shape == (6, 9)
    np.testing.assert_allclose(occ["share"][0], counts / 10)
    assert occ["box"][0] == 1 and occ["box_share"][0] == 1.0 and occ["inside"][0] == 1.0
    np.testing.assert_allclose(occ["A"], occ["share"][:, 0])
    np.testing.assert_allclose(occ["B"], occ["share"][:, 8])
    assert np.all((occ["inside"] >= 0) & (occ["inside"] <= 1))


def test_learning_times_shape():
    seconds = learning_times(majority_mode(), [1, 2], 2)
    assert seconds.shape == (2, 2) and np.all(np.isfinite(seconds))  # measured, never bounded


def test_plot_gap_vs_bound_leaves_out_zeros_and_says_so():
    fig, ax = plt.subplots()
    k = np.arange(1, 6)
    plotting.plot_gap_vs_bound(
        ax, k, {"worst": [0.5, 0.4, 0.3, 0.2, 0.0], "start": [0.5, 0.3, 0.2, 0.1, 0.05]},
        {"bound": 10.0 / np.sqrt(k)},
        shape_fit=("fit", 0.5 / np.sqrt(k)),
    )  # fmt: skip
    lines = {line.get_label(): line for line in ax.get_lines()}
    drawn = lines["worst (1 k with gap 0 not drawn)"]
    assert drawn.get_xdata().tolist() == [1, 2, 3, 4]
    assert {"bound", "fit", "start"} <= set(lines)
    assert lines["start"].get_markerfacecolor() == "none"  # the second curve hollow
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and ax.get_xlabel()
    plt.close(fig)


def test_plot_time_and_speedup_shows_the_spread_of_the_repeats():
    fig, (a, b) = plt.subplots(1, 2)
    seconds = [[0.1, 0.2, 0.3], [1.0, 1.0, 1.0], [3.0, 4.0, 6.0]]
    drawn = plotting.plot_time_and_speedup(a, b, [1, 2, 3], seconds, reference="MF-VI on n = 3")
    np.testing.assert_allclose(drawn["median_seconds"], [0.2, 1.0, 4.0])
    np.testing.assert_allclose(drawn["speedup"], [20.0, 4.0, 1.0])
    np.testing.assert_allclose(drawn["speedup_low"], [10.0, 3.0, 0.5])  # fastest ref / slowest k
    np.testing.assert_allclose(drawn["speedup_high"], [60.0, 6.0, 2.0])
    (time_bars,) = a.containers
    assert "median of 3 repeats" in time_bars.get_label() and "MF-VI" in b.get_ylabel()
    with pytest.raises(ValueError, match="repeats >= 2"):
        plotting.plot_time_and_speedup(a, b, [1, 2], [0.5, 2.0], reference="k = 2")
    plt.close(fig)


def test_plot_occupancy_grid_titles_state_what_is_drawn():
    fig, axes = plt.subplots(2, 2)
    share = np.zeros((2, 3, 9))
    share[:, :, 4] = 1.0
    boxes = [[(box_cells(3, 2, 0), 0.25), (box_cells(3, 2, 3), 1.0)]] * 2
    plotting.plot_occupancy_grid(axes, share, 3, [0, 2], ["k = 1", "k = 3"], boxes=boxes)
    assert axes[1, 1].get_title() == "k = 3, t = 2\nbox (orange): 100% of runs"
    assert axes[0, 0].get_title().endswith("25% of runs")
    assert [t.get_text() for t in axes[0, 0].texts] == ["100%"]  # only the occupied cell
    plt.close(fig)


@pytest.mark.parametrize(
    "name", ["07_constrained_exploration", "08_optimality_gap", "12_logarithmic_k"]
)
def test_chapters_7_8_and_12_follow_the_pattern(name):
    cells = json.loads((plotting.REPO / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and "Theorem 0.11" in "".join(cells[0]["source"])
    assert "parameters" in cells[1]["metadata"].get("tags", [])
    assert "settings(" in "".join(cells[2]["source"])
    assert any("".join(c["source"]).startswith("# NBVAL_CHECK_OUTPUT") for c in cells)
    assert "assert " in "".join(cells[-1]["source"])
    text = "".join("".join(c["source"]) for c in cells)
    assert "docs/design.md §" in text and "DESIGN" not in text


def test_nudged_series_stay_in_view():
    """A series drawn with a nudged transform (Monte Carlo markers beside exact ones) is inside
    the axes' limits: matplotlib's autoscaling does not see such a transform, keep_in_view does
    (chapter 6's paper-instance panel was empty without it)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    mean, ci = np.array([35.0, 36.0, 38.0]), np.array([0.2, 0.3, 0.2])
    plotting.plot_return_vs_k(ax, np.array([1, 2, 3]), mc={"coordinated": (mean, ci)})
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    plt.close(fig)
    assert x0 < 1 and x1 > 3 and y0 <= 34.8 and y1 >= 38.2


def test_the_install_warm_up_runs_every_step():
    """``make install`` runs ``python -m smfq_lib.chapters.warmup``: every step must run on the
    library as it is (a refusal added to an entry point must not break the installation)."""
    import io

    from smfq_lib.chapters.warmup import warm_up

    out = io.StringIO()
    warm_up(out)
    lines = out.getvalue().splitlines()
    assert [line.split("]")[0] for line in lines[:-1]] == [
        f"smfq warm-up [{i}/5" for i in range(1, 6)
    ]
    assert lines[-1].startswith("smfq warm-up: Numba kernels compiled and cached in")
