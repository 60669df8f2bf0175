"""smfq_lib.sweep: grid points and the SQLite results store (no Dask cluster here).

The store's guarantees checked from outside: values read back exactly (floats bit for bit, by
their bytes), one file whatever its spelling (symlinks), a write cut by ``kill -9`` is rolled
back, and files that are not a store give a ValueError that says what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sweep_tasks

from smfq_lib.sweep import expand_grid, load_results, point_key, run_sweep, store_path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
MC_GRID = {"k": [1, 2, 3, 5, 8], "m": [3, 17], "seed": [0, 1]}  # 20 points


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _sql(path, query: str) -> list[tuple]:
    """Rows of a query on a store, with plain sqlite3 (not through smfq)."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(query).fetchall()


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
    assert store_path("gap") == Path("results/gap.sqlite")
    assert store_path("out/gap.sqlite") == Path("out/gap.sqlite")
    with pytest.raises(ValueError, match=r"pass 'out/gap\.sqlite'"):
        store_path("out/gap.csv")
    with pytest.raises(ValueError, match=r"without the \.sqlite suffix; pass 'out/gap\.sqlite'"):
        store_path("out/gap")
    with pytest.raises(ValueError, match="store must be a bare name"):
        store_path(3)


# ------------------------------------------------------------------------ values and types


def test_values_read_back_exactly(calls):
    grid = [{"i": i, "m": i if i % 2 else None} for i in range(len(sweep_tasks.SPECIAL_FLOATS))]
    run_sweep(sweep_tasks.values_task, grid, store="values", client="serial", progress=False)
    df = load_results("values", grid=grid)
    assert df["i"].tolist() == list(range(len(grid)))  # grid order
    # columns in the order they first appeared (maybe and m got their kind at point 1)
    outputs = ["x", "text", "big", "flag", "maybe", "np_float"]
    assert list(df.columns[:10]) == ["key", "status", "i", "m", *outputs]
    for row, point in zip(df.to_dict("records"), grid, strict=True):
        expected = sweep_tasks.values_task(**point)
        assert _bits(row["x"]) == _bits(expected["x"])  # every float bit for bit, NaN payload too
        assert _bits(row["np_float"]) == _bits(float(expected["np_float"]))
        assert row["text"] == expected["text"] and row["big"] == expected["big"]
        assert row["flag"] is expected["flag"]
        assert row["maybe"] == expected["maybe"] and type(row["maybe"]) is type(expected["maybe"])
        assert row["m"] == point["m"] and type(row["m"]) is type(point["m"])
    assert str(df["big"].dtype) == "int64" and str(df["flag"].dtype) == "bool"
    assert str(df["maybe"].dtype) == "Int64" and str(df["m"].dtype) == "Int64"
    assert str(df["x"].dtype) == "float64" and str(df["text"].dtype) == "str"
    # the same values as plain SQLite sees them: ints are integers, text is text
    kinds = _sql(
        "results/values.sqlite", "SELECT typeof(big), typeof(text), typeof(flag) FROM points"
    )
    assert set(kinds) == {("integer", "text", "integer")}


def test_load_results_types_and_grid_order(calls):
    run_sweep(sweep_tasks.mc_task, MC_GRID, store="cols", client="serial", progress=False)
    df = load_results("cols", grid=MC_GRID)
    dtypes = {c: str(t) for c, t in df.dtypes.items()}
    assert dtypes["k"] == dtypes["n_pos"] == dtypes["attempts"] == "int64"
    assert dtypes["mean"] == dtypes["wall_time"] == "float64" and dtypes["big"] == "bool"
    assert dtypes["label"] == dtypes["key"] == "str"
    assert df["k"].tolist() == [p["k"] for p in expand_grid(MC_GRID)]
    assert list(df.columns[:5]) == ["key", "status", "k", "m", "seed"]
    reverse = expand_grid(MC_GRID)[::-1]
    assert load_results("cols", grid=reverse)["key"].tolist() == df["key"].tolist()[::-1]
    assert len(load_results("cols", grid={"k": [1, 99], "m": [3], "seed": [0]})) == 1


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"k": [2**63]}, "outside the 64-bit range"),
        ({"k": ["\udcff"]}, "not valid Unicode"),
        ({"k": [True, 2]}, "both bools and other values"),
        ({"Status": [1]}, "reserved"),
        ({"rowid": [1]}, "reserved"),  # would hide SQLite's row id, the order rows are read in
        ({"k\udcff": [1]}, "name 'k\\\\udcff' is not valid Unicode"),
        ({f"p{i}": [0] for i in range(1993)}, "1993 parameter and output columns.*limit of 2000"),
        ([{"k": 1, "K": 2}], "differ only in case"),
    ],
)
def test_values_the_store_cannot_keep_are_refused_before_any_work(calls, tmp_path, grid, match):
    with pytest.raises(ValueError, match=match):
        run_sweep(sweep_tasks.where_task, grid, store="bad", client="serial")
    assert not (tmp_path / "results").exists()


