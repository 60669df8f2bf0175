"""run_sweep: every grid point not yet stored, in this process or on Dask, each stored at once."""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smfq_lib.sweep import clients
from smfq_lib.sweep.grid import check_name, expand_grid, point_key, scalar
from smfq_lib.sweep.store import Store, plan_columns, store_path

__all__ = ["SWEEP_LOG_ENV", "SweepSummary", "run_sweep"]


@dataclass
class SweepSummary:
    """What one :func:`run_sweep` call did.

    ``total`` grid points = ``len(computed)`` (run this time and stored ok) + ``reused`` (found
    ok in the store) + ``len(failed)`` (run this time, the task raised: dicts with ``key``,
    ``params``, ``error``); ``store`` the store's file; ``seconds`` the wall time of the call;
    ``where`` where the computed points ran.
    """

    store: Path
    total: int
    reused: int = 0
    computed: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    where: str = ""

    @property
    def ok(self) -> bool:
        """True if every grid point is stored as ok."""
        return not self.failed

    def __str__(self) -> str:
        shown = min(os.path.relpath(self.store), str(self.store), key=len)
        where = f", {self.where}" if self.where else ""
        lines = [
            f"{self.store.stem}: {self.total} points: {len(self.computed)} computed, "
            f"{self.reused} reused from {shown}, {len(self.failed)} failed "
            f"({self.seconds:.1f} s{where})"
        ]
        lines += [f"  FAILED {f['key']} {f['params']}: {f['error']}" for f in self.failed]
        if self.failed:
            lines.append("  run the same sweep again to retry only the failed points")
        return "\n".join(lines)


def _task_name(task_fn) -> str:
    module = getattr(task_fn, "__module__", None) or "?"
    name = getattr(task_fn, "__qualname__", None) or getattr(task_fn, "__name__", None)
    return f"{module}:{name or type(task_fn).__name__}"


def _error_text(exc: BaseException) -> str:
    return " | ".join(f"{type(exc).__name__}: {exc}".splitlines())


def _run_point(task_fn: Callable, params: dict) -> dict:
    """Call ``task_fn(**params)``; return its outputs or its error, and its wall time.

    Runs where the task runs (a worker, or this process). An exception of the task is caught
    and returned, so that the point is recorded as failed and the sweep goes on.
    """
    threads = os.environ.get(clients.WORKER_THREADS_ENV)
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
        folded = {name.lower() for name in params}
        for name, value in outputs.items():
            check_name(name, "the task's outputs")
            if name.lower() in folded:
                raise ValueError(
                    f"output {name!r} is also a parameter or another output (case is ignored); "
                    "rename it."
                )
            folded.add(name.lower())
            clean[name] = scalar(value, f"output {name!r}")
    except Exception as exc:  # recorded, reported, retried on the next run
        return {
            "status": "failed",
            "error": _error_text(exc),
            "wall_time": time.perf_counter() - start,
        }
    return {"status": "ok", "outputs": clean, "wall_time": time.perf_counter() - start}


class _Sweep:
    """The points of one sweep still to compute, and where their results go."""

    def __init__(self, st: Store, task_fn, summary: SweepSummary, bar):
        self.st, self.task_fn, self.summary, self.bar = st, task_fn, summary, bar
        self.task = _task_name(task_fn)

    def record(self, key: str, params: dict, result: dict) -> None:
        status, error = self.st.record(key, params, result, self.task)
        if status == "kept":  # another sweep on this store stored it first
            self.summary.reused += 1
        elif status == "ok":
            self.summary.computed.append(key)
        else:
            self.summary.failed.append({"key": key, "params": params, "error": error})
            self.bar.set_postfix(failed=len(self.summary.failed))
        self.bar.update(1)

    def in_process(self, todo: list, *, may_move: bool) -> None:
        """Points one after the other in this process; with ``may_move``, the rest go to the
        shared local cluster as soon as :func:`clients.cluster_pays_off` says so."""
        seconds = []
        for i, (key, params) in enumerate(todo):
            if self.st.status(key) == "ok":  # stored meanwhile by another sweep on this store
                self.summary.reused += 1
                self.bar.update(1)
                continue
            result = _run_point(self.task_fn, params)
            self.record(key, params, result)
            seconds.append(result["wall_time"])
            left = todo[i + 1 :]
            if may_move and clients.cluster_pays_off(
                seconds, len(left), clients.workers_available()
            ):
                self.bar.set_description(f"{self.summary.store.stem} (starting a local cluster)")
                client = clients.default_client()
                self.bar.set_description(self.summary.store.stem)
                self.summary.where = f"{i + 1} in-process, then {_dask_label(client)}"
                self.on_dask(client, left)
                return
        self.summary.where = "in-process"

    def on_dask(self, client, todo: list) -> None:
        """Every point submitted at once; results stored in the order they finish."""
        from distributed import as_completed

        futures = {}
        for key, params in todo:
            # pure=False: every submission runs (no reuse of a same-named result on the cluster)
            futures[client.submit(_run_point, self.task_fn, params, pure=False)] = (key, params)
        try:
            for fut in as_completed(list(futures)):
                key, params = futures.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # worker lost, cancelled, unpicklable
                    result = {"status": "failed", "error": _error_text(exc), "wall_time": math.nan}
                fut.release()
                self.record(key, params, result)
        finally:
            if futures:  # interrupted (KeyboardInterrupt, store error): stop the rest
                client.cancel(list(futures))


