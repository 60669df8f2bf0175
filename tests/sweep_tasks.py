"""Small sweep tasks for tests/test_sweep.py, in an importable module so that Dask worker
processes can unpickle them by reference.

If the environment variable ``SMFQ_TEST_DIR`` names a directory (set before the workers start),
every call appends one line (its parameters as JSON) to ``calls.log`` there, so that a test can
tell which points were computed; ``flaky_task`` fails at ``x == 3`` until a file ``fixed``
exists there; ``slow_task`` holds points ``i >= 6`` until a file ``go`` exists there.
"""

from __future__ import annotations

import json
import os
import struct
import time

import numpy as np
from numba import njit


def _log_call(**params) -> None:
    folder = os.environ.get("SMFQ_TEST_DIR")
    if folder:
        line = json.dumps(params, sort_keys=True) + "\n"
        fd = os.open(os.path.join(folder, "calls.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def logged_calls() -> list[dict]:
    """The parameters of every logged call so far (see the module docstring)."""
    path = os.path.join(os.environ["SMFQ_TEST_DIR"], "calls.log")
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


@njit(cache=True)
def _random_walk_stats(steps):
    """Running max and final value of a walk with the given steps (sequential, one thread)."""
    x = 0.0
    best = -np.inf
    for i in range(steps.shape[0]):
        x = 0.9 * x + steps[i]
        if x > best:
            best = x
    return x, best


def mc_task(k, m, seed):
    """A small Monte Carlo estimate whose numbers depend on (k, m, seed) only."""
    _log_call(k=k, m=m, seed=seed)
    rng = np.random.default_rng([seed, k, m])
    samples = rng.standard_normal((m, k))
    final, best = _random_walk_stats(samples.ravel())
    return {
        "mean": float(samples.mean()),
        "std": float(samples.std()),
        "final": final,
        "best": best,
        "n_pos": int((samples > 0).sum()),
        "big": bool(best > 2.0),
        "label": f"k{k}-m{m}",
    }


def flaky_task(x, seed):
    """Fails at x == 3 (until the ``fixed`` flag file exists); otherwise a seeded draw."""
    _log_call(x=x, seed=seed)
    folder = os.environ.get("SMFQ_TEST_DIR", "")
    if x == 3 and not os.path.exists(os.path.join(folder, "fixed")):
        raise RuntimeError(f"deliberate failure at x={x}")
    return {"y": float(np.random.default_rng(seed).random() + x)}


def slow_task(i, seed):
    """A seeded draw; points i >= 6 wait until the flag file ``go`` exists (at most 300 s),
    so that a sweep killed after six stored points has exactly points 0-5 stored."""
    _log_call(i=i, seed=seed)
    folder = os.environ.get("SMFQ_TEST_DIR", "")
    deadline = time.monotonic() + 300
    while i >= 6 and not os.path.exists(os.path.join(folder, "go")):
        if time.monotonic() > deadline:
            raise TimeoutError("slow_task waited 300 s for the 'go' flag")
        time.sleep(0.02)
    return {"u": float(np.random.default_rng([seed, i]).random())}


def array_task(x):
    """Returns an array output, which the results store refuses."""
    _log_call(x=x)
    return {"v": np.arange(3.0) * x}


def threads_task(i):
    """The thread counts a task sees: Numba's and the OpenMP variable (0 if unset)."""
    import numba

    return {
        "numba_threads": numba.get_num_threads(),
        "omp": int(os.environ.get("OMP_NUM_THREADS", 0)),
    }


def where_task(i):
    """The address of the Dask worker running the task, or 'in-process'."""
    try:
        from distributed import get_worker

        address = get_worker().address
    except ValueError:
        address = "in-process"
    return {"where": address}


SPECIAL_FLOATS = [
    -0.0,
    5e-324,
    0.1 + 0.2,
    1.7976931348623157e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_DEAD_BEEF))[0],  # a NaN with a payload
]
SPECIAL_TEXTS = ["1", "True", "", "nan", "None", 'two\nlines, a "quote"', "nul\x00byte", "σ→∞"]


def values_task(i, m):
    """Values the store must keep exactly: the i-th special float and text, int64 extremes,
    a bool, and None (for even i)."""
    return {
        "x": SPECIAL_FLOATS[i],
        "text": SPECIAL_TEXTS[i],
        "big": 2**63 - 1 if i % 2 else -(2**63),
        "flag": i % 3 == 0,
        "maybe": i if i % 2 else None,
        "np_float": np.float32(0.1) * i,
    }


def kinds_task(x):
    """An output that is a bool at x = 0 and an int elsewhere (the store refuses the mix)."""
    return {"v": True if x == 0 else x}


def wide_task(n):
    """``n`` outputs ``o0 .. o{n-1}`` (the store holds at most 2000 columns)."""
    return {f"o{i}": i for i in range(n)}
