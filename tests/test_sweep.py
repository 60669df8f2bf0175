"""smfq_lib.sweep: running sweeps in this process or on Dask, resuming, failures, schedulers.

One 2-worker LocalCluster (127.0.0.1, no dashboard) serves every test that needs one. Tasks live
in tests/sweep_tasks.py (importable by the workers) and log each call to $SMFQ_TEST_DIR/calls.log,
so the tests can tell which points were actually computed.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import sweep_tasks

from smfq_lib import __version__
from smfq_lib.sweep import (
    clients,
    load_results,
    local_client,
    point_key,
    run_sweep,
)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
VOLATILE = ["wall_time", "finished_at"]  # the only columns allowed to differ between runs
MC_GRID = {"k": [1, 2, 3, 5, 8], "m": [3, 17], "seed": [0, 1]}  # 20 points


def _env() -> dict:
    """The environment of a subprocess: this one's ($SMFQ_TEST_DIR included), tests importable."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT)]))


@pytest.fixture(scope="module")
def cluster_client(test_dir):
    client = local_client(2)
    yield client
    clients.close_client(client)


def _ok_rows(path) -> int:
    """Points stored ok, read with plain sqlite3; 0 while the store is not written yet."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT count(*) FROM points WHERE status = 'ok'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _keys(path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [k for (k,) in db.execute("SELECT key FROM points")]


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": {}}, "grid is an empty dict"),
        ({"grid": []}, "grid is an empty list"),
        ({"grid": {"k": []}}, r"grid\['k'\] is empty"),
        ({"grid": {"k": 3}}, r"grid\['k'\] must be a list"),
        ({"grid": {"k": [[1, 2]]}}, "parameter 'k' must be a scalar"),
        ({"grid": {"status": [1]}}, "reserved"),
        ({"grid": [{"k": 1}, {"k": 1}]}, "same point"),
        ({"grid": "k=1"}, "dict of lists or a list of dicts"),
        ({"store": "gap.csv"}, r"path ending in \.sqlite.*pass 'gap\.sqlite'"),
        ({"store": 3}, "store must be a bare name"),
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
    assert serial.where == "in-process" and dask.where.startswith("Dask at tcp://127.0.0.1")
    # every point computed once per sweep
    logged = [json.dumps(c, sort_keys=True) for c in calls()]
    assert len(logged) == 40 and len(set(logged)) == 20
    a = load_results("serial", grid=MC_GRID)
    b = load_results("dask", grid=MC_GRID)
    assert len(a) == len(b) == 20
    # floats compared exactly, bit for bit; dtypes too
    pd.testing.assert_frame_equal(
        a.drop(columns=VOLATILE), b.drop(columns=VOLATILE), check_exact=True
    )
    # stored values are the ones the task returns, in the task's own process
    for row in a.to_dict("records"):
        params = {"k": row["k"], "m": row["m"], "seed": row["seed"]}
        expected = sweep_tasks.mc_task(**params)
        assert {name: row[name] for name in expected} == expected
        assert row["key"] == point_key(params)
        assert row["status"] == "ok" and row["version"] == __version__ and row["attempts"] == 1
        assert row["task"] == "sweep_tasks:mc_task" and pd.isna(row["error"])
    # the stores differ only in completion order and the volatile columns
    assert sorted(_keys("results/serial.sqlite")) == sorted(_keys("results/dask.sqlite"))


def test_workers_run_one_numba_thread_each(calls, cluster_client):
    run_sweep(sweep_tasks.threads_task, {"i": [0, 1, 2, 3]}, store="thr", client=cluster_client)
    df = load_results("thr")
    assert df["numba_threads"].tolist() == [1, 1, 1, 1]
    assert df["omp"].tolist() == [1, 1, 1, 1]


# ------------------------------------------------------------------------------ resumption


def test_rerun_computes_nothing_and_extends(calls):
    small = {"k": [1, 2], "m": [3], "seed": [0, 1]}
    first = run_sweep(sweep_tasks.mc_task, small, store="re", client="serial", progress=False)
    assert len(first.computed) == 4 and first.reused == 0 and len(calls()) == 4
    again = run_sweep(sweep_tasks.mc_task, small, store="re", client="serial", progress=False)
    assert again.computed == [] and again.reused == 4 and len(calls()) == 4
    assert again.where == ""  # nothing ran
    bigger = {"k": [1, 2, 3], "m": [3], "seed": [0, 1]}
    more = run_sweep(sweep_tasks.mc_task, bigger, store="re", client="serial", progress=False)
    assert more.reused == 4 and len(more.computed) == 2
    assert [c["k"] for c in calls()[4:]] == [3, 3]
    assert len(_keys("results/re.sqlite")) == 6


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
    store = tmp_path / "results" / "resume.sqlite"
    proc = subprocess.Popen(
        [sys.executable, str(script), mode],
        cwd=tmp_path,
        env=_env(),
        start_new_session=True,  # its own process group: the kill takes its workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300  # a safety net for a stuck subprocess, not a timing
        while time.monotonic() < deadline and proc.poll() is None:
            if _ok_rows(store) >= 6:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the sweep process ended early: {proc.stderr.read()}"
        assert _ok_rows(store) >= 6, "six points not stored within 300 s"
        time.sleep(0.2)  # let the held points start, so that some are in flight at the kill
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert set(load_results(store)["i"]) == set(range(6))
    first_run = [c["i"] for c in calls()]
    assert set(range(6)) <= set(first_run) and len(first_run) > 6  # some were in flight

    (Path(os.environ["SMFQ_TEST_DIR"]) / "go").touch()
    summary = run_sweep(sweep_tasks.slow_task, grid, store=store, client=cluster_client)
    resumed = [c["i"] for c in calls()[len(first_run) :]]
    assert sorted(resumed) == list(range(6, 16))  # only the missing points, each once
    assert summary.reused == 6 and summary.ok and len(summary.computed) == 10
    keys = _keys(store)
    assert len(keys) == 16 and len(set(keys)) == 16  # every point once
    assert sorted(load_results(store)["i"]) == list(range(16))


_CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import sys
    import sweep_tasks
    from smfq_lib.sweep import run_sweep

    grid = {"i": list(range(120)), "seed": [3]}
    s = run_sweep(sweep_tasks.slow_task, grid, store=sys.argv[1], client="serial", progress=False)
    print(len(s.computed), s.reused, len(s.failed))
    """
)


