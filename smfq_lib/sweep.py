"""Sweeps of independent tasks on Dask, with an append-only results store (DESIGN §7).

The paper's experiments are grids of independent runs: the optimality gap of ``pi_k^est`` against
the bound of Theorem 0.11 for every ``k``, the Bellman noise ``epsilon_{k,m}`` of Lemma 0.9 for
every ``m``, each over seeds and problem sizes. :func:`run_sweep` runs one task per grid point on a
Dask ``distributed`` cluster and writes each result to the store the moment it arrives, so the
same notebook code runs on a laptop, a shared server or a cluster, and an interrupted sweep
resumes where it stopped.

Where the tasks run (``client=``)
    * ``None`` (default): the scheduler named by the environment variable ``SMFQ_SCHEDULER``
      (an address such as ``tcp://10.0.0.5:8786``, or ``serial``); if unset, a ``LocalCluster``
      sized to the machine (one worker process per core, one thread each, ``NUMBA_NUM_THREADS``
      and ``OMP_NUM_THREADS`` set to 1 in the workers so processes do not oversubscribe), started
      on first use on 127.0.0.1 without a dashboard and reused by later sweeps in the process
      (:func:`default_client`, :func:`close_default_client`);
    * a ``distributed.Client`` or a scheduler address string;
    * ``"serial"``: in this process, one point after the other, in grid order (reference runs,
      tests, debugging).

Results store
    One CSV file, ``results/<name>.csv`` relative to the working directory for a bare name, or
    any path ending in ``.csv``. One row per finished grid point: ``key`` (:func:`point_key`, a
    hash of the parameters), ``status`` (``ok`` or ``failed``), the parameters, the outputs, then
    ``wall_time`` (seconds of the task on its worker), ``version`` (``smfq_lib.__version__``),
    ``task`` (``module:qualname`` of the task function), ``finished_at`` (UTC) and ``error``.

    Why CSV (and not Parquet): the store is written one row at a time, as tasks finish. A CSV row
    is one ``write`` of one line, flushed and fsynced, so a killed sweep loses only the tasks still
    in flight, and a line cut by the kill is recognised (no final newline) and dropped. Appending
    to Parquet means rewriting the file (or a directory of one file per row); it also needs
    ``pyarrow``, which is not a dependency, and it is not readable in a text editor or ``git
    diff``. Exactness survives the text form: floats are written with ``repr`` (shortest string
    that round-trips to the same float64), and strings that would read back as another type
    (``"1"``, ``"nan"``, ``"True"``, ``""``) are refused up front. The store is an append-only
    log: a retried point appends a new row and the latest row of a key is its current state.

Determinism
    A task receives its parameters and nothing else (no worker id, no shared generator): its
    numbers depend only on them, whichever worker runs it, however many workers or threads there
    are, and in whatever order tasks finish. Randomness must come from a ``seed`` parameter.

Failures
    A task that raises is recorded as ``failed`` with ``"ExceptionType: message"`` and the sweep
    goes on; the returned :class:`SweepSummary` (printed at the end, and a warning) names the
    failed points; running the same sweep again computes only the missing and failed points.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import datetime as _dt
import hashlib
import io
import itertools
import json
import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from smfq_lib import __version__

__all__ = [
    "RESULTS_DIR",
    "SweepSummary",
    "close_default_client",
    "default_client",
    "expand_grid",
    "load_results",
    "local_client",
    "point_key",
    "results_columns",
    "run_sweep",
    "store_path",
]

RESULTS_DIR = "results"
"""Directory (relative to the working directory) of stores given by a bare name."""

SCHEDULER_ENV = "SMFQ_SCHEDULER"
_WORKER_THREADS_ENV = "SMFQ_WORKER_NUMBA_THREADS"
_META_HEAD = ("key", "status")
_META_TAIL = ("wall_time", "version", "task", "finished_at", "error")
_RESERVED = frozenset(_META_HEAD + _META_TAIL)
_KEY_HEX = 16  # 64 bits of sha256: collisions are negligible for any sweep


# --------------------------------------------------------------------------------------------
# Grid points: values, keys, expansion
# --------------------------------------------------------------------------------------------


def _reads_back_as_other(text: str) -> bool:
    """True if ``text`` would not read back from the store as the same string."""
    if text in ("", "True", "False"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _scalar(value, what: str):
    """Return ``value`` as a plain Python scalar the store round-trips exactly, else ValueError."""
    if isinstance(value, np.generic) and not isinstance(value, np.str_ | np.bytes_):
        if value.dtype.kind in "biuf":
            value = value.item()
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise ValueError(f"{what} is a string with a line break ({value!r}); use one line.")
        if _reads_back_as_other(value):
            raise ValueError(
                f"{what} is the string {value!r}, which the results store would read back as a "
                "number, a bool or None; pass the number itself, or a non-numeric label."
            )
        return str(value)
    raise ValueError(
        f"{what} must be a scalar (int, float, bool, str or None); got {type(value).__name__}. "
        "Reduce arrays to scalars (e.g. a mean or a max), or save them to a file and return "
        "its path."
    )


def _canonical_params(params, where: str) -> dict:
    if not isinstance(params, Mapping):
        raise ValueError(
            f"{where} must be a dict of parameter name -> scalar; got {type(params).__name__}."
        )
    out = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: parameter names must be non-empty strings; got {name!r}.")
        if name in _RESERVED:
            raise ValueError(
                f"{where}: parameter name {name!r} is reserved by the results store "
                f"({', '.join(sorted(_RESERVED))}); rename it."
            )
        out[name] = _scalar(value, f"{where}: parameter {name!r}")
    return out


def point_key(params: Mapping) -> str:
    """Stable key of one grid point: the first 16 hex digits of the sha256 of its canonical JSON.

    Canonical JSON: keys sorted, no spaces, values as Python scalars (NumPy scalars converted).
    The key depends on the parameter names, values and types only (``k=2`` and ``k=2.0`` are
    different points), never on the order of the keys, the process or the machine.
    """
    canon = _canonical_params(params, "params")
    text = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:_KEY_HEX]


def expand_grid(grid) -> list[dict]:
    """The grid points, in a deterministic order.

    ``grid`` is either a dict of lists (the cartesian product, the first key varying slowest,
    as in nested loops written in the dict's order), or a list of dicts (the points as given).
    Every value is a scalar (int, float, bool, str or None); duplicate points are refused.
    """
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid is an empty dict; give at least one parameter with its values.")
        names = list(grid)
        axes = []
        for name in names:
            values = grid[name]
            if isinstance(values, str | bytes) or not isinstance(values, Iterable):
                raise ValueError(
                    f"grid[{name!r}] must be a list of values; got {type(values).__name__}. "
                    f"Write grid[{name!r}] = [{values!r}] for a single value."
                )
            values = list(values)
            if not values:
                raise ValueError(f"grid[{name!r}] is empty; give at least one value.")
            axes.append(values)
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    elif isinstance(grid, Sequence) and not isinstance(grid, str | bytes):
        points = list(grid)
        if not points:
            raise ValueError("grid is an empty list; give at least one point (a dict).")
    else:
        raise ValueError(
            f"grid must be a dict of lists or a list of dicts; got {type(grid).__name__}."
        )
    canon = [_canonical_params(p, f"grid point {i}") for i, p in enumerate(points)]
    seen: dict[str, int] = {}
    for i, p in enumerate(canon):
        key = point_key(p)
        if key in seen:
            raise ValueError(
                f"grid points {seen[key]} and {i} are the same point {p}; remove the duplicate."
            )
        seen[key] = i
    return canon


# --------------------------------------------------------------------------------------------
# Results store (CSV, append-only log)
# --------------------------------------------------------------------------------------------


def store_path(store) -> Path:
    """Path of a results store: a bare name ``"gap"`` -> ``results/gap.csv``; a ``.csv`` path as
    given (relative to the working directory)."""
    if not isinstance(store, str | os.PathLike):
        raise ValueError(
            f"store must be a name (e.g. 'gap_vs_k') or a path ending in .csv; got "
            f"{type(store).__name__}."
        )
    path = Path(store)
    if str(store) == "" or path.name in ("", ".", ".."):
        raise ValueError("store must be a non-empty name or a path ending in .csv.")
    if path.suffix == "":
        if path.parent != Path("."):
            raise ValueError(
                f"store {str(store)!r} is a path without the .csv suffix; write "
                f"{str(store)!r} + '.csv', or a bare name for results/<name>.csv."
            )
        return Path(RESULTS_DIR) / f"{path.name}.csv"
    if path.suffix != ".csv":
        raise ValueError(
            f"store {str(store)!r} must end in .csv (the store is a CSV file); got suffix "
            f"{path.suffix!r}."
        )
    return path


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _parse(text: str):
    if text == "":
        return None
    if text == "True":
        return True
    if text == "False":
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _read_raw(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows (strings) of a store; a last line cut by a kill (no newline) is dropped."""
    if not path.exists():
        return [], []
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    if not text:
        return [], []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if "key" not in header or "status" not in header:
        raise ValueError(
            f"{path} is not an smfq results store (its header has no 'key' and 'status' "
            "columns); give another store name."
        )
    rows = []
    for cells in reader:
        if len(cells) != len(header):
            raise ValueError(
                f"{path}: a row has {len(cells)} cells for {len(header)} columns; the file was "
                "edited by hand or is not an smfq store. Fix or move it."
            )
        rows.append(dict(zip(header, cells, strict=True)))
    return header, rows


def _latest(rows: list[dict]) -> dict[str, dict]:
    """Latest row of each key (the store is a log: a retried point appends a new row)."""
    latest: dict[str, dict] = {}
    for row in rows:
        latest.pop(row["key"], None)  # keep the order of the latest occurrence
        latest[row["key"]] = row
    return latest


def _order_columns(columns: Iterable[str]) -> list[str]:
    middle = [c for c in dict.fromkeys(columns) if c not in _RESERVED]
    return list(_META_HEAD) + middle + list(_META_TAIL)


def _line(header: list[str], row: Mapping[str, str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([row.get(c, "") for c in header])
    return buf.getvalue()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


class _Store:
    """Append-only writer of one store, holding an exclusive lock for the sweep's duration."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(path.with_name(path.name + ".lock"), "a")
        try:
            import fcntl

            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - no flock on Windows: no lock
            pass
        except OSError:
            self._lock.close()
            raise RuntimeError(
                f"another process is running a sweep on {path}; wait for it to finish or use "
                "another store."
            ) from None
        self.header, rows = _read_raw(path)
        self.latest = _latest(rows)
        if path.exists() and path.stat().st_size and not _ends_with_newline(path):
            # drop a line cut by a kill, so that the next append starts on a fresh line
            if self.header:
                self._rewrite(self.header, rows)
            else:  # only a cut header: nothing stored yet
                path.unlink()
        self._fh = None

    def _rewrite(self, header: list[str], rows: list[dict]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(_line(header, {c: c for c in header}))
            for row in rows:
                fh.write(_line(header, row))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # make the rename durable (POSIX)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self.header = header

    def append(self, row: dict) -> None:
        """Write one row (values already formatted as strings), flushed and fsynced."""
        if set(row) - set(self.header):
            # new columns (first row, new parameters or outputs): rewrite with the wider header
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            _, rows = _read_raw(self.path)
            self._rewrite(_order_columns([*self.header, *row]), rows)
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8", newline="")
        self._fh.write(_line(self.header, row))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.latest.pop(row["key"], None)
        self.latest[row["key"]] = row

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._lock.close()  # releases the flock


def load_results(store, *, grid=None, include_failed: bool = False) -> list[dict]:
    """Rows of a results store, one per grid point (its latest row), values typed.

    Parameters and outputs come back as the scalars the task saw and returned (ints as ints,
    floats bit for bit, bools, strings, ``None`` for an empty cell). With ``grid`` (as for
    :func:`run_sweep`), only that grid's points, in its order (points not stored yet are left
    out); without, every point in the order the store last wrote them. Failed points are left
    out unless ``include_failed``.
    """
    path = store_path(store)
    if not path.exists():
        raise ValueError(f"store {path} does not exist; run the sweep first (run_sweep).")
    _, rows = _read_raw(path)
    latest = _latest(rows)
    if grid is not None:
        keys = [point_key(p) for p in expand_grid(grid)]
        selected = [latest[k] for k in keys if k in latest]
    else:
        selected = list(latest.values())
    out = []
    for row in selected:
        if row["status"] != "ok" and not include_failed:
            continue
        out.append({c: _parse(v) for c, v in row.items()})
    return out


def results_columns(store_or_rows, *, grid=None, include_failed: bool = False) -> dict:
    """Columns of a store (or of rows from :func:`load_results`) as NumPy arrays, for plotting.

    int64 for integer columns, float64 for numbers (a missing value is NaN), bool for bools,
    object arrays otherwise (strings, or bools with gaps).
    """
    if isinstance(store_or_rows, list):
        rows = store_or_rows
    else:
        rows = load_results(store_or_rows, grid=grid, include_failed=include_failed)
    names = list(dict.fromkeys(c for row in rows for c in row))
    cols = {}
    for name in names:
        values = [row.get(name) for row in rows]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present) and len(present) == len(values):
            cols[name] = np.array(values, dtype=bool)
        elif present and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            cols[name] = np.array(values, dtype=np.int64)
        elif present and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in present
        ):
            cols[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            cols[name] = np.array(values, dtype=object)
    return cols


# --------------------------------------------------------------------------------------------
# Running one point (on a worker or in-process)
# --------------------------------------------------------------------------------------------


def _run_point(task_fn: Callable, params: dict) -> dict:
    """Call ``task_fn(**params)``; return outputs or the error, and the task's wall time.

    Runs on the worker. Exceptions of the task are caught and returned, so that a failing point
    is recorded and the sweep goes on.
    """
    threads = os.environ.get(_WORKER_THREADS_ENV)
    if threads and "numba" in sys.modules:
        # numba may have been imported before the worker's environment was set (the spawned
        # process re-imports the main script): pin its thread count here as well.
        import numba

        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    start = time.perf_counter()
    try:
        outputs = task_fn(**params)
        if not isinstance(outputs, Mapping):
            raise ValueError(
                f"the task must return a dict of output name -> scalar; got "
                f"{type(outputs).__name__}."
            )
        clean = {}
        for name, value in outputs.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"output names must be non-empty strings; got {name!r}.")
            if name in _RESERVED or name in params:
                raise ValueError(
                    f"output name {name!r} is a parameter or a column of the results store "
                    f"({', '.join(sorted(_RESERVED))}); rename it."
                )
            clean[name] = _scalar(value, f"output {name!r}")
    except Exception as exc:  # recorded, reported, retried on the next run
        return {
            "status": "failed",
            "error": _error_text(exc),
            "wall_time": time.perf_counter() - start,
        }
    return {"status": "ok", "outputs": clean, "wall_time": time.perf_counter() - start}


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return " | ".join(text.splitlines())


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------

_default = {"client": None}
_default_lock = threading.Lock()


def local_client(n_workers: int | None = None, *, threads_per_worker: int = 1):
    """A ``distributed.Client`` on a new ``LocalCluster`` set up for smfq sweeps.

    Worker processes (``n_workers``, default: the cores available, ``dask.system.CPU_COUNT``),
    ``threads_per_worker`` threads each, ``NUMBA_NUM_THREADS`` / ``OMP_NUM_THREADS`` /
    ``MKL_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` set to ``threads_per_worker`` in the workers,
    on 127.0.0.1 without a dashboard (no network needed). ``client.close()`` also closes the
    cluster.
    """
    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    if n_workers is None:
        n_workers = max(1, CPU_COUNT // threads_per_worker)
    for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}.")
    threads = str(int(threads_per_worker))
    env = {
        "NUMBA_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        _WORKER_THREADS_ENV: threads,
    }
    cluster = LocalCluster(
        n_workers=int(n_workers),
        threads_per_worker=int(threads_per_worker),
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # the scheduler's small HTTP server (health, metrics) still starts without a dashboard:
        # on a free loopback port, not 8787, so that clusters never collide
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        env=env,
    )
    client = Client(cluster)
    client._smfq_cluster = cluster  # closed with the client (see _close_client)
    return client


def _close_client(client) -> None:
    cluster = getattr(client, "_smfq_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def default_client():
    """The shared client of sweeps run with ``client=None`` and no ``SMFQ_SCHEDULER``: a
    :func:`local_client` sized to the machine, started on first use, closed at exit."""
    with _default_lock:
        client = _default["client"]
        if client is None or client.status in ("closing", "closed"):
            client = local_client()
            _default["client"] = client
        return client


def close_default_client() -> None:
    """Close the shared local cluster of :func:`default_client` (if started)."""
    with _default_lock:
        client, _default["client"] = _default["client"], None
    if client is not None:
        _close_client(client)


atexit.register(close_default_client)


def _check_client_arg(client) -> None:
    from distributed import Client

    if client is None or isinstance(client, str | Client):
        return
    raise ValueError(
        "client must be None (SMFQ_SCHEDULER or a local cluster), 'serial', a scheduler address "
        f"or a distributed.Client; got {type(client).__name__}."
    )


def _resolve_client(client):
    """-> ("serial", None, False) or ("dask", Client, owned)."""
    from distributed import Client

    named_by = "client"
    if client is None:
        address = os.environ.get(SCHEDULER_ENV, "").strip()
        if not address:
            return "dask", default_client(), False
        client, named_by = address, SCHEDULER_ENV
    if isinstance(client, str):
        if client == "serial":
            return "serial", None, False
        try:
            return "dask", Client(client, timeout="30s"), True
        except OSError as exc:
            fix = (
                f"unset {SCHEDULER_ENV} to use a local cluster"
                if named_by == SCHEDULER_ENV
                else "pass client=None for a local cluster or 'serial' to run in this process"
            )
            raise ValueError(
                f"{named_by}={client!r} names a scheduler that cannot be reached ({exc}); "
                f"start it, or {fix}."
            ) from None
    if isinstance(client, Client):
        return "dask", client, False
    raise ValueError(
        "client must be None (SMFQ_SCHEDULER or a local cluster), 'serial', a scheduler address "
        f"or a distributed.Client; got {type(client).__name__}."
    )


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


@dataclass
class SweepSummary:
    """What one :func:`run_sweep` call did.

    ``total`` grid points; ``skipped`` already stored as ok; ``computed`` keys run this time;
    ``failed`` the points whose task raised (dicts with ``key``, ``params``, ``error``);
    ``seconds`` wall time of the call; ``store`` the store's path.
    """

    store: Path
    total: int
    skipped: int
    computed: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True if every grid point is stored as ok."""
        return not self.failed

    def __str__(self) -> str:
        lines = [
            f"sweep -> {os.path.relpath(self.store)}: {self.total} points, "
            f"{self.skipped} already stored, "
            f"{len(self.computed)} computed, {len(self.failed)} failed, {self.seconds:.1f} s"
        ]
        for f in self.failed:
            lines.append(f"  FAILED {f['key']} {f['params']}: {f['error']}")
        if self.failed:
            lines.append("  run the same sweep again to retry only the failed points")
        return "\n".join(lines)


def _task_name(task_fn) -> str:
    module = getattr(task_fn, "__module__", None) or "?"
    name = getattr(task_fn, "__qualname__", None) or getattr(task_fn, "__name__", None)
    return f"{module}:{name or type(task_fn).__name__}"


def run_sweep(task_fn: Callable, grid, *, store, client=None, progress: bool = True):
    """Run ``task_fn(**params)`` for every grid point not yet stored; store each result at once.

    Parameters
    ----------
    task_fn : callable
        ``task_fn(**params) -> dict`` of output name -> scalar (int, float, bool, str, None;
        NumPy scalars accepted). Its numbers must depend only on its parameters (take a ``seed``
        parameter for randomness). On a Dask cluster it is pickled: define it in an importable
        module (or in the notebook; Dask's cloudpickle sends notebook functions by value).
    grid : dict of lists or list of dicts
        The points (:func:`expand_grid`): e.g. ``{"k": [1, 2, 4], "seed": [0, 1]}``.
    store : str or path
        The results store (:func:`store_path`): a bare name is ``results/<name>.csv``. One
        store holds the results of one task function.
    client : None, "serial", str or distributed.Client
        Where to run (see the module docstring). ``None``: ``SMFQ_SCHEDULER`` or the shared
        local cluster.
    progress : bool
        A tqdm bar while results stream in, and the summary printed at the end.

    Returns
    -------
    SweepSummary
        Points skipped (already stored), computed and failed. Failed points are also warned
        about; running the same call again retries only them (and any point not stored).

    Read the results with :func:`load_results` or :func:`results_columns`.
    """
    if not callable(task_fn):
        raise ValueError(
            f"task_fn must be callable (a function of the grid's parameters); got "
            f"{type(task_fn).__name__}."
        )
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False; got {progress!r}.")
    _check_client_arg(client)
    points = expand_grid(grid)
    path = store_path(store)
    task = _task_name(task_fn)

    started = time.perf_counter()
    st = _Store(path)
    try:
        other = {r["task"] for r in st.latest.values() if r.get("task") and r["task"] != task}
        if other:
            raise ValueError(
                f"store {path} holds results of {sorted(other)}, not of {task}; give this sweep "
                "its own store (one store per task function)."
            )
        keys = [point_key(p) for p in points]
        todo = [
            (k, p)
            for k, p in zip(keys, points, strict=True)
            if st.latest.get(k, {}).get("status") != "ok"
        ]
        summary = SweepSummary(store=path, total=len(points), skipped=len(points) - len(todo))
        if todo:
            mode, dask_client, owned = _resolve_client(client)
            try:
                bar = _progress_bar(len(todo), summary.skipped, path, progress)
                try:
                    if mode == "serial":
                        results = ((k, p, _run_point(task_fn, p)) for k, p in todo)
                        _consume(results, st, task, summary, bar)
                    else:
                        _run_dask(dask_client, task_fn, todo, st, task, summary, bar)
                finally:
                    bar.close()
            finally:
                if owned:
                    dask_client.close()
    finally:
        st.close()
    summary.seconds = time.perf_counter() - started
    if progress:
        print(summary)
    if summary.failed:
        warnings.warn(
            f"{len(summary.failed)} of {summary.total} sweep points failed "
            f"({', '.join(str(f['params']) for f in summary.failed[:5])}"
            f"{', ...' if len(summary.failed) > 5 else ''}); see the summary, and run the "
            "sweep again to retry them.",
            RuntimeWarning,
            stacklevel=2,
        )
    return summary


def _progress_bar(total: int, skipped: int, path: Path, progress: bool):
    from tqdm.auto import tqdm

    desc = f"{path.stem} ({skipped} stored)" if skipped else path.stem
    return tqdm(total=total, desc=desc, unit="pt", disable=not progress, smoothing=0.1)


def _record(st: _Store, task: str, key: str, params: dict, result: dict, summary) -> None:
    row = {"key": key, "status": result["status"]}
    row.update({name: _format(v) for name, v in params.items()})
    if result["status"] == "ok":
        row.update({name: _format(v) for name, v in result["outputs"].items()})
    else:
        row["error"] = result["error"]
        summary.failed.append({"key": key, "params": params, "error": result["error"]})
    row.update(
        {
            "wall_time": repr(float(result["wall_time"])),
            "version": __version__,
            "task": task,
            "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
    )
    st.append(row)
    summary.computed.append(key)


def _consume(results, st, task, summary, bar) -> None:
    for key, params, result in results:
        _record(st, task, key, params, result, summary)
        bar.update(1)
        if summary.failed:
            bar.set_postfix(failed=len(summary.failed))


def _run_dask(client, task_fn, todo, st, task, summary, bar) -> None:
    from distributed import as_completed

    futures = {}
    for key, params in todo:
        # pure=False: every submission runs (no reuse of a same-named result on the cluster)
        fut = client.submit(_run_point, task_fn, params, pure=False)
        futures[fut] = (key, params)
    try:

        def finished():
            for fut in as_completed(list(futures)):
                key, params = futures.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # worker lost, cancelled, unpicklable
                    result = {"status": "failed", "error": _error_text(exc), "wall_time": math.nan}
                fut.release()
                yield key, params, result

        _consume(finished(), st, task, summary, bar)
    finally:
        if futures:  # interrupted (KeyboardInterrupt, store error): stop the rest
            client.cancel(list(futures))
