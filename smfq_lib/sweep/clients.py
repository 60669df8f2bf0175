"""Where the tasks of a sweep run: Dask clients, the shared local cluster and the automatic rule.

A ``LocalCluster`` starts its workers with multiprocessing's ``spawn``: each worker process
imports the main script again (as ``__mp_main__``). A script that starts a sweep at its top
level, outside ``if __name__ == "__main__":``, would start it again in every worker:
:func:`check_main_guard` refuses that before any process starts, and
:func:`refuse_in_worker_bootstrap` stops a sweep that runs while a worker imports the script.
"""

from __future__ import annotations

import ast
import atexit
import math
import multiprocessing
import os
import statistics
import sys
import threading

import numpy as np

__all__ = [
    "CLUSTER_START_SECONDS",
    "SCHEDULER_ENV",
    "check_main_guard",
    "close_client",
    "close_default_client",
    "cluster_pays_off",
    "default_client",
    "local_client",
    "placement",
]

SCHEDULER_ENV = "SMFQ_SCHEDULER"
WORKER_THREADS_ENV = "SMFQ_WORKER_NUMBA_THREADS"
CLUSTER_START_SECONDS = 10.0
"""Seconds to start the shared local cluster and load a task on its workers (8-11 s measured on
2 cores: benchmarks/bench_sweep.py prints it)."""

_GUARD_FIX = (
    'put the sweep under `if __name__ == "__main__":` (the worker processes of a local Dask '
    'cluster import the script again, and would run it again), or pass client="serial" to run '
    "it in this process"
)

_default = {"client": None}
_default_lock = threading.Lock()


def workers_available() -> int:
    """Cores this process may use (``dask.system.CPU_COUNT``: affinity and cgroup quotas)."""
    from dask.system import CPU_COUNT

    return CPU_COUNT


def cluster_pays_off(point_seconds: list[float], left: int, workers: int) -> bool:
    """The automatic rule: move the ``left`` remaining points to a new local cluster?

    ``point_seconds`` are the times of the points run in this process so far; the first is left
    out (it carries the process's one-off costs: imports, loading compiled kernels), so nothing
    is decided before two points. With ``t`` the median of the others, ``workers`` cores save
    ``(left - ceil(left / workers)) * t`` seconds; move when that exceeds
    :data:`CLUSTER_START_SECONDS`. Never with one core or fewer than two points left.
    """
    if workers < 2 or left < 2 or len(point_seconds) < 2:
        return False
    saved = (left - math.ceil(left / workers)) * statistics.median(point_seconds[1:])
    return saved > CLUSTER_START_SECONDS


def _is_guard(test: ast.expr, op: type) -> bool:
    """True if ``test`` contains ``__name__ <op> "__main__"`` (either side)."""
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], op):
            sides = {
                ("name", n.id) if isinstance(n, ast.Name) else ("const", n.value)
                for n in (node.left, node.comparators[0])
                if isinstance(n, ast.Name | ast.Constant)
            }
            if sides == {("name", "__name__"), ("const", "__main__")}:
                return True
    return False


def line_is_guarded(source: str, line: int) -> bool:
    """True if ``line`` of a module's ``source`` lies in an ``if __name__ == "__main__":`` block
    (or in the ``else`` of ``if __name__ != "__main__":``)."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.If):
            continue
        for block, op in ((node.body, ast.Eq), (node.orelse, ast.NotEq)):
            if block and _is_guard(node.test, op):
                if block[0].lineno <= line <= (block[-1].end_lineno or block[-1].lineno):
                    return True
    return False


def _main_script():
    """The main module's file if a spawned worker imports it again, else None (see
    ``multiprocessing.spawn.get_preparation_data``: not for ``python -m pkg`` or a REPL)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec_name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if path is None or spec_name == "__main__" or spec_name.endswith(".__main__"):
        return None, None
    return main, path


