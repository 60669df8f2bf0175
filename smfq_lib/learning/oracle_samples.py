"""The empirical operators' fixed samples (eq. 8, 9) drawn through a generative oracle.

The paper's learners need only an oracle for ``s'_g ~ P_g(.|s_g, a_g)`` and ``s'_i ~ P_l(.|s_i,
s_g, a_i)`` (:class:`~smfq_lib.model.oracle.GenerativeOracle`). For a block of rows of ``Q`` this
module builds the query arrays of every (entry, sample) -- one global query ``(s_g, a_g)`` and
``k`` local queries ``(s_i, s_g, a_i)``, agent-major within a sample, samples within an entry,
entries in flat order (the operator's ``_queries``) --, calls ``sample_global`` once and
``sample_local`` once, maps the next states to value-table indices (the operator's
``_next_index``: the formulas of the built-in kernels) and hands them to
:func:`~.sampled.draw_samples`, which compresses and stores them exactly as for the built-in
kernels. Only where the next states come from differs.

The samplers' third argument:

* uniforms mode: the uniforms of the built-in kernels, same keys and counters
  (:func:`~.sampled.entry_queries`), so an inverse-CDF sampler on ``P_g``, ``P_l``
  (``GenerativeOracle.from_system``) gives the built-in samples bit for bit;
* Generator mode: ``numpy.random.Generator(Philox(SeedSequence([seed, ORACLE_TAG, algorithm,
  block])))``, one per block (blocks depend on ``k``, ``m`` and the sizes only), used for the
  global call, then the local call.

Blocks hold about ``ORACLE_DRAWS`` local draws (so a call's Python overhead is negligible and its
arrays stay small) and are drawn in order on the calling thread, or, for an oracle declared
``thread_safe`` (``from_system``'s), on ``numba.get_num_threads()`` threads; the samples do not
depend on the thread count either way.
"""

from __future__ import annotations

import numba
import numpy as np

from smfq_lib.learning.sampled import draw_samples, entry_queries

__all__ = ["ORACLE_DRAWS", "ORACLE_TAG", "block_bytes", "block_generator", "oracle_samples"]

#: Local draws per block (per call of ``sample_local``), about: large enough that a call's Python
#: overhead is negligible, small enough that the block's arrays stay in cache (measured: 2^16
#: learned 2.6x faster than 2^19, mean-field k = 16, m = 50 on random_system(2, 2, 2, 2)).
ORACLE_DRAWS = 1 << 16
#: Second word of the seed of the Generator-mode streams (apart from the other streams).
ORACLE_TAG = 0x0_0AC1E
_ALG_CODE = {"tabular": 1, "mean_field": 2}
#: Bytes per local draw of a block: three int64 query arrays and the uniforms (the global ones
#: are ``k`` times fewer), the answer, and room for a NumPy sampler's temporaries (an
#: inverse CDF: a row index, a gathered column, a comparison, a count).
_BYTES_PER_DRAW = 96


def block_bytes(oracle, k: int, m: int) -> int:
    """Upper bound on the bytes of the oracle blocks in flight (one, or one per thread for a
    ``thread_safe`` oracle); :func:`~.learner.table_bytes` adds it."""
    blocks = numba.get_num_threads() if oracle.thread_safe else 1
    return blocks * _BYTES_PER_DRAW * max(ORACLE_DRAWS, m * (k + 1))


def block_generator(seed: int, algorithm: str, block: int) -> np.random.Generator:
    """The Generator passed to the samplers for block ``block`` of ``learn(..., seed=seed)``."""
    ss = np.random.SeedSequence([int(seed), ORACLE_TAG, _ALG_CODE[algorithm], int(block)])
    return np.random.Generator(np.random.Philox(ss))


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


def oracle_samples(op, algorithm: str, n_rows: int, per_row: int, stride: int):
    """The fixed samples of operator ``op`` (``op.system`` a ``GenerativeOracle``) and the oracle
    calls they took, ``{"global": int, "local": int}``: the total lengths of the arrays passed
    to ``sample_global`` and ``sample_local`` (``E m`` and ``E m k`` over the ``E`` entries the
    blocks drew).

    ``n_rows``, ``per_row``: the rows of ``Q`` and the entries per row (as for the built-in
    kernel); ``stride``: the counter step between two samples of an entry (uniforms mode).
    """
    oracle, k, m, seed = op.system, op.k, op.m, op.seed
    rows_per = max(1, ORACLE_DRAWS // (per_row * m * (k + 1)))
    drawn = {}  # block -> entries (blocks may run on threads)

    def draw(lo, hi, out):
        s_g, a_g, s, a = op._queries(lo, hi)
        E = s_g.shape[0]
        g_s, g_a = np.empty(E * m, np.int64), np.empty(E * m, np.int64)
        l_s, l_g, l_a = (np.empty(E * m * k, np.int64) for _ in range(3))
        n_u = E * m if oracle.uniforms else 0
        u_g, u_l = np.empty(n_u), np.empty(n_u * k)
        entry_queries(
            seed, lo * per_row, m, stride, s_g, a_g, s, a, g_s, g_a, l_s, l_g, l_a, u_g, u_l
        )
        if oracle.uniforms:
            rng_g, rng_l = _frozen(u_g, u_l)
        else:
            rng_g = rng_l = block_generator(seed, algorithm, lo // rows_per)
        next_g = oracle.draw_global(*_frozen(g_s, g_a), rng_g)
        next_l = oracle.draw_local(*_frozen(l_s, l_g, l_a), rng_l)
        drawn[lo] = E
        op._next_index(next_g, next_l, out)

    serial = not oracle.thread_safe
    samples = draw_samples(draw, n_rows, per_row, m, op.n_values, rows_per=rows_per, serial=serial)
    entries = sum(drawn.values())
    return samples, {"global": entries * m, "local": entries * m * k}
