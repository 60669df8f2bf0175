"""Run a script in fresh processes with 1 and with 2 threads, Numba's and BLAS's together (both
counts are fixed at start-up, so they cannot be changed inside one test process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def outputs_by_thread_count(script: str) -> dict[str, list[str]]:
    """``{"1": words, "2": words}``: the whitespace-separated words ``script`` prints under
    ``NUMBA_NUM_THREADS=OPENBLAS_NUM_THREADS=1`` and ``=2`` (``tests/`` and the repository on the
    path). The script's first word must be ``numba.get_num_threads()``; it is checked here and
    dropped."""
    out = {}
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO)])
        res = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        first, *words = res.stdout.split()
        assert first == threads, f"the script ran on {first} threads, not {threads}"
        out[threads] = words
    return out
