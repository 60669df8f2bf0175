"""The parallel loop over rollouts of Algorithm 3 (and over the count-chain rows of
:mod:`smfq_lib.evaluate`, eq. 13): chunks of indices on Python threads running ``nogil`` kernels.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed

import numba
import numpy as np

__all__ = ["run_chunks"]


def run_chunks(call, total: int, progress: bool = False, what: str = "", min_chunks: int = 1):
    """Run ``call(lo, hi)`` over index chunks of ``range(total)`` on ``numba.get_num_threads()``
    Python threads (the kernels are ``nogil``, so the threads run in parallel).

    This is the parallel loop over rollouts (and over count-chain rows in
    :mod:`smfq_lib.evaluate`); it is used instead of ``prange`` because ``parallel=True`` cost
    several seconds of extra compilation per kernel here, for the same speed. With ``progress``
    a tqdm bar advances per finished chunk. Results must not depend on the chunking (each
    rollout seeds its own stream).
    """
    threads = max(1, min(numba.get_num_threads(), total))
    n_chunks = min(total, max(min_chunks, 4 * threads if threads > 1 else 1, 20 if progress else 1))
    edges = np.linspace(0, total, n_chunks + 1).astype(np.int64)
    chunks = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=what, unit="rollout")
        except ImportError:  # pragma: no cover
            bar = None
    try:
        if threads == 1:
            for a, b in chunks:
                call(a, b)
                if bar is not None:
                    bar.update(b - a)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = {pool.submit(call, a, b): b - a for a, b in chunks}
                for fut in as_completed(futures):
                    fut.result()
                    if bar is not None:
                        bar.update(futures[fut])
    finally:
        if bar is not None:
            bar.close()
