"""smfq_lib.sweep: sweeps on Dask with a resumable results store (DESIGN §7).

One 2-worker LocalCluster (127.0.0.1, no dashboard) serves every test that needs one. Tasks live
in tests/sweep_tasks.py (importable by the workers) and log each call to $SMFQ_TEST_DIR/calls.log,
so the tests can tell which points were actually computed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import sweep_tasks

from smfq_lib import __version__, sweep
from smfq_lib.sweep import (
    expand_grid,
    load_results,
    local_client,
    point_key,
    results_columns,
    run_sweep,
    store_path,
)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
VOLATILE = ("wall_time", "finished_at")  # the only columns allowed to differ between runs
MC_GRID = {"k": [1, 2, 3, 5, 8], "m": [3, 17], "seed": [0, 1]}  # 20 points


@pytest.fixture(scope="module")
def test_dir(tmp_path_factory):
    """$SMFQ_TEST_DIR, set before the cluster's workers start so that they inherit it."""
    folder = tmp_path_factory.mktemp("sweep_calls")
    old = os.environ.get("SMFQ_TEST_DIR")
    os.environ["SMFQ_TEST_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("SMFQ_TEST_DIR", None)
    else:
        os.environ["SMFQ_TEST_DIR"] = old


@pytest.fixture(scope="module")
def cluster_client(test_dir):
    client = local_client(2)
    yield client
    sweep._close_client(client)


@pytest.fixture
def calls(test_dir, tmp_path, monkeypatch):
    """Empty call log and no 'fixed' flag; the working directory is a fresh tmp_path."""
    for name in ("calls.log", "fixed", "go"):
        (test_dir / name).unlink(missing_ok=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMFQ_SCHEDULER", raising=False)
    return sweep_tasks.logged_calls


def _stable(rows):
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in rows]


def _raw_keys(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    return [line.split(",")[header.index("key")] for line in lines[1:]]


# ------------------------------------------------------------------------------------- grid


def test_grid_order_is_nested_loops_in_dict_order():
    points = expand_grid({"k": [1, 2], "seed": [0, 1, 2]})
    assert points == [{"k": k, "seed": s} for k in (1, 2) for s in (0, 1, 2)]
    listed = [{"k": 3, "m": 10}, {"k": 1, "m": None}]
    assert expand_grid(listed) == listed


def test_point_key_is_stable_and_canonical():
    # sha256 of '{"k":2,"m":10,"seed":0}': a fixed value, not a per-process hash
    assert point_key({"k": 2, "m": 10, "seed": 0}) == "fe419375ef414006"
    assert point_key({"seed": 0, "m": 10, "k": 2}) == point_key({"k": 2, "m": 10, "seed": 0})
    assert point_key({"k": np.int64(2), "m": np.int32(10), "seed": 0}) == point_key(
        {"k": 2, "m": 10, "seed": 0}
    )
    assert point_key({"k": 2.0}) != point_key({"k": 2})
    assert point_key({"k": 2, "m": 10}) != point_key({"k": 2, "m": 11})


def test_store_path():
    assert store_path("gap") == Path("results/gap.csv")
    assert store_path("out/gap.csv") == Path("out/gap.csv")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": {}}, "grid is an empty dict"),
        ({"grid": []}, "grid is an empty list"),
        ({"grid": {"k": []}}, r"grid\['k'\] is empty"),
        ({"grid": {"k": 3}}, r"grid\['k'\] must be a list"),
        ({"grid": {"k": [np.zeros(2)]}}, "parameter 'k' must be a scalar"),
        ({"grid": {"k": ["1"]}}, "would read back as a number"),
        ({"grid": {"status": [1]}}, "reserved"),
        ({"grid": [{"k": 1}, {"k": 1}]}, "same point"),
        ({"grid": "k=1"}, "dict of lists or a list of dicts"),
        ({"store": "gap.parquet"}, r"must end in \.csv"),
        ({"store": 3}, "store must be a name"),
        ({"client": 4}, "client must be None"),
        ({"progress": "yes"}, "progress must be True or False"),
        ({"task_fn": "mc_task"}, "task_fn must be callable"),
    ],
)
def test_bad_input_raises_before_any_work(calls, tmp_path, kwargs, match):
    args = {
        "task_fn": sweep_tasks.mc_task,
        "grid": {"k": [1], "m": [2], "seed": [0]},
        "store": "bad",
        "client": "serial",
        "progress": False,
    }
    args.update(kwargs)
    task_fn, grid = args.pop("task_fn"), args.pop("grid")
    with pytest.raises(ValueError, match=match):
        run_sweep(task_fn, grid, **args)
    assert calls() == []
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------- determinism, store format


