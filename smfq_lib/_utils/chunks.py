"""The parallel loop over rollouts of Algorithm 3 (and over the count-chain rows of
:mod:`smfq_lib.evaluate`, eq. 13): chunks of indices on Python threads running ``nogil`` kernels.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait

import numba
import numpy as np

__all__ = ["run_chunks"]


def run_chunks(
    call,
    total: int,
    progress: bool = False,
    what: str = "",
    unit: str = "rollout",
    chunk: int | None = None,
) -> None:
    """Run ``call(lo, hi)`` over chunks ``[lo, hi)`` covering ``range(total)``, on
    ``numba.get_num_threads()`` Python threads (the kernels are ``nogil``, so the threads run in
    parallel).

    This is the parallel loop over rollouts (and over count-chain rows in
    :mod:`smfq_lib.evaluate`); it is used instead of ``prange`` because ``parallel=True`` cost
    several seconds of extra compilation per kernel here, for the same speed. Results must not
    depend on the chunking: each index must be computed from its own inputs (every rollout seeds
    its own stream).

    Parameters
    ----------
    call : callable ``(lo: int, hi: int) -> None``
        Does the work of indices ``lo .. hi-1``; called once per chunk, from several threads at
        once (chunks are disjoint). An exception is re-raised here.
    total : int
        Number of indices (``>= 0``; nothing runs for 0).
    progress : bool
        Show a tqdm bar advancing by each finished chunk's size. Default ``False``.
    what : str
        Label of the bar (e.g. ``"rollout_counts"``). Default ``""``.
    unit : str
        What one index is, for the bar's rate (``"rollout"``, ``"row"``). Default ``"rollout"``.
    chunk : int or None
        ``None`` (default): ``4 x threads`` chunks of equal size (20 or more with ``progress``,
        one without threads). An int ``c >= 1``: the chunks ``[0, c), [c, 2c), ...``, fixed
        whatever the thread count (for callers whose per-chunk work must not depend on it).

    Returns
    -------
    None
        The results are what ``call`` writes (each chunk into its own slice).
    """
    if total <= 0:
        return
    threads = max(1, min(numba.get_num_threads(), total))
    if threads == 1 and chunk is None and not progress:  # one chunk, no bar: just the call
        call(0, total)
        return
    if chunk is None:
        n_chunks = min(total, max(4 * threads if threads > 1 else 1, 20 if progress else 1))
        edges = np.linspace(0, total, n_chunks + 1).astype(np.int64).tolist()
        chunks = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    else:  # lazily: there may be millions
        chunks = ((a, min(a + chunk, total)) for a in range(0, total, chunk))
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=what, unit=unit)
        except ImportError:  # pragma: no cover
            bar = None

    def finished(size):
        if bar is not None:
            bar.update(size)

    try:
        if threads == 1:
            for a, b in chunks:
                call(a, b)
                finished(b - a)
        else:  # at most 2 chunks per thread in flight
            with ThreadPoolExecutor(max_workers=threads) as pool:
                pending = {}
                for a, b in chunks:
                    if len(pending) >= 2 * threads:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            fut.result()
                            finished(pending.pop(fut))
                    pending[pool.submit(call, a, b)] = b - a
                for fut in as_completed(pending):
                    fut.result()
                    finished(pending[fut])
    finally:
        if bar is not None:
            bar.close()
