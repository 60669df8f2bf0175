"""Numba's on-disk cache made safe across edits of the package (docs/design.md §2).

Numba keys a cached kernel by its own source file only: a kernel that calls a function of another
module keeps, in its cache, the code of that function as it was compiled, even after the other
module changed (``numba`` docs, "Cache invalidation"). After a ``git pull`` that edits a shared
device function (say the counters of a sample), a stale cache would silently give the old numbers.
:func:`drop_stale_cache` prevents that: it hashes every ``.py`` source of the package that can reach
a kernel (all but :data:`NOT_COMPILED`) with the Numba version, and when the hash differs from the
one stamped beside the cache, deletes the package's cached kernels (``*.nbi``, ``*.nbc`` under
``__pycache__``) before any kernel loads, so they are compiled again from the current sources.
Reading the sources takes about a millisecond; a read-only installation is left as it is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["drop_stale_cache", "sources_hash"]

STAMP = "smfq-kernel-sources.sha256"
#: Top-level folders left out of the hash: they hold no kernel, and no module that holds one
#: imports them (the import directions of tests/test_layout.py), so their code never reaches
#: compiled machine code; editing a chapter's driver then keeps the kernel cache.
NOT_COMPILED = ("chapters", "sweep")


def sources_hash(package: Path, numba_version: str) -> str:
    """sha256 of the Numba version and of every ``.py`` file under ``package`` but the folders
    :data:`NOT_COMPILED` (path and bytes, in sorted path order)."""
    h = hashlib.sha256(numba_version.encode())
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] in NOT_COMPILED:
            continue
        h.update(str(path.relative_to(package)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def drop_stale_cache(package: Path, numba_version: str) -> int:
    """Delete the cached kernels under ``package`` if its sources changed since they were stamped;
    returns how many cache files were deleted (0 when the stamp matches or nothing is writable)."""
    stamp = package / "__pycache__" / STAMP
    digest = sources_hash(package, numba_version)
    try:
        if stamp.read_text() == digest:
            return 0
    except OSError:
        pass  # no stamp yet: a fresh cache, or one written before the stamp existed
    dropped = 0
    try:
        for pattern in ("*.nbi", "*.nbc"):
            for path in package.rglob(f"__pycache__/{pattern}"):
                path.unlink(missing_ok=True)
                dropped += 1
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        return dropped  # read-only installation: Numba then compiles in memory or elsewhere
    return dropped