def _dask_label(client) -> str:
    return f"Dask at {client.scheduler.address}"


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
        The results store (:func:`store_path`): a bare name is ``results/<name>.sqlite``. One
        store holds the results of one task function; several sweeps may write it at once.
    client : None, "serial", str or distributed.Client
        Where to run (see the package docstring). ``None``: ``SMFQ_SCHEDULER`` if set, else
        chosen by the size of the work (in this process, or the shared local cluster).
    progress : bool
        A progress bar (``tqdm.auto``: a widget in Jupyter, text in a terminal) of the points
        done out of the grid's, with an estimate of the time left; the summary printed at the end.

    Returns
    -------
    SweepSummary
        Points computed, reused from the store and failed. Failed points are also warned about;
        running the same call again retries only them (and any point not stored).

    Read the results with :func:`load_results`.
    """
    clients.refuse_in_worker_bootstrap()
    if not callable(task_fn):
        raise ValueError(
            f"task_fn must be callable (a function of the grid's parameters); got "
            f"{type(task_fn).__name__}."
        )
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False; got {progress!r}.")
    clients.check_client_arg(client)
    points = expand_grid(grid)
    _check_parameters({}, points)
    path = store_path(store)
    auto = client is None and not os.environ.get(clients.SCHEDULER_ENV, "").strip()
    if auto:
        clients.check_main_guard()

    started = time.perf_counter()
    with Store(path, create=True) as st:
        st.claim(_task_name(task_fn))
        _check_parameters(st.columns(), points)
        stored = st.statuses()
        todo = [(point_key(p), p) for p in points]
        todo = [(k, p) for k, p in todo if stored.get(k) != "ok"]
        if todo and not st.writable:
            raise st.read_only_error(f"{len(todo)} of the {len(points)} points are not stored yet")
        summary = SweepSummary(store=st.path, total=len(points), reused=len(points) - len(todo))
        if todo:
            _compute(st, task_fn, summary, todo, client, progress)
    summary.seconds = time.perf_counter() - started
    _log_summary(summary)
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


#: Environment variable naming a file to which every :func:`run_sweep` appends its summary, one
#: JSON line (``store``, ``total``, ``computed``, ``reused``, ``failed``, ``seconds``):
#: :mod:`smfq_lib.chapters.reproduce` sets it per notebook and reports the counts in its summary
#: table.
SWEEP_LOG_ENV = "SMFQ_SWEEP_LOG"


def _log_summary(summary: SweepSummary) -> None:
    path = os.environ.get(SWEEP_LOG_ENV, "").strip()
    if not path:
        return
    line = {
        "store": str(summary.store),
        "total": summary.total,
        "computed": len(summary.computed),
        "reused": summary.reused,
        "failed": len(summary.failed),
        "seconds": summary.seconds,
    }
    with open(path, "a") as fh:
        fh.write(json.dumps(line) + "\n")


def _check_parameters(columns: dict, points: list[dict]) -> None:
    """ValueError if the points' parameters do not fit ``columns`` (and each other)."""
    for p in points:
        columns = plan_columns(columns, "parameter", p)


def _compute(st, task_fn, summary, todo, client, progress) -> None:
    from tqdm.auto import tqdm

    mode, dask_client, owned = clients.placement(client)
    bar = tqdm(
        total=summary.total,
        initial=summary.reused,
        desc=summary.store.stem,
        unit="pt",
        disable=not progress,
        smoothing=0.1,
    )
    sweep = _Sweep(st, task_fn, summary, bar)
    try:
        if mode == "dask" or (mode == "auto" and clients.running_default_client()):
            dask_client = dask_client or clients.running_default_client()
            summary.where = _dask_label(dask_client)
            sweep.on_dask(dask_client, todo)
        else:
            sweep.in_process(todo, may_move=mode == "auto")
    finally:
        bar.close()
        if owned:
            dask_client.close()
