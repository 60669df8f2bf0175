"""Memory safety of the Numba kernels: a representative part of the suite, run again with every
array access bounds-checked (``NUMBA_BOUNDSCHECK=1``).

Numba does not check indices by default, so a kernel that computes an index out of range reads
or writes memory it does not own (issue 22: ``learn_linear(..., alpha=1e308)`` crashed the
process). The package's rule is that every input that passes validation gives in-bounds indices;
this test runs the learners', the linear model's and the executors' tests on small systems in a
subprocess where a stray index raises ``IndexError`` instead. The subprocess compiles into its own
cache folder (``NUMBA_CACHE_DIR``), so bounds-checked machine code never lands in the shared
``__pycache__``. It costs about a minute, almost all of it compilation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The learners (both algorithms, sampled, from a system and from a generative oracle; the online
#: learner), V* on the count MDP, the linear model (learner, design urn, greedy step, executor)
#: and both executors. Left out: thread-count tests (they start processes of their own, and
#: thread counts do not change an index) and the online learner's long convergence runs (the
#: same kernel and inputs as its short tests, millions of steps).
SUBSET = [
    "tests/test_learn_sampled.py",
    "tests/test_oracle.py",
    "tests/test_count_mdp.py",
    "tests/test_online.py",
    "tests/test_linear.py",
    "tests/test_linear_execute.py",
    "tests/test_execute.py",
]


def test_kernels_stay_in_bounds_under_numba_boundscheck(tmp_path):
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-k",
        "not thread and not converges",
    ]
    res = subprocess.run(
        [*cmd, *SUBSET], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " passed" in res.stdout and "failed" not in res.stdout
