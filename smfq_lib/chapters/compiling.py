"""Say so when a cell is about to compile the Numba kernels (a cold cache), so that a newcomer's
first run does not sit silent: :func:`compiling_notice`."""

from __future__ import annotations

import importlib
import os
import pkgutil

__all__ = ["cold_kernels", "compiling_notice"]

#: The packages whose kernels :func:`compiling_notice` looks at by default: the learners' (every
#: one of them is called by ``learn``; some helpers elsewhere are cached but rarely called).
KERNEL_PACKAGES = ("smfq_lib.learning",)


def _modules(packages):
    for name in packages:
        package = importlib.import_module(name)
        yield package
        for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
            yield importlib.import_module(f"{name}.{info.name}")


def cold_kernels(packages=KERNEL_PACKAGES) -> list[str]:
    """The cached Numba kernels (``cache=True``) of ``packages`` whose cache index file does not
    exist yet (``<module>.<function>-<line>.pyXY.nbi`` in ``__pycache__``, or under
    ``NUMBA_CACHE_DIR``): they compile on their first call. Empty when the cache is warm."""
    from numba.core.dispatcher import Dispatcher

    cold = []
    for module in _modules(packages):
        for name, obj in vars(module).items():
            if not isinstance(obj, Dispatcher) or obj.__module__ != module.__name__:
                continue
            index = getattr(getattr(obj._cache, "_cache_file", None), "_index_path", None)
            if index is not None and not os.path.exists(index):
                cold.append(f"{module.__name__}.{name}")
    return cold


def compiling_notice(packages=KERNEL_PACKAGES) -> bool:
    """Print ``compiling kernels (first run only) ...`` if any kernel of ``packages`` has no
    cache yet (:func:`cold_kernels`); return whether it printed. Call it at the top of a cell
    whose first learner or executor call would otherwise sit silent while Numba compiles."""
    cold = cold_kernels(packages)
    if cold:
        print(
            f"compiling kernels (first run only): {len(cold)} Numba kernels have no cache yet; "
            "they are compiled once and cached in __pycache__ (this takes a minute or less)",
            flush=True,
        )
    return bool(cold)