def test_two_concurrent_sweeps_on_one_store(calls, tmp_path):
    """Both sweeps hold at point 6 until both got there, then race over points 6-119, each
    point committed as it finishes: one store reached by its path and through a symlink."""
    script = tmp_path / "both.py"
    script.write_text(_CONCURRENT_SCRIPT)
    real = tmp_path / "results" / "shared.sqlite"
    real.parent.mkdir()
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path)],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in (real, link)
    ]
    try:
        deadline = time.monotonic() + 300  # a safety net, not a timing
        while time.monotonic() < deadline and all(p.poll() is None for p in procs):
            if sum(c["i"] == 6 for c in calls()) == 2:
                break
            time.sleep(0.05)
        (Path(os.environ["SMFQ_TEST_DIR"]) / "go").touch()
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
        computed, reused, failed = map(int, out.split())
        assert computed + reused == 120 and failed == 0
    with contextlib.closing(sqlite3.connect(real)) as db:
        rows = db.execute("SELECT key, status, attempts FROM points").fetchall()
    assert len(rows) == 120 and len({k for k, _, _ in rows}) == 120  # each point stored once
    assert {(s, a) for _, s, a in rows} == {("ok", 1)}  # never overwritten by the other sweep
    assert sorted(load_results(link)["i"]) == list(range(120))


# -------------------------------------------------------------------------------- failures


def test_failing_point_is_recorded_and_only_it_is_retried(calls, cluster_client):
    grid = {"x": [1, 2, 3, 4, 5], "seed": [0]}
    with pytest.warns(RuntimeWarning, match=r"1 of 5 sweep points failed \(\{'x': 3"):
        first = run_sweep(sweep_tasks.flaky_task, grid, store="fl", client=cluster_client)
    assert [f["params"] for f in first.failed] == [{"x": 3, "seed": 0}]
    assert "RuntimeError: deliberate failure at x=3" in first.failed[0]["error"]
    assert "FAILED" in str(first) and "x': 3" in str(first)
    assert sorted(load_results("fl")["x"]) == [1, 2, 4, 5]
    everything = load_results("fl", include_failed=True)
    failed_row = everything[everything["status"] == "failed"].to_dict("records")
    assert failed_row[0]["x"] == 3 and pd.isna(failed_row[0]["y"])
    assert failed_row[0]["error"] == "RuntimeError: deliberate failure at x=3"
    assert len(calls()) == 5

    with pytest.warns(RuntimeWarning):
        second = run_sweep(sweep_tasks.flaky_task, grid, store="fl", client=cluster_client)
    assert [c["x"] for c in calls()[5:]] == [3] and second.reused == 4

    (Path(os.environ["SMFQ_TEST_DIR"]) / "fixed").touch()
    third = run_sweep(sweep_tasks.flaky_task, grid, store="fl", client=cluster_client)
    assert third.ok and [c["x"] for c in calls()[6:]] == [3]
    df = load_results("fl")
    assert sorted(df["x"]) == [1, 2, 3, 4, 5]
    # one row per point; the point that failed twice was run three times
    assert df.set_index("x")["attempts"].to_dict() == {1: 1, 2: 1, 3: 3, 4: 1, 5: 1}
    assert df["error"].isna().all()


