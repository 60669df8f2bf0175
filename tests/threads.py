"""Run scripts in fresh processes with 1 and with 2 threads, Numba's and BLAS's together (both
counts are fixed at start-up, so they cannot be changed inside one test process).

Test modules :func:`register` their scripts when imported; the first call of
:func:`outputs_by_thread_count` runs EVERY registered script in one interpreter per thread count
(two interpreters in all, however many modules check their numbers this way), each script in a
namespace of its own with its output captured, and later calls read the stored outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_SCRIPTS: dict[str, str] = {}
_OUTPUTS: dict[str, dict[str, list[str]]] = {}

_RUNNER = """
import contextlib, io, json, sys
scripts = json.loads(sys.stdin.read())
out = {}
for name, script in scripts.items():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(script, f"<{name}>", "exec"), {"__name__": f"threads_{name}"})
    out[name] = buf.getvalue()
print(json.dumps(out))
"""


def register(name: str, script: str) -> str:
    """Register ``script`` (run by :func:`outputs_by_thread_count` under ``name``); returns
    ``name``."""
    _SCRIPTS[name] = script
    return name


def _run_all() -> None:
    scripts = dict(_SCRIPTS)
    runs = {}
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO)])
        res = subprocess.run(
            [sys.executable, "-c", _RUNNER],
            input=json.dumps(scripts),
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs[threads] = json.loads(res.stdout.strip().splitlines()[-1])
    for name in scripts:
        _OUTPUTS[name] = {threads: runs[threads][name] for threads in runs}


def outputs_by_thread_count(name: str) -> dict[str, list[str]]:
    """``{"1": words, "2": words}``: the whitespace-separated words the script registered as
    ``name`` prints under ``NUMBA_NUM_THREADS=OPENBLAS_NUM_THREADS=1`` and ``=2`` (``tests/`` and
    the repository on the path). The script's first word must be ``numba.get_num_threads()``; it
    is checked here and dropped."""
    if name not in _OUTPUTS:
        _run_all()
    out = {}
    for threads, text in _OUTPUTS[name].items():
        first, *words = text.split()
        assert first == threads, f"the script ran on {first} threads, not {threads}"
        out[threads] = words
    return out


def hexed(point: dict) -> dict:
    """A sweep point's values with every float as its exact ``float.hex()`` (JSON-safe, bits)."""
    return {k: (v.hex() if isinstance(v, float) else v) for k, v in point.items()}


def in_worker_environment(module: str, function: str, params: dict) -> dict:
    """``hexed(function(**params))`` computed in a fresh interpreter with one Numba, OpenMP and
    BLAS thread: a Dask worker's environment (``smfq_lib.sweep``), so a test can compare it bit
    for bit with the same call in the test's own process."""
    code = (
        f"import json\nfrom {module} import {function}\nfrom threads import hexed\n"
        f"print(json.dumps(hexed({function}(**{params!r}))))"
    )
    one = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env = dict(os.environ, **one)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO)])
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600,
        check=True,
    )  # fmt: skip
    return json.loads(res.stdout.strip().splitlines()[-1])
