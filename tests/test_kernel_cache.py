"""The kernel cache is dropped when any source of the package changes (``_utils/kernel_cache``):
Numba alone would keep a kernel compiled against the old version of a function it calls from
another file."""

from __future__ import annotations

import numba

import smfq_lib
from smfq_lib._utils.kernel_cache import STAMP, drop_stale_cache, sources_hash


def _package(root):
    pkg = root / "pkg"
    (pkg / "sub" / "__pycache__").mkdir(parents=True)
    (pkg / "a.py").write_text("def base(j, t):\n    return j * (t + 1)\n")
    (pkg / "sub" / "b.py").write_text("from pkg.a import base\n")
    return pkg


def _cache_files(pkg):
    files = [pkg / "sub" / "__pycache__" / "b.kernel-1.py312.nbi",
             pkg / "sub" / "__pycache__" / "b.kernel-1.py312.1.nbc"]  # fmt: skip
    for f in files:
        f.write_bytes(b"compiled")
    return files


def test_cache_kept_while_sources_unchanged_and_dropped_when_one_changes(tmp_path):
    pkg = _package(tmp_path)
    files = _cache_files(pkg)
    assert drop_stale_cache(pkg, "0.68.1") == 2  # no stamp yet: the cache's origin is unknown
    assert not any(f.exists() for f in files)
    files = _cache_files(pkg)
    assert drop_stale_cache(pkg, "0.68.1") == 0 and all(f.exists() for f in files)
    (pkg / "a.py").write_text("def base(j, t):\n    return j * (t + 2)\n")  # another file
    assert drop_stale_cache(pkg, "0.68.1") == 2 and not any(f.exists() for f in files)
    files = _cache_files(pkg)
    (pkg / "chapters").mkdir()
    (pkg / "chapters" / "driver.py").write_text("x = 1\n")  # never compiled: the cache stays
    assert drop_stale_cache(pkg, "0.68.1") == 0 and all(f.exists() for f in files)
    assert drop_stale_cache(pkg, "0.69.0") == 2, "another Numba version"
    (pkg / "sub" / "new.py").write_text("")
    assert sources_hash(pkg, "0.69.0") != (pkg / "__pycache__" / STAMP).read_text()


def test_read_only_package_is_left_alone(tmp_path):
    pkg = _package(tmp_path)
    files = _cache_files(pkg)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__").chmod(0o500)
    for f in files:
        f.parent.chmod(0o500)
    try:
        drop_stale_cache(pkg, "0.68.1")  # no exception
    finally:
        (pkg / "__pycache__").chmod(0o700)
        for f in files:
            f.parent.chmod(0o700)


def test_the_installed_package_is_stamped_with_its_current_sources():
    from pathlib import Path

    pkg = Path(smfq_lib.__file__).resolve().parent
    assert (pkg / "__pycache__" / STAMP).read_text() == sources_hash(pkg, numba.__version__)
