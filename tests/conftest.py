"""Fixtures of the sweep tests (tests/test_sweep.py, tests/test_sweep_store.py)."""

from __future__ import annotations

import os

import pytest
import sweep_tasks


@pytest.fixture(scope="module")
def test_dir(tmp_path_factory):
    """$SMFQ_TEST_DIR, set before a cluster's workers start so that they inherit it."""
    folder = tmp_path_factory.mktemp("sweep_calls")
    old = os.environ.get("SMFQ_TEST_DIR")
    os.environ["SMFQ_TEST_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("SMFQ_TEST_DIR", None)
    else:
        os.environ["SMFQ_TEST_DIR"] = old


@pytest.fixture
def calls(test_dir, tmp_path, monkeypatch):
    """Empty call log and no flag files; the working directory is a fresh tmp_path."""
    for name in ("calls.log", "fixed", "go"):
        (test_dir / name).unlink(missing_ok=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMFQ_SCHEDULER", raising=False)
    return sweep_tasks.logged_calls