def test_cluster_gives_the_same_stored_numbers_as_serial(calls, cluster_client):
    serial = run_sweep(sweep_tasks.mc_task, MC_GRID, store="serial", client="serial")
    assert len(calls()) == 20
    dask = run_sweep(sweep_tasks.mc_task, MC_GRID, store="dask", client=cluster_client)
    assert serial.ok and dask.ok and len(serial.computed) == len(dask.computed) == 20
    # every point computed once per sweep
    logged = [json.dumps(c, sort_keys=True) for c in calls()]
    assert len(logged) == 40 and len(set(logged)) == 20
    a = load_results("serial", grid=MC_GRID)
    b = load_results("dask", grid=MC_GRID)
    assert len(a) == len(b) == 20
    assert _stable(a) == _stable(b)  # floats compared exactly, bit for bit
    # stored values are the ones the task returns, in the task's own process
    for row in a:
        params = {"k": row["k"], "m": row["m"], "seed": row["seed"]}
        expected = sweep_tasks.mc_task(**params)
        assert {name: row[name] for name in expected} == expected
        assert row["key"] == point_key(params)
        assert row["status"] == "ok" and row["version"] == __version__
        assert row["task"] == "sweep_tasks:mc_task" and row["error"] is None
    # the files differ only in completion order and the volatile columns
    assert sorted(_raw_keys(Path("results/serial.csv"))) == sorted(
        _raw_keys(Path("results/dask.csv"))
    )


def test_workers_run_one_numba_thread_each(calls, cluster_client):
    run_sweep(sweep_tasks.threads_task, {"i": [0, 1, 2, 3]}, store="thr", client=cluster_client)
    cols = results_columns("thr")
    assert cols["numba_threads"].tolist() == [1, 1, 1, 1]
    assert cols["omp"].tolist() == [1, 1, 1, 1]


def test_results_columns_types_and_grid_order(calls):
    run_sweep(sweep_tasks.mc_task, MC_GRID, store="cols", client="serial", progress=False)
    cols = results_columns("cols", grid=MC_GRID)
    assert cols["k"].dtype == np.int64 and cols["n_pos"].dtype == np.int64
    assert cols["mean"].dtype == np.float64 and cols["big"].dtype == bool
    assert cols["label"].dtype == object
    assert cols["k"].tolist() == [p["k"] for p in expand_grid(MC_GRID)]
    # a missing number in a float column is NaN
    rows = [{"a": 1.5, "b": 1}, {"a": None, "b": 2}]
    mixed = results_columns(rows)
    assert np.isnan(mixed["a"][1]) and mixed["b"].dtype == np.int64


# ------------------------------------------------------------------------------ resumption


