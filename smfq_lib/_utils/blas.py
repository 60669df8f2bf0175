"""One BLAS thread inside the library's linear algebra (docs/design.md §2, determinism).

OpenBLAS splits a product or a factorisation over its threads in a way that changes the last
bits of the result with the thread count (``OPENBLAS_NUM_THREADS``), and on small dense solves two
threads on shared cores cost far more than they save. Every linear solve and least-squares fit of
the library (policy evaluation in :mod:`smfq_lib.learning.solvers`, the count-chain solve of
:mod:`smfq_lib.evaluate`, the linear learner's fit) runs under :func:`one_blas_thread`, so its
bits do not depend on the BLAS thread count, nor on whether it runs in a notebook or a Dask
worker. They still depend on the BLAS kernel the processor selects (``OPENBLAS_CORETYPE``):
across kernels exact values agree to round-off (about 1e-13 relative), not bit for bit, which is
why printed outputs go through :mod:`smfq_lib._utils.rounding`. The caller's own BLAS setting is
restored on exit. A call made inside another (policy evaluation inside ``optimal_value_table``)
runs under the outer limit without setting it again (the limit costs tens of microseconds).
"""

from __future__ import annotations

import functools
import threading

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]

_controller: ThreadpoolController | None = None
_inside = threading.local()  # .depth: decorated calls open on this thread


def one_blas_thread(fn):
    """Decorator: run ``fn`` with every loaded BLAS library limited to one thread."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        global _controller
        if getattr(_inside, "depth", 0):  # an outer call on this thread holds the limit
            return fn(*args, **kwargs)
        if _controller is None:  # first use: NumPy's and SciPy's BLAS are loaded by then
            _controller = ThreadpoolController()
        with _controller.limit(limits=1, user_api="blas"):
            _inside.depth = 1
            try:
                return fn(*args, **kwargs)
            finally:
                _inside.depth = 0

    return wrapper