def check_main_guard() -> None:
    """ValueError if this call comes from the top-level code of the main script, outside
    ``if __name__ == "__main__":`` (a local cluster's workers would run it again)."""
    import dask

    if dask.config.get("distributed.worker.multiprocessing-method", "spawn") == "fork":
        return  # forked workers do not import the script
    main, path = _main_script()
    if main is None:
        return
    frame = sys._getframe(1)
    while frame is not None and not (
        frame.f_code.co_name == "<module>" and frame.f_globals is vars(main)
    ):
        frame = frame.f_back
    if frame is None:
        return  # not called from the script's top level
    try:
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        guarded = line_is_guarded(source, frame.f_lineno)
    except (OSError, SyntaxError, ValueError):
        return  # cannot read the script: refuse_in_worker_bootstrap is the backstop
    if not guarded:
        raise ValueError(
            f"this sweep runs at the top level of the script {path} (line {frame.f_lineno}), "
            f'outside `if __name__ == "__main__":`, and may start a local Dask cluster; '
            f"{_GUARD_FIX}."
        )


def refuse_in_worker_bootstrap() -> None:
    """ValueError if this process is a spawned process still importing the main script."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ValueError(
            f"a sweep was started while a new worker process imports the main script "
            f"({getattr(sys.modules.get('__main__'), '__file__', '?')}); {_GUARD_FIX}."
        )


def local_client(n_workers: int | None = None, *, threads_per_worker: int = 1):
    """A ``distributed.Client`` on a new ``LocalCluster`` set up for smfq sweeps.

    Worker processes (``n_workers``, default: the cores available), ``threads_per_worker``
    threads each, ``NUMBA_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` /
    ``OPENBLAS_NUM_THREADS`` set to ``threads_per_worker`` in the workers, on 127.0.0.1 without a
    dashboard (no network needed). Close it with :func:`close_client` (closes the cluster too).
    Refused (ValueError) from the top level of a script without ``if __name__ == "__main__":``.
    """
    for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if value is None and name == "n_workers":
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}.")
    check_main_guard()
    from distributed import Client, LocalCluster

    if n_workers is None:
        n_workers = max(1, workers_available() // threads_per_worker)
    threads = str(int(threads_per_worker))
    env = {
        "NUMBA_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        WORKER_THREADS_ENV: threads,
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
    client._smfq_cluster = cluster  # closed with the client (see close_client)
    return client


def close_client(client) -> None:
    """Close a client and, if it came from :func:`local_client`, its cluster."""
    cluster = getattr(client, "_smfq_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def running_default_client():
    """The shared local cluster's client if it is running, else None."""
    client = _default["client"]
    if client is None or client.status in ("closing", "closed"):
        return None
    return client


def default_client():
    """The shared local cluster of this process: a :func:`local_client` sized to the machine,
    started on first use, reused by every later sweep, closed at exit."""
    with _default_lock:
        client = running_default_client()
        if client is None:
            client = local_client()
            _default["client"] = client
        return client


def close_default_client() -> None:
    """Close the shared local cluster of :func:`default_client` (if started)."""
    with _default_lock:
        client, _default["client"] = _default["client"], None
    if client is not None:
        close_client(client)


atexit.register(close_default_client)


def check_client_arg(client) -> None:
    """ValueError unless ``client`` is None, a string or a ``distributed.Client``."""
    if client is None or isinstance(client, str):
        return
    distributed = sys.modules.get("distributed")  # a Client means distributed is imported
    if distributed is None or not isinstance(client, distributed.Client):
        raise ValueError(
            "client must be None (SMFQ_SCHEDULER, or chosen by the size of the work), 'serial', "
            f"a scheduler address or a distributed.Client; got {type(client).__name__}."
        )


def placement(client):
    """Where a sweep runs: ``("serial", None, False)``, ``("auto", None, False)`` or
    ``("dask", Client, owned)`` (``owned``: connected here, to be closed by the sweep)."""
    named_by = "client"
    if client is None:
        address = os.environ.get(SCHEDULER_ENV, "").strip()
        if not address:
            return "auto", None, False
        client, named_by = address, SCHEDULER_ENV
    if not isinstance(client, str):
        return "dask", client, False
    if client == "serial":
        return "serial", None, False
    from distributed import Client

    try:
        return "dask", Client(client, timeout="30s"), True
    except OSError as exc:
        fix = (
            f"unset {SCHEDULER_ENV} to choose by the size of the work"
            if named_by == SCHEDULER_ENV
            else "pass client=None to choose by the size of the work, or 'serial'"
        )
        raise ValueError(
            f"{named_by}={client!r} names a scheduler that cannot be reached ({exc}); start it, "
            f"or {fix}."
        ) from None
