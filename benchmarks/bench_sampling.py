"""Speed of the empirical operators' sampling (eq. 9) and of the exact two-cell tables against
references measured in the same run, outputs checked equal.

* Algorithm 2's sampling kernel (``sample_mean_field``: lookups hoisted, counter hashes once per
  call) against the same samples drawn one ``draw_next`` call per sample (its definition), on
  ``random_system(2, 2, 2, 2, seed=25)`` at ``k = 20``, ``m = 64`` (chapter 11's baseline).
* The compression of ``m`` samples per entry (``_compress``: counted above ``m = 32``) against
  NumPy (``np.sort`` per row, then run lengths), ``m = 256`` and ``4096``.
* The exact sweep's two-cell laws at ``t`` agents with two cells (``majority_mode``, the count
  MDP of ``V*`` at ``n = t``): only ``T = t`` kept against the full table (every ``T <= t``).

One thread. Usage: ``python benchmarks/bench_sampling.py [--repeat 3] [--t 316]``.
"""

from __future__ import annotations

import argparse
import os

import numba
import numpy as np
from numba import njit
from timing import best

from smfq_lib._utils.rng import stream_key
from smfq_lib.learning.mean_field_exact import ExactTables, _index_tables, _two_cell_laws
from smfq_lib.learning.mean_field_kernels import (
    binom_table,
    draw_next,
    rank_tab,
    sample_mean_field,
)
from smfq_lib.learning.sampled import _compress, cdf_tables
from smfq_lib.model.combinatorics import compositions, expand_cells
from smfq_lib.model.examples import majority_mode, random_system


@njit(cache=True)
def reference_samples(cdf_g, last_g, cdf_l, last_l, Zt, A_l, m, seed, out):
    """Every entry's ``m`` samples by one ``draw_next`` call each (its index as stored)."""
    A_g = cdf_g.shape[1]
    S_l = cdf_l.shape[0]
    Cz = Zt.shape[0]
    t = Zt[0].sum()
    btab = binom_table(t + S_l, S_l)
    Cs = btab[t + S_l - 1, S_l - 1]
    ag_s = np.empty(t, dtype=np.int64)
    ag_a = np.empty(t, dtype=np.int64)
    cnt = np.zeros(S_l, dtype=np.int64)
    for row in range(cdf_g.shape[0] * S_l * Cz):
        sg, s1, r = row // (S_l * Cz), (row // Cz) % S_l, row % Cz
        expand_cells(Zt[r], A_l, ag_s, ag_a)
        for a1 in range(A_l):
            for ag in range(A_g):
                e = (row * A_l + a1) * A_g + ag
                key = stream_key(seed, e)
                for j in range(m):
                    sgn, s1n = draw_next(
                        cdf_g, last_g, cdf_l, last_l, sg, s1, a1, ag, ag_s, ag_a, key, j, cnt
                    )
                    out[e * m + j] = (sgn * S_l + s1n) * Cs + rank_tab(cnt, t, btab)


def numpy_compress(raw, m):
    rows = np.sort(raw.reshape(-1, m), axis=1)
    new = np.ones(rows.shape, dtype=bool)
    new[:, 1:] = rows[:, 1:] != rows[:, :-1]
    starts = np.flatnonzero(new.ravel())
    mult = np.diff(np.append(starts, rows.size))
    return new.sum(1), rows.ravel()[starts], mult


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--t", type=int, default=316)
    args = ap.parse_args()
    numba.set_num_threads(1)
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    s = random_system(2, 2, 2, 2, seed=25)
    k, m = 20, 64
    Zt = compositions(k - 1, s.Z_l)
    rows = s.S_g * s.S_l * Zt.shape[0]
    cdf = cdf_tables(s.P_g, s.P_l)
    out, ref = (np.empty(rows * s.A_l * s.A_g * m, dtype=np.int64) for _ in range(2))
    t_lib = best(lambda: sample_mean_field(*cdf, Zt, s.A_l, m, 0, 0, rows, out), args.repeat)
    t_ref = best(lambda: reference_samples(*cdf, Zt, s.A_l, m, 0, ref), args.repeat)
    assert np.array_equal(out, ref)
    print(f"Algorithm 2 samples, k = {k}, m = {m}: library {t_lib:.3f} s, one draw_next per "
          f"sample {t_ref:.3f} s, ratio {t_ref / t_lib:.2f}")  # fmt: skip

    for m in (256, 4096):
        n_targets = 80
        raw = np.random.default_rng(m).integers(0, n_targets, size=2000 * m)
        cnt = np.empty(2000, np.int64)
        idx, mult = np.empty(raw.size, np.uint16), np.empty(raw.size, np.uint16)
        t_lib = best(lambda: _compress(raw, m, n_targets, cnt, idx, mult), args.repeat)  # noqa: B023
        t_ref = best(lambda: numpy_compress(raw, m), args.repeat)  # noqa: B023
        c, i, u = numpy_compress(raw, m)
        used = cnt.sum()
        assert np.array_equal(cnt, c) and np.array_equal(idx[:used], i)
        assert np.array_equal(mult[:used], u)
        print(f"compress 2000 entries, m = {m}: library {t_lib:.4f} s, NumPy {t_ref:.4f} s, "
              f"ratio {t_ref / t_lib:.2f}")  # fmt: skip

    mm, t = majority_mode(), args.t
    tab, off, _, loff = _index_tables(t, mm.S_l, mm.A_l)
    full = np.zeros((mm.S_g, loff[-1]))

    def build_full():
        full[:] = 0.0
        _two_cell_laws(mm.P_l, mm.A_l, t, tab, off, loff, full, False)

    t_lib = best(lambda: ExactTables(mm.P_l, mm.S_g, mm.A_l, t), args.repeat)
    t_ref = best(build_full, args.repeat)
    assert np.array_equal(ExactTables(mm.P_l, mm.S_g, mm.A_l, t).law2, full[:, loff[t] :])
    kept = 8 * mm.S_g * (loff[t + 1] - loff[t])
    print(f"two-cell laws, t = {t}: T = t only {t_lib:.3f} s ({kept} B), full table "
          f"{t_ref:.3f} s ({full.nbytes} B), ratio {t_ref / t_lib:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