def test_an_output_that_mixes_bools_with_ints_fails_that_point(calls):
    with pytest.warns(RuntimeWarning, match="1 of 2"):
        summary = run_sweep(sweep_tasks.kinds_task, {"x": [0, 1]}, store="kinds", client="serial")
    assert summary.failed[0]["params"] == {"x": 1}
    assert "both bools and other values" in summary.failed[0]["error"]
    assert load_results("kinds")["v"].tolist() == [True]


def test_too_many_outputs_fail_that_point_not_the_sweep(calls):
    with pytest.warns(RuntimeWarning, match="1 of 2"):
        summary = run_sweep(sweep_tasks.wide_task, {"n": [2000, 3]}, store="w", client="serial")
    assert summary.failed[0]["params"] == {"n": 2000} and len(summary.computed) == 1
    assert "2001 parameter and output columns" in summary.failed[0]["error"]
    assert load_results("w")[["o0", "o2"]].values.tolist() == [[0, 2]]


# ----------------------------------------------------------------------------- the file


def test_symlinked_store_is_one_store(calls, tmp_path):
    real = tmp_path / "data" / "real.sqlite"
    real.parent.mkdir()
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)
    grid = {"k": [1, 2], "m": [3], "seed": [0, 1]}
    first = run_sweep(sweep_tasks.mc_task, grid, store=link, client="serial", progress=False)
    assert len(first.computed) == 4 and first.store == real.resolve()
    assert link.is_symlink() and real.is_file()  # written through the link, not replacing it
    again = run_sweep(sweep_tasks.mc_task, grid, store=real, client="serial", progress=False)
    assert again.computed == [] and again.reused == 4 and len(calls()) == 4
    assert not Path(str(link) + "-wal").exists()  # SQLite's files sit beside the real file
    pd.testing.assert_frame_equal(load_results(link), load_results(real))


def test_a_file_that_is_not_a_store_is_refused(calls, tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("k,seed\n1,0\n")
    with pytest.raises(ValueError, match="not an smfq results store.*move it away"):
        run_sweep(sweep_tasks.where_task, {"i": [0]}, store=path, client="serial")
    with pytest.raises(ValueError, match="not an smfq results store"):
        load_results(path)
    other = tmp_path / "other.sqlite"
    _sql(other, "CREATE TABLE points (key TEXT)")
    with pytest.raises(ValueError, match="SQLite database but not an smfq results store"):
        run_sweep(sweep_tasks.where_task, {"i": [0]}, store=other, client="serial")
    assert calls() == [] and path.read_text() == "k,seed\n1,0\n"
    with pytest.raises(ValueError, match="does not exist; run the sweep first"):
        load_results("missing")
    assert not (tmp_path / "results").exists()  # reading never creates a store


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("DROP TABLE smfq_columns", "'smfq_columns' is missing"),
        ("ALTER TABLE points DROP COLUMN error", "table 'points' lacks columns ['error']"),
        ('ALTER TABLE points DROP COLUMN "where"', "table 'points' lacks columns ['where']"),
        (
            "ALTER TABLE points RENAME TO t; CREATE VIEW points AS SELECT * FROM t",
            "'points' is a view",
        ),
    ],
)
def test_a_store_with_a_foreign_schema_is_refused_by_name(calls, edit, problem):
    """The right format tag on tables this package did not write: refused naming what differs,
    by every reader and writer, before any work."""
    run_sweep(sweep_tasks.where_task, {"i": [0, 1]}, store="f", client="serial", progress=False)
    with contextlib.closing(sqlite3.connect("results/f.sqlite")) as db:
        db.executescript(edit)
    message = (
        "has the format tag of an smfq results store but not its schema \\("
        + re.escape(problem)
        + "\\); it was written by another program or damaged: move it away"
    )
    with pytest.raises(ValueError, match=message):
        load_results("f")
    with pytest.raises(ValueError, match=message):
        run_sweep(sweep_tasks.where_task, {"i": [0, 1, 2]}, store="f", client="serial")


