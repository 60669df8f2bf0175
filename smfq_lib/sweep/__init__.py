"""Sweeps of independent tasks, in this process or on Dask, with a resumable results store.

The paper's experiments are grids of independent runs: the optimality gap of ``pi_k^est`` against
the bound of Theorem 0.11 for every ``k``, the Bellman noise ``epsilon_{k,m}`` of Lemma 0.9 for
every ``m``, each over seeds and problem sizes. :func:`run_sweep` runs one task per grid point and
stores each result the moment it arrives, so the same notebook code runs on a laptop, a shared
server or a cluster, and an interrupted sweep resumes where it stopped.

Where the tasks run (``client=``)
    * ``None`` (default): the scheduler named by the environment variable ``SMFQ_SCHEDULER``
      (an address such as ``tcp://10.0.0.5:8786``, or ``serial``) if set; else chosen by the
      size of the work. If this process's shared local cluster is already running, there.
      Otherwise the points run in this process, in grid order, timed. From the second point on,
      with ``t`` the median time of a point (the first point left out: it carries the process's
      one-off costs, imports and compiled kernels) and ``L`` points left, ``W`` cores would save
      ``(L - ceil(L / W)) * t`` seconds; the rest moves to the shared local cluster as soon as
      that exceeds the cluster's start-up cost (``CLUSTER_START_SECONDS`` = 10 s, measured on 2
      cores: about 20 s of work left on 2 cores). So a short sweep never pays the 8-11 s start
      of a cluster, a long one pays it once, and a machine with one core never starts one
      (:func:`smfq_lib.sweep.clients.cluster_pays_off`). The shared cluster
      (:func:`default_client`: a :func:`local_client` with one worker process per core, one
      thread each, ``NUMBA_NUM_THREADS`` and ``OMP_NUM_THREADS`` set to 1 in the workers, on
      127.0.0.1 without a dashboard) stays warm for later sweeps until
      :func:`close_default_client` or the end of the process.
    * ``"serial"``: in this process, one point after the other, in grid order.
    * a ``distributed.Client`` or a scheduler address string: every point on that cluster.

    A local cluster's worker processes import the main script again: a script that may start
    one (``client=None``, :func:`local_client`) must run its sweeps under
    ``if __name__ == "__main__":`` (refused with a ValueError otherwise, before any work) or pass
    ``client="serial"``. Notebooks need no guard.

Results store
    One SQLite database per store: ``results/<name>.sqlite`` relative to the working directory
    for a bare name, or any path ending in ``.sqlite`` (symlinks resolved: one file, one store).
    Table ``points`` has one row per grid point: ``key`` (:func:`point_key`, a hash of the
    parameters), ``status`` (``ok`` or ``failed``), a column per parameter and per output, then
    ``error`` (``"ExceptionType: message"`` of a failed point), ``attempts``, ``wall_time``
    (seconds of the task where it ran), ``version`` (``smfq_lib.__version__``), ``task``
    (``module:qualname`` of the task function) and ``finished_at`` (UTC). Values keep their
    type exactly (64-bit ints, floats bit for bit, bools, str, None). Each finished point is
    committed in its own transaction (WAL journal), so a killed sweep loses only the points in
    flight (a power cut, at most the last few points committed); several sweeps may write one
    store at once (SQLite's locking; each point is stored once, an ``ok`` row is never
    overwritten). :func:`load_results` reads a store as a pandas DataFrame; any SQLite client
    can read it too (``sqlite3 results/x.sqlite "select * from points"``).

Resuming and failures
    A point already stored ``ok`` is never run again. A task that raises is recorded as
    ``failed`` with its error and the sweep goes on; the returned :class:`SweepSummary` (printed
    with ``progress=True``, and a warning) names the failed points; running the same sweep
    again computes only the missing and failed points. The store is keyed by a task's
    parameters, not by the library's code: clear it after changing the library.

Determinism
    A task receives its parameters and nothing else (no worker id, no shared generator): its
    numbers depend only on them, whichever process runs it, however many workers or threads
    there are, and in whatever order tasks finish. Randomness must come from a ``seed``
    parameter.
"""

from smfq_lib.sweep.clients import (
    CLUSTER_START_SECONDS,
    SCHEDULER_ENV,
    close_client,
    close_default_client,
    default_client,
    local_client,
)
from smfq_lib.sweep.grid import expand_grid, point_key
from smfq_lib.sweep.run import SweepSummary, run_sweep
from smfq_lib.sweep.store import RESULTS_DIR, load_results, store_path

__all__ = [
    "CLUSTER_START_SECONDS",
    "RESULTS_DIR",
    "SCHEDULER_ENV",
    "SweepSummary",
    "close_client",
    "close_default_client",
    "default_client",
    "expand_grid",
    "load_results",
    "local_client",
    "point_key",
    "run_sweep",
    "store_path",
]
