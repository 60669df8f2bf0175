"""Speed of one Bellman sweep of Algorithms 1 and 2 against plain NumPy/SciPy, in the same run.

On the constrained-exploration system (Example 0.2 at its defaults: S_g=4, S_l=9, A_g=5, A_l=5).

Table 1, Algorithm 2, for ``k = 1..--kmax``, the empirical operator (eq. 9, ``m = 20``) and the
exact one (eq. 12): set-up (drawing the samples, or the exact operator's tables) and one
iteration ``Q <- T Q`` (value table + backup) of the library, against the best plain NumPy/SciPy
iteration a user would write, checked equal:

* sampled: ``V`` by ``np.maximum.at``, then ``R + gamma * V[idx].reshape(-1, m).mean(1)`` over the
  ``m`` stored int32 indices per entry (the same samples; in chunks of entries); its ``idx``
  holds ``4 m`` bytes per entry, the library's (index, multiplicity) pairs the ``store B/e``
  column;
* exact: the next-composition laws of every ``(s_g, zc)`` as a SciPy CSR matrix (built once; its
  build is the ``ref setup`` column), then ``W = D @ V`` and two einsums over ``s_1'``, ``s_g'``.

Table 2, exact Algorithm 1 (eq. 12, ``learn(..., m=None, algorithm="tabular")``) for
``k = 1..--tab-kmax``: one iteration of the library's sum-factorised kernel against a NumPy
``tensordot`` chain (contract ``s_g'``, then one agent at a time), checked equal.

The machine load is printed with each table. Usage: ``python benchmarks/bench_learn.py
[--kmax 4] [--ref-kmax 4] [--repeat 5] [--tab-kmax 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
from timing import best, load

from smfq_lib.learning import table_bytes
from smfq_lib.learning.mean_field import MeanFieldOperator
from smfq_lib.learning.mean_field_exact import next_composition_laws
from smfq_lib.learning.solvers import threads_for
from smfq_lib.learning.tabular import TabularOperator
from smfq_lib.model.examples import constrained_exploration

#: Entries per chunk of the NumPy sampled reference (bounds its temporaries).
CHUNK = 1 << 20


def numpy_value_table(op, Q):
    """``V[s_g, s_1, c] = max`` of ``Q`` over ``(zc, a_1, a_g)`` with state marginal ``c``."""
    S_g, S_l, Cz, A_l, A_g = op.mf_shape
    V = np.full((S_g, S_l, op.Cs), -np.inf)
    np.maximum.at(V, (slice(None), slice(None), op.mr), Q.reshape(S_g, S_l, Cz, -1).max(axis=3))
    return V


def numpy_sampled(op, Q, idx, out):
    """The sampled iteration in NumPy over the raw ``(entries, m)`` int32 sample indices."""
    Vf = numpy_value_table(op, Q).ravel()
    for lo in range(0, op.size, CHUNK):
        hi = min(op.size, lo + CHUNK)
        out[lo:hi] = op.R[lo:hi] + op.gamma * Vf[idx[lo:hi]].mean(axis=1)
    return out


def reference_csr(op):
    """SciPy CSR ``D[s_g * Cz + r, c']``: the exact next-composition laws of every row."""
    S_g, _, Cz, _, _ = op.mf_shape
    sgs = np.repeat(np.arange(S_g), Cz)
    rows = np.tile(np.arange(Cz), S_g)
    dense = np.empty((S_g * Cz, op.Cs))
    t = op.tables
    next_composition_laws(
        op.P_l, op.system.A_l, op.Zt, sgs, rows, t.tab, t.off, t.law2, t.loff, dense
    )
    return sp.csr_array(dense)


def numpy_exact(op, Q, D):
    """The exact iteration in NumPy/SciPy: ``W = D V``, then ``s_1'`` and ``s_g'`` by einsum."""
    S_g, S_l, Cz, A_l, A_g = op.mf_shape
    V = numpy_value_table(op, Q)
    W = (D @ V.reshape(S_g * S_l, op.Cs).T).reshape(S_g, Cz, S_g, S_l)  # [s_g, r, g', s']
    X = np.einsum("srgu,tsbu->strgb", W, op.P_l, optimize=True)  # [s_g, s_1, r, g', a_1]
    EV = np.einsum("sag,strgb->strba", op.P_g, X, optimize=True)
    return op.R + op.gamma * EV.ravel()


def mean_field_table(system, args):
    print(f"Algorithm 2 (mean-field), one iteration; {load()}")
    head = (
        f"{'k':>2} {'m':>4} {'entries':>11} {'MiB':>8} {'setup s':>8} {'iter s':>8} "
        f"{'store B/e':>9} {'ref setup s':>11} {'ref iter s':>10} {'ref/iter':>8}"
    )
    print(head)
    print("-" * len(head))
    for k in range(1, args.kmax + 1):
        for m in (args.m, None):
            nbytes = table_bytes(system, k, m, "mean_field", "value_iteration")
            t = time.perf_counter()
            op = MeanFieldOperator(system, k, m, 0)
            setup = time.perf_counter() - t
            Q = np.random.default_rng(0).random(op.size)
            Q_new = np.empty(op.size)
            with threads_for(nbytes // 8):  # the thread policy of learn()
                it = best(lambda op=op, Q=Q, Q_new=Q_new: op.step(Q, Q_new), args.repeat)
            store = op.samples.nbytes / op.size if m is not None else 0.0
            ref_setup = ref = float("nan")
            if k <= args.ref_kmax:
                t = time.perf_counter()
                if m is not None:
                    s = op.samples
                    raw = np.repeat(s.idx, s.mult).astype(np.int32).reshape(op.size, m)
                    out = np.empty(op.size)
                    fn = lambda op=op, Q=Q, raw=raw, out=out: numpy_sampled(op, Q, raw, out)  # noqa: E731
                else:
                    D = reference_csr(op)
                    fn = lambda op=op, Q=Q, D=D: numpy_exact(op, Q, D)  # noqa: E731
                ref_setup = time.perf_counter() - t
                ref = best(fn, min(args.repeat, 3))
                err = np.abs(fn() - Q_new).max()
                assert err < 1e-9, f"reference and library disagree by {err}"
            print(
                f"{k:>2} {str(m):>4} {op.size:>11,} {nbytes / 2**20:>8.1f} {setup:>8.3f} "
                f"{it:>8.4f} {store:>9.1f} {ref_setup:>11.3f} {ref:>10.4f} {ref / it:>8.1f}"
            )
            del op
    print(
        "entries = |S_g||S_l||mu_{k-1}(Z_l)||A_l||A_g|; MiB = table_bytes (value iteration); "
        "iter s = one library iteration (value table + backup), best of --repeat; store B/e = "
        f"bytes of the stored samples per entry (a raw int32 layout: {4 * args.m}); ref = the "
        "NumPy/SciPy iteration described in the module docstring (its setup: sampled, the raw "
        "index array; exact, the CSR laws); ref/iter = speedup of the library."
    )


def tensordot_tabular(op, Q):
    """Exact Algorithm 1 iteration in NumPy: per ``s_g``, ``V1`` contracted with ``P_g`` and
    then with ``P_l`` agent by agent (``tensordot``), transposed into Q's layout."""
    s, k = op.system, op.k
    V1 = Q.reshape(op.Ns, op.Na).max(axis=1).reshape((s.S_g,) + (s.S_l,) * k)
    out = np.empty((s.S_g,) + (s.S_l,) * k + (s.A_g,) + (s.A_l,) * k)
    perm = [1 + 2 * i for i in range(k)] + [0] + [2 + 2 * i for i in range(k)]
    for sg in range(s.S_g):
        X = np.tensordot(s.P_g[sg], V1, axes=([1], [0]))  # (a_g, s_1', ..., s_k')
        for _ in range(k):  # contract the next s_i', append (s_i, a_i)
            X = np.tensordot(X, s.P_l[:, sg], axes=([1], [2]))
        out[sg] = op.R.reshape(out.shape)[sg] + op.gamma * X.transpose(perm)
    return out.ravel()


def tabular_table(system, args):
    print(f"\nexact Algorithm 1 (m=None, tabular), one iteration; {load()}")
    head = f"{'k':>2} {'entries':>11} {'MiB':>8} {'iter s':>9} {'tensordot s':>11} {'td/iter':>8}"
    print(head)
    print("-" * len(head))
    for k in range(1, args.tab_kmax + 1):
        nbytes = table_bytes(system, k, None, "tabular", "value_iteration")
        op = TabularOperator(system, k, None, 0)
        Q = np.random.default_rng(0).random(op.size)
        Q_new = np.empty(op.size)
        with threads_for(nbytes // 8):
            it = best(lambda op=op, Q=Q, Q_new=Q_new: op.step(Q, Q_new), args.repeat)
        td = best(lambda op=op, Q=Q: tensordot_tabular(op, Q), args.repeat)
        err = np.abs(tensordot_tabular(op, Q) - Q_new).max()
        assert err < 1e-9, f"tensordot chain and kernel disagree by {err}"
        print(
            f"{k:>2} {op.size:>11,} {nbytes / 2**20:>8.1f} {it:>9.4f} {td:>11.4f} {td / it:>8.1f}"
        )
    print(
        "iter s = one library iteration (V1 + the sum-factorised kernel on (s_g, a_g) blocks, "
        "threads), best of --repeat; tensordot s = the NumPy chain; td/iter = speedup."
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kmax", type=int, default=4)
    ap.add_argument("--ref-kmax", type=int, default=4, help="largest k for the references")
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tab-kmax", type=int, default=3, help="largest k for exact Algorithm 1")
    args = ap.parse_args()
    system = constrained_exploration()
    import numba

    print(f"system: constrained_exploration() = {system}; numba threads: {numba.get_num_threads()}")
    for m in (args.m, None):  # warm-up: compile / load every kernel on a tiny k
        op = MeanFieldOperator(system, 2, m, 0)
        op.step(np.zeros(op.size), np.empty(op.size))
    op = TabularOperator(system, 1, None, 0)
    op.step(np.zeros(op.size), np.empty(op.size))
    mean_field_table(system, args)
    tabular_table(system, args)


if __name__ == "__main__":
    main()