def test_text_that_is_not_utf8_is_a_value_error(calls):
    run_sweep(sweep_tasks.mc_task, {"k": [1], "m": [3], "seed": [0]}, store="u", client="serial")
    _sql("results/u.sqlite", "UPDATE points SET label = CAST(X'FF41' AS TEXT)")
    with pytest.raises(ValueError, match="not valid UTF-8.*label"):
        load_results("u")


_CUT_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from smfq_lib.sweep.store import Store

    st = Store(sys.argv[1], create=True)
    st.db.execute("BEGIN IMMEDIATE")
    st.db.execute("UPDATE points SET status = 'failed', m = 999")
    st.db.execute(
        "INSERT INTO points (key, status, attempts) VALUES ('0123456789abcdef', 'ok', 1)"
    )
    os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of a transaction
    """
)


def test_a_write_cut_by_a_kill_is_rolled_back(calls, tmp_path):
    grid = {"k": [1, 2], "m": [3], "seed": [0]}
    run_sweep(sweep_tasks.mc_task, grid, store="cut", client="serial", progress=False)
    before = load_results("cut")
    script = tmp_path / "cut.py"
    script.write_text(_CUT_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), "results/cut.sqlite"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    pd.testing.assert_frame_equal(load_results("cut"), before)  # nothing of the cut write
    grid3 = {"k": [1, 2, 3], "m": [3], "seed": [0]}
    summary = run_sweep(sweep_tasks.mc_task, grid3, store="cut", client="serial", progress=False)
    assert len(summary.computed) == 1 and summary.reused == 2
    assert _sql("results/cut.sqlite", "SELECT status, attempts FROM points") == [("ok", 1)] * 3


def test_a_damaged_store_is_refused(calls):
    run_sweep(sweep_tasks.where_task, {"i": list(range(300))}, store="dmg", client="serial")
    path = Path("results/dmg.sqlite")
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(ValueError, match="malformed.*damaged one\\); move it away"):
        load_results("dmg")
    with pytest.raises(ValueError, match="malformed"):
        run_sweep(sweep_tasks.where_task, {"i": [0]}, store="dmg", client="serial")


# ----------------------------------------------------------------------------- concurrency


def test_first_open_waits_while_another_process_creates_the_store(calls, tmp_path):
    """Another connection holds the write lock of a new, still empty store (as a process that is
    creating it does): opening it waits for the lock instead of failing at once. SQLite's busy
    timeout does not cover the switch to WAL mode, which raised "database is locked" here."""
    path = tmp_path / "new.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, holder.execute, ("COMMIT",))
    release.start()
    try:
        summary = run_sweep(sweep_tasks.where_task, {"i": [0, 1]}, store=path, progress=False)
    finally:
        release.join()
        holder.close()
    assert len(summary.computed) == 2 and not summary.failed


_STAMPEDE_SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp
    import sys
    import traceback

    import sweep_tasks
    from smfq_lib.sweep import load_results, run_sweep

    def one(path, barrier, errors):
        barrier.wait()  # every process starts its sweep at the same moment
        try:
            grid = {"i": list(range(6))}
            s = run_sweep(sweep_tasks.where_task, grid, store=path, client="serial", progress=False)
            assert not s.failed and len(load_results(path)) == 6
        except BaseException:
            errors.put(traceback.format_exc())

    if __name__ == "__main__":
        folder, rounds, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        run_sweep(sweep_tasks.where_task, {"i": [0]}, store=f"{folder}/warm.sqlite",
                  client="serial", progress=False)  # imports done once, before forking
        ctx = mp.get_context("fork")
        errors = ctx.Queue()
        for r in range(rounds):
            barrier = ctx.Barrier(procs)
            args = (f"{folder}/round{r}.sqlite", barrier, errors)
            ps = [ctx.Process(target=one, args=args) for _ in range(procs)]
            for p in ps:
                p.start()
            for p in ps:
                p.join()
                assert p.exitcode == 0, p.exitcode
        failures = []
        while not errors.empty():
            failures.append(errors.get())
        print(len(failures), rounds * procs)
        print(*failures[:3], sep="\\n")
    """
)


