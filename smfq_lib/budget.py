"""Memory guard: refuse a table that would not fit, before allocating it.

Every module that allocates a table whose size grows combinatorially (Q tables, stored samples,
count-chain matrices) asks :func:`check_fits` first, so that an impossible request fails at once
with its size in GiB instead of exhausting the machine.
"""

from __future__ import annotations

GIB = 1024**3

__all__ = ["GIB", "available_memory", "default_budget", "check_fits"]


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


def check_fits(what: str, nbytes: int, budget: int | None = None, hint: str = "") -> None:
    """Raise ``ValueError`` if ``nbytes`` exceeds ``budget`` (default: :func:`default_budget`).

    ``what`` names the table, ``hint`` tells the caller how to make it fit (e.g. the largest
    ``k`` that would).
    """
    if budget is None:
        budget = default_budget()
    if budget <= 0:
        raise ValueError(f"memory_budget must be a positive number of bytes; got {budget}.")
    if nbytes > budget:
        raise ValueError(
            f"{what} needs {nbytes / GIB:.3g} GiB, over the memory budget of "
            f"{budget / GIB:.3g} GiB. {hint}".rstrip()
        )
