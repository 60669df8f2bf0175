"""Memory guard: refuse a table that would not fit, before allocating it.

Every module that allocates a table whose size grows combinatorially (Q tables, stored samples,
count-chain matrices) asks :func:`check_fits` first, so that an impossible request fails at once
with its size in GiB instead of exhausting the machine.
"""

from __future__ import annotations

import math
import numbers

GIB = 1024**3

__all__ = ["GIB", "available_memory", "default_budget", "check_budget", "check_fits", "format_gib"]


def available_memory() -> int:
    """Bytes of memory available to new allocations (``MemAvailable`` of /proc/meminfo)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def default_budget() -> int:
    """Half of the memory available now: the default budget of every allocation guard."""
    return available_memory() // 2


def check_budget(memory_budget) -> int | None:
    """``memory_budget`` as an int number of bytes, or None (the default budget); ``ValueError``
    unless it is None or a positive finite number."""
    if memory_budget is None:
        return None
    ok = isinstance(memory_budget, numbers.Real) and not isinstance(memory_budget, bool)
    if not (ok and math.isfinite(memory_budget) and memory_budget > 0):
        raise ValueError(
            "memory_budget must be None (half the available memory) or a positive finite number "
            f"of bytes; got {memory_budget!r}. Pass e.g. memory_budget=2**30 for 1 GiB."
        )
    return int(memory_budget)


def format_gib(nbytes) -> str:
    """``nbytes`` in GiB for a message, at any size (a float would overflow past 1e308)."""
    if nbytes < 2**1000:
        return f"{nbytes / GIB:.3g}"
    return f"10^{math.log10(nbytes) - math.log10(GIB):.1f}"


def check_fits(what: str, nbytes: int, budget: int | None = None, hint: str = "") -> None:
    """Raise ``ValueError`` if ``nbytes`` exceeds ``budget`` (default: :func:`default_budget`).

    ``what`` names the table, ``hint`` tells the caller how to make it fit (e.g. the largest
    ``k`` that would). ``nbytes`` may be a Python int of any size.
    """
    budget = check_budget(budget)
    if budget is None:
        budget = default_budget()
    if nbytes > budget:
        raise ValueError(
            f"{what} needs {format_gib(nbytes)} GiB, over the memory budget of "
            f"{format_gib(budget)} GiB. {hint}".rstrip()
        )
