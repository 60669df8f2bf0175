"""Private utilities of the algorithms (no paper object of their own): counter-based random
numbers (:mod:`~.rng`), exact binomial draws (:mod:`~.binomial`), the memory guard
(:mod:`~.budget`), the shared argument checks (:mod:`~.checks`), the parallel loop over chunks
of indices on threads (:mod:`~.chunks`), one BLAS thread inside every solve and fit
(:mod:`~.blas`) and outputs robust to round-off (:mod:`~.rounding`, whose ``fmt`` the chapters'
check cells print through, re-exported by :mod:`smfq_lib.chapters`). They import nothing
else from ``smfq_lib``.
"""
