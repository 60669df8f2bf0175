"""What exists for the notebooks (the chapters), not for the algorithms: no module outside this
package imports from it (``tests/test_layout.py``).

* :mod:`~.settings`: the knobs of a chapter's ``parameters`` cell, resolved per profile;
* :mod:`~.reproduce`: running every chapter with papermill (``python -m smfq_lib.reproduce``),
  the chapters' results stores;
* :mod:`~.experiments`: the sweep tasks and drivers of chapters 6 and 7 (importable by Dask
  workers); :mod:`~.linear_experiments`: chapter 10's runs and Theorem 0.15's terms;
  :mod:`~.logarithmic`: chapter 12's driver (``k = O(log n)`` against mean-field VI);
* :mod:`~.plotting`: one figure style, ``save_figure`` (PNG + CSV), one function per kind of
  figure.
* :mod:`~.compiling`: ``compiling_notice()``, a line saying the Numba kernels are being compiled
  when their cache is cold (a chapter's first learning cell);
* ``fmt``, ``fmt_all`` (from :mod:`smfq_lib._utils.rounding`): what a check cell prints, robust to
  round-off (docs/design.md §2).
"""

from smfq_lib._utils.rounding import fmt, fmt_all
from smfq_lib.chapters.compiling import compiling_notice

__all__ = ["compiling_notice", "fmt", "fmt_all"]