def test_many_processes_starting_on_one_new_store_all_succeed(tmp_path):
    """10 rounds of 4 processes released together (a barrier) on a NEW store each: 0 failures
    out of 40 sweeps, and each store holds its 6 points once."""
    script = tmp_path / "stampede.py"
    script.write_text(_STAMPEDE_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT)]))
    res = subprocess.run(
        [sys.executable, str(script), str(tmp_path), "10", "4"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    failures, calls = map(int, res.stdout.split("\n", 1)[0].split())
    assert (failures, calls) == (0, 40), res.stdout[-3000:]
    for r in range(10):
        rows = _sql(tmp_path / f"round{r}.sqlite", "SELECT status, attempts FROM points")
        assert rows == [("ok", 1)] * 6


# ------------------------------------------------------------------------------- read-only

_READ_ONLY_SCRIPT = textwrap.dedent(
    """
    import json, os, pwd, sys
    import sweep_tasks
    import tqdm.auto  # every import before dropping privileges (the interpreter may be unreadable)
    from smfq_lib.sweep import load_results, run_sweep

    if os.getuid() == 0:  # root ignores file modes: read as user nobody, as a reviewer would
        nobody = pwd.getpwnam("nobody")
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    out = {}
    for name, call in json.loads(sys.argv[1]).items():
        store, grid = call
        try:
            if grid is None:
                out[name] = len(load_results(store))
            else:
                s = run_sweep(sweep_tasks.where_task, grid, store=store, client="serial",
                              progress=False)
                out[name] = [len(s.computed), s.reused]
        except Exception as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))
    """
)


def test_a_read_only_store_is_read_without_write_access(tmp_path):
    """A finished store in a read-only file and folder, opened by a user who cannot write them:
    ``load_results`` and a ``run_sweep`` with nothing left to compute work; a sweep with points
    to add, and a new store in that folder, are refused naming the path and the fix. Under root
    (which ignores file modes) the reader is user ``nobody``."""
    import pwd
    import shutil
    import tempfile

    if os.getuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root and there is no user nobody to read as")
    top = Path(tempfile.mkdtemp(prefix="smfq_ro_", dir="/tmp"))  # reachable by nobody
    try:
        top.chmod(0o755)
        folders = {"ro_dir": top / "ro", "rw_dir": top / "rw"}
        for folder in folders.values():
            folder.mkdir()
            run_sweep(sweep_tasks.where_task, {"i": [0, 1]}, store=folder / "s.sqlite",
                      client="serial", progress=False)  # fmt: skip
            (folder / "s.sqlite").chmod(0o444)
        folders["rw_dir"].chmod(0o777)  # a read-only file in a folder anyone can write
        folders["ro_dir"].chmod(0o555)
        ro, rw = (str(f / "s.sqlite") for f in folders.values())
        calls = {
            "load ro_dir": [ro, None],
            "load rw_dir": [rw, None],
            "complete sweep ro_dir": [ro, {"i": [0, 1]}],
            "complete sweep rw_dir": [rw, {"i": [1, 0]}],
            "sweep with a new point": [ro, {"i": [0, 1, 2]}],
            "new store in ro_dir": [str(folders["ro_dir"] / "new.sqlite"), {"i": [0]}],
        }
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT)]))
        res = subprocess.run(
            [sys.executable, "-c", _READ_ONLY_SCRIPT, json.dumps(calls)],
            cwd=top, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr[-3000:]
        out = json.loads(res.stdout.splitlines()[-1])
    finally:
        for folder in top.iterdir():
            folder.chmod(0o755)
        shutil.rmtree(top)
    assert out["load ro_dir"] == out["load rw_dir"] == 2
    assert out["complete sweep ro_dir"] == out["complete sweep rw_dir"] == [0, 2]
    assert out["sweep with a new point"] == (
        f"ValueError: store {ro} is read-only to this process (the file or its folder is not "
        "writable) and 1 of the 3 points are not stored yet; make both writable (chmod u+w), or "
        "copy the store to a folder you can write and pass that. A complete store is read "
        "without write access."
    )
    new = folders["ro_dir"] / "new.sqlite"
    assert out["new store in ro_dir"] == (
        f"ValueError: cannot create store {new}: its folder {folders['ro_dir']} is not writable; "
        "pass a store in a folder you can write (a finished store can be read from a read-only "
        "folder)."
    )