def test_non_scalar_output_is_a_recorded_value_error(calls):
    with pytest.warns(RuntimeWarning):
        summary = run_sweep(sweep_tasks.array_task, {"x": [1]}, store="arr", client="serial")
    assert summary.failed[0]["error"].startswith("ValueError: output 'v' must be a scalar")


def test_one_store_per_task_function(calls):
    run_sweep(sweep_tasks.slow_task, {"i": [0], "seed": [0]}, store="one", client="serial")
    with pytest.raises(ValueError, match="holds results of"):
        run_sweep(sweep_tasks.where_task, {"i": [0]}, store="one", client="serial")


# ---------------------------------------------------------------------- summary, progress


def test_summary_and_progress_bar(calls, capsys):
    grid = {"i": [0, 1, 2, 3]}
    run_sweep(sweep_tasks.where_task, grid, store="pg", client="serial", progress=True)
    out, err = capsys.readouterr()
    assert re.fullmatch(
        r"pg: 4 points: 4 computed, 0 reused from results/pg\.sqlite, 0 failed "
        r"\(\d+\.\d s, in-process\)\n",
        out,
    )
    assert "pg: 100%" in err and "4/4" in err  # tqdm's bar (text outside Jupyter)
    summary = run_sweep(sweep_tasks.where_task, grid, store="pg", client="serial", progress=False)
    assert str(summary).startswith("pg: 4 points: 0 computed, 4 reused from results/pg.sqlite")
    assert capsys.readouterr() == ("", "")


# ------------------------------------------------------------------------------- schedulers


def test_smfq_scheduler_names_the_cluster(calls, cluster_client, monkeypatch):
    monkeypatch.setenv("SMFQ_SCHEDULER", cluster_client.scheduler.address)
    run_sweep(sweep_tasks.where_task, {"i": list(range(6))}, store="where", progress=False)
    workers = set(cluster_client.scheduler_info()["workers"])
    assert set(load_results("where")["where"]) <= workers
    assert clients._default["client"] is None  # no local cluster was started

    monkeypatch.setenv("SMFQ_SCHEDULER", "serial")
    run_sweep(sweep_tasks.where_task, {"i": [0]}, store="where_serial", progress=False)
    assert load_results("where_serial")["where"].tolist() == ["in-process"]


def test_cluster_pays_off_rule():
    start = clients.CLUSTER_START_SECONDS
    # two cores: the rest moves once it would take more than twice the start-up serially
    assert not clients.cluster_pays_off([9.0, 1.0], int(2 * start), workers=2)
    assert clients.cluster_pays_off([9.0, 1.0], int(2 * start) + 2, workers=2)
    # the first point (one-off costs) is left out, the median of the others is used
    assert not clients.cluster_pays_off([1e6], 1000, workers=2)
    assert not clients.cluster_pays_off([1e6, 0.001, 0.001, 9.0], 1000, workers=2)
    assert clients.cluster_pays_off([0.0, 0.5, 9.0, 1.0], int(2 * start) + 2, workers=2)
    # many cores: just over the start-up; one core, or one point left: never
    assert clients.cluster_pays_off([1.0, 1.0], 16 * 2, workers=16)  # saves 30 s
    assert not clients.cluster_pays_off([1.0, 1.0], 11, workers=16)  # saves 10 s
    assert not clients.cluster_pays_off([1.0, 1e6], 1000, workers=1)
    assert not clients.cluster_pays_off([1.0, 1e6], 1, workers=2)


def test_short_sweep_runs_in_process_without_a_cluster(calls):
    summary = run_sweep(sweep_tasks.where_task, {"i": list(range(5))}, store="short")
    assert summary.where == "in-process"
    assert load_results("short")["where"].tolist() == ["in-process"] * 5
    assert clients._default["client"] is None


