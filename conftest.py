"""Test-session set-up shared by the unit tests and the nbval notebook run.

A test session writes nothing outside one temporary folder, removed when the session ends:
notebooks executed under nbval (and ``smfq_lib.chapters.reproduce`` runs started by tests) write
their figures to ``<tmp>/figures`` (``SMFQ_FIGURES``, read by
``smfq_lib.chapters.plotting.figures_root``) and their sweep results stores to ``<tmp>/results``
(``SMFQ_RESULTS``, read by ``smfq_lib.chapters.reproduce.results_root``), so a test run neither
touches the committed ``figures/`` nor leaves stores behind that a later ``make reproduce-quick``
would reuse. pytest's own ``tmp_path`` folders live under ``<tmp>/pytest`` and Dask's scratch space
under ``<tmp>/dask``. The variables are set before any kernel starts, so kernels inherit them.
"""

import os
import shutil
import tempfile

_TMP = tempfile.mkdtemp(prefix="smfq-test-")
os.environ["SMFQ_FIGURES"] = os.path.join(_TMP, "figures")
os.environ["SMFQ_RESULTS"] = os.path.join(_TMP, "results")
os.environ["DASK_TEMPORARY_DIRECTORY"] = os.path.join(_TMP, "dask")  # LocalCluster scratch


def pytest_configure(config):
    if not config.option.basetemp:
        config.option.basetemp = os.path.join(_TMP, "pytest")


def pytest_unconfigure(config):
    shutil.rmtree(_TMP, ignore_errors=True)
