"""The chapter sweep tasks: their numbers agree with the exact evaluation they summarise."""

import numpy as np
import pytest

from smfq_lib.chapters.experiments import mean_ci, seed_table, squeeze_point
from smfq_lib.evaluate import optimal_value, policy_value
from smfq_lib.learning import learn
from smfq_lib.learning.policy import RULES
from smfq_lib.model.examples import gaussian_squeeze
from smfq_lib.sweep import run_sweep


def test_squeeze_point_at_k_equal_n_reports_v_star_and_every_rule():
    args = dict(loads=3, mu=1.0, sigma=1.0, gamma=0.9, n=3, k=3, seed=0, rollouts=4000)
    out = squeeze_point(**args, horizon=120, algorithm="mean_field")
    system = gaussian_squeeze(loads=3, mu=1.0, sigma=1.0, gamma=0.9)
    start = np.array([3, 0, 0])
    assert out["subsystem_value"] == pytest.approx(optimal_value(system, 3, 0, start), abs=1e-7)
    q = learn(system, 3, None, algorithm="mean_field", progress=False)
    for rule in RULES:
        exact = policy_value(system, q, 3, 0, start, rule=rule)
        assert out[f"exact_{rule}"] == pytest.approx(exact, abs=1e-12)
        assert abs(out[f"ret_{rule}"] - exact) <= 4 * out[f"sem_{rule}"] + 0.9**120 * 10
    assert len({round(out[f"exact_{rule}"], 6) for rule in RULES}) > 1  # the rules differ here
    no_exact = squeeze_point(**args, horizon=5, algorithm="mean_field", exact=False)
    assert all(no_exact[f"exact_{rule}"] is None for rule in RULES)


def test_seed_table_and_mean_ci(tmp_path):
    grid = [
        {"loads": 2, "mu": 0.5, "sigma": 1.0, "gamma": 0.5, "n": 2, "k": k, "seed": s,
         "rollouts": 10, "horizon": 5, "algorithm": "mean_field"}
        for s in (0, 1) for k in (1, 2)
    ]  # fmt: skip
    store = tmp_path / "gs.sqlite"
    run_sweep(squeeze_point, grid, store=store, client="serial", progress=False)
    table = seed_table(store, grid, "entries", [1, 2], [0, 1])
    assert table.shape == (2, 2) and (table[:, 0] == table[:, 1]).all()
    with pytest.raises(ValueError, match="k=3"):
        seed_table(store, grid, "entries", [3], [0])
    mean, half = mean_ci(np.array([[1.0, 3.0], [2.0, 2.0]]))
    assert mean.tolist() == [2.0, 2.0] and half[1] == 0.0
    assert half[0] == pytest.approx(12.706204736 * 1.0, rel=1e-6)  # t_{0.975, 1} * s / sqrt(2)


def test_squeeze_point_does_not_depend_on_where_it_runs():
    """A sweep point gives the same numbers bit for bit in this process (Numba's and BLAS's
    threads) and in a Dask worker's environment (one thread each), so the automatic choice
    between the two (a timing) cannot change a stored result; only the wall time differs."""
    from threads import hexed, in_worker_environment

    params = dict(loads=3, mu=1.0, sigma=1.0, gamma=0.9, n=6, k=3, seed=4, rollouts=60,
                  horizon=40, algorithm="mean_field")  # fmt: skip
    here = squeeze_point(**params)
    there = in_worker_environment("smfq_lib.chapters.experiments", "squeeze_point", params)
    assert set(there) == set(here)
    for name, value in hexed(here).items():
        if name != "learn_seconds":
            assert there[name] == value, name