def test_long_sweep_moves_to_the_shared_cluster_and_keeps_it_warm(calls, monkeypatch):
    if clients.workers_available() < 2:
        pytest.skip("one core: the automatic choice never starts a cluster")
    monkeypatch.setattr(clients, "CLUSTER_START_SECONDS", 0.0)  # every sweep is "long"
    try:
        first = run_sweep(sweep_tasks.where_task, {"i": list(range(5))}, store="long")
        client = clients._default["client"]
        workers = client.scheduler_info()["workers"]
        assert len(workers) == clients.workers_available()  # sized to the machine
        assert all(w["nthreads"] == 1 for w in workers.values())
        where = load_results("long", grid={"i": list(range(5))})["where"].tolist()
        assert where[:2] == ["in-process"] * 2 and set(where[2:]) <= set(workers)  # then moved
        assert first.where.startswith("2 in-process, then Dask at")
        second = run_sweep(sweep_tasks.where_task, {"i": [9, 10]}, store="long2")
        assert clients._default["client"] is client  # reused warm, not restarted
        assert set(load_results("long2")["where"]) <= set(workers)  # all on the warm cluster
        assert second.where.startswith("Dask at")
    finally:
        clients.close_default_client()
    assert clients._default["client"] is None


# ---------------------------------------------------------------- scripts without the guard

_UNGUARDED = {
    "default": "run_sweep(sweep_tasks.where_task, {'i': [0, 1]}, store='ng', progress=False)",
    "local_client": "client = local_client(1)",
    "serial": "run_sweep(sweep_tasks.where_task, {'i': [0, 1]}, store='ng', client='serial')",
}


@pytest.mark.parametrize("case", list(_UNGUARDED))
def test_script_without_main_guard(tmp_path, case):
    """A sweep that may start a local cluster from a script's top level is refused at once;
    client="serial" needs no guard."""
    script = tmp_path / "no_guard.py"
    script.write_text(
        "import sweep_tasks\nfrom smfq_lib.sweep import local_client, run_sweep\n\n"
        + _UNGUARDED[case]
        + "\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True, text=True
    )
    if case == "serial":
        assert proc.returncode == 0, proc.stderr
        assert load_results(tmp_path / "results" / "ng.sqlite")["i"].tolist() == [0, 1]
        return
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: this sweep runs at the top level of the script")
    assert 'if __name__ == "__main__":' in last and 'client="serial"' in last
    assert "no_guard.py (line 4)" in last
    assert not (tmp_path / "results").exists()  # refused before any work


def test_main_guard_is_read_from_the_source():
    source = textwrap.dedent(
        """
        import x
        run(1)
        if __name__ == "__main__":
            run(2)
        if "__main__" == __name__ and ready:
            run(3)
        if __name__ != "__main__":
            pass
        else:
            run(4)
        def main():
            run(5)
        """
    )
    lines = {
        n: i
        for i, line in enumerate(source.splitlines(), start=1)
        for n in "12345"
        if f"({n})" in line
    }
    guarded = {n: clients.line_is_guarded(source, line) for n, line in lines.items()}
    assert guarded == {"1": False, "2": True, "3": True, "4": True, "5": False}


def test_sweep_while_a_worker_imports_the_script_is_refused(calls, monkeypatch):
    # what a spawned worker sees while it imports the main script (multiprocessing.spawn)
    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(ValueError, match="worker process imports the main script"):
        run_sweep(sweep_tasks.where_task, {"i": [0]}, store="boot", client="serial")
    assert calls() == [] and not Path("results").exists()


def test_every_sweep_reports_its_counts_to_the_reproduce_log(calls, tmp_path, monkeypatch):
    """With SMFQ_SWEEP_LOG set (smfq_lib.chapters.reproduce sets it per notebook), each run_sweep
    appends its points computed, reused and failed; reproduce sums them per notebook."""
    from smfq_lib.chapters.reproduce import Outcome, _read_sweep_log, summary

    log = tmp_path / "sweeps.jsonl"
    monkeypatch.setenv("SMFQ_SWEEP_LOG", str(log))
    grid = {"k": [1, 2], "m": [3], "seed": [0, 1]}
    run_sweep(sweep_tasks.mc_task, grid, store="log", client="serial", progress=False)
    run_sweep(sweep_tasks.mc_task, grid, store="log", client="serial", progress=False)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["computed"], e["reused"], e["failed"]) for e in lines] == [(4, 0, 0), (0, 4, 0)]
    totals = _read_sweep_log(log)
    assert totals == {"computed": 4, "reused": 4, "failed": 0}
    text = summary([Outcome("06_x.ipynb", 2.0, True, **totals), Outcome("01_y.ipynb", 1.0, True)])
    assert "4 computed, 4 reused" in text and "01_y.ipynb" in text
    assert "4 sweep point(s) were read from the results stores" in text
    assert _read_sweep_log(tmp_path / "absent.jsonl") == {}