def test_rerun_skips_stored_points_and_extends(calls):
    small = {"k": [1, 2], "m": [3], "seed": [0, 1]}
    first = run_sweep(sweep_tasks.mc_task, small, store="re", client="serial", progress=False)
    assert len(first.computed) == 4 and len(calls()) == 4
    again = run_sweep(sweep_tasks.mc_task, small, store="re", client="serial", progress=False)
    assert again.computed == [] and again.skipped == 4 and len(calls()) == 4
    bigger = {"k": [1, 2, 3], "m": [3], "seed": [0, 1]}
    more = run_sweep(sweep_tasks.mc_task, bigger, store="re", client="serial", progress=False)
    assert more.skipped == 4 and len(more.computed) == 2
    assert [c["k"] for c in calls()[4:]] == [3, 3]
    assert len(_raw_keys(Path("results/re.csv"))) == 6


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    import sweep_tasks
    from smfq_lib.sweep import local_client, run_sweep

    if __name__ == "__main__":
        client = "serial" if sys.argv[1] == "serial" else local_client(2)
        grid = {"i": list(range(16)), "seed": [7]}
        run_sweep(sweep_tasks.slow_task, grid, store="resume", client=client, progress=False)
    """
)


@pytest.mark.parametrize("mode", ["serial", "local_cluster"])
def test_killed_sweep_resumes_without_recomputing(calls, cluster_client, tmp_path, mode):
    """Points 0-5 finish, points 6-15 are held (slow_task) until the sweep is killed."""
    grid = {"i": list(range(16)), "seed": [7]}
    script = tmp_path / "kill_me.py"
    script.write_text(_KILL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT)]))
    store = tmp_path / "results" / "resume.csv"
    proc = subprocess.Popen(
        [sys.executable, str(script), mode],
        cwd=tmp_path,
        env=env,
        start_new_session=True,  # its own process group: the kill takes its workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300  # a safety net for a stuck subprocess, not a timing
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists() and len(store.read_text().splitlines()) >= 1 + 6:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the sweep process ended early: {proc.stderr.read()}"
        assert store.exists(), "nothing stored within 300 s"
        time.sleep(0.2)  # let the held points start, so that some are in flight at the kill
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert {row["i"] for row in load_results(store)} == set(range(6))
    first_run = [c["i"] for c in calls()]
    assert set(range(6)) <= set(first_run) and len(first_run) > 6  # some were in flight

    (Path(os.environ["SMFQ_TEST_DIR"]) / "go").touch()
    summary = run_sweep(sweep_tasks.slow_task, grid, store=store, client=cluster_client)
    resumed = [c["i"] for c in calls()[len(first_run) :]]
    assert sorted(resumed) == list(range(6, 16))  # only the missing points, each once
    assert summary.skipped == 6 and summary.ok
    keys = _raw_keys(store)
    assert len(keys) == 16 and len(set(keys)) == 16  # every point once
    assert sorted(r["i"] for r in load_results(store)) == list(range(16))


def test_line_cut_by_a_kill_is_dropped(calls):
    grid = {"k": [1, 2], "m": [3], "seed": [0]}
    run_sweep(sweep_tasks.mc_task, grid, store="cut", client="serial", progress=False)
    path = Path("results/cut.csv")
    with open(path, "a") as fh:
        fh.write("0123456789abcdef,ok,9,3,0,0.5")  # half a row, no newline
    assert len(load_results("cut")) == 2
    grid3 = {"k": [1, 2, 3], "m": [3], "seed": [0]}
    summary = run_sweep(sweep_tasks.mc_task, grid3, store="cut", client="serial", progress=False)
    assert len(summary.computed) == 1
    assert len(load_results("cut")) == 3 and path.read_text().endswith("\n")
    assert "0123456789abcdef" not in path.read_text()


# -------------------------------------------------------------------------------- failures


def test_failing_point_is_recorded_and_only_it_is_retried(calls, cluster_client):
    grid = {"x": [1, 2, 3, 4, 5], "seed": [0]}
    with pytest.warns(RuntimeWarning, match=r"1 of 5 sweep points failed \(\{'x': 3"):
        first = run_sweep(sweep_tasks.flaky_task, grid, store="fl", client=cluster_client)
    assert [f["params"] for f in first.failed] == [{"x": 3, "seed": 0}]
    assert "RuntimeError: deliberate failure at x=3" in first.failed[0]["error"]
    assert "FAILED" in str(first) and "x': 3" in str(first)
    assert sorted(r["x"] for r in load_results("fl")) == [1, 2, 4, 5]
    failed_row = [r for r in load_results("fl", include_failed=True) if r["status"] == "failed"]
    assert failed_row[0]["x"] == 3 and failed_row[0]["y"] is None
    assert failed_row[0]["error"] == "RuntimeError: deliberate failure at x=3"
    assert len(calls()) == 5

    with pytest.warns(RuntimeWarning):
        second = run_sweep(sweep_tasks.flaky_task, grid, store="fl", client=cluster_client)
    assert [c["x"] for c in calls()[5:]] == [3] and second.skipped == 4

    (Path(os.environ["SMFQ_TEST_DIR"]) / "fixed").touch()
    third = run_sweep(sweep_tasks.flaky_task, grid, store="fl", client=cluster_client)
    assert third.ok and [c["x"] for c in calls()[6:]] == [3]
    assert sorted(r["x"] for r in load_results("fl")) == [1, 2, 3, 4, 5]
    # the store is a log: the two failed attempts stay as history, the latest row wins
    assert _raw_keys(Path("results/fl.csv")).count(point_key({"x": 3, "seed": 0})) == 3


def test_non_scalar_output_is_a_recorded_value_error(calls):
    with pytest.warns(RuntimeWarning):
        summary = run_sweep(sweep_tasks.array_task, {"x": [1]}, store="arr", client="serial")
    assert summary.failed[0]["error"].startswith("ValueError: output 'v' must be a scalar")


def test_one_store_per_task_function(calls):
    run_sweep(sweep_tasks.slow_task, {"i": [0], "seed": [0]}, store="one", client="serial")
    with pytest.raises(ValueError, match="holds results of"):
        run_sweep(sweep_tasks.where_task, {"i": [0]}, store="one", client="serial")


def test_store_is_locked_during_a_sweep(calls):
    holder = sweep._Store(Path("results/locked.csv"))
    try:
        with pytest.raises(RuntimeError, match="another process is running a sweep"):
            run_sweep(sweep_tasks.where_task, {"i": [0]}, store="locked", client="serial")
    finally:
        holder.close()
    assert run_sweep(sweep_tasks.where_task, {"i": [0]}, store="locked", client="serial").ok


# ------------------------------------------------------------------------------- schedulers


def test_smfq_scheduler_names_the_cluster(calls, cluster_client, monkeypatch):
    monkeypatch.setenv("SMFQ_SCHEDULER", cluster_client.scheduler.address)
    run_sweep(sweep_tasks.where_task, {"i": list(range(6))}, store="where", progress=False)
    workers = set(cluster_client.scheduler_info()["workers"])
    assert set(results_columns("where")["where"]) <= workers
    assert sweep._default["client"] is None  # no local cluster was started

    monkeypatch.setenv("SMFQ_SCHEDULER", "serial")
    run_sweep(sweep_tasks.where_task, {"i": [0]}, store="where_serial", progress=False)
    assert load_results("where_serial")[0]["where"] == "in-process"


def test_default_is_a_shared_local_cluster_sized_to_the_machine(calls):
    from dask.system import CPU_COUNT

    try:
        run_sweep(sweep_tasks.where_task, {"i": list(range(4))}, store="dflt", progress=False)
        client = sweep._default["client"]
        assert client is not None
        workers = client.scheduler_info()["workers"]
        assert len(workers) == CPU_COUNT
        assert all(w["nthreads"] == 1 for w in workers.values())
        assert set(results_columns("dflt")["where"]) <= set(workers)
        run_sweep(sweep_tasks.where_task, {"i": [9]}, store="dflt2", progress=False)
        assert sweep._default["client"] is client  # reused, not restarted
    finally:
        sweep.close_default_client()
    assert sweep._default["client"] is None
