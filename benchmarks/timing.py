"""What every benchmark prints beside its ratios: the best wall time of repeated calls and the
machine load (``uptime``) they ran at. Imported by the ``bench_*.py`` scripts, which run from this
folder (``python benchmarks/bench_x.py`` puts it first on the path)."""

from __future__ import annotations

import os
import time


def best(fn, repeat: int) -> float:
    """The shortest wall time, in seconds, of ``repeat`` calls of ``fn()``."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def load() -> str:
    """The load averages over 1, 5 and 15 minutes, as printed with every table."""
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
