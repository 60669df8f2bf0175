"""Private utilities of the algorithms (no paper object of their own): counter-based random
numbers (:mod:`~.rng`), exact binomial draws (:mod:`~.binomial`), the memory guard
(:mod:`~.budget`), the shared argument checks (:mod:`~.checks`) and the parallel loop over chunks
of indices on threads (:mod:`~.chunks`). They import nothing else from ``smfq_lib``.
"""
