"""Speed of Algorithm 2 (mean-field learner): Numba kernels vs a plain NumPy/Python reference.

On the constrained-exploration system (Example 0.2 at its defaults: S_g=4, S_l=9, A_g=5, A_l=5),
for a sweep of k, times one-off set-up (drawing the m fixed samples, or building the exact
next-composition distributions) and one iteration of the operator (value table + backup), for
the empirical operator (eq. 9, m=20) and the exact one (eq. 12). In the same run it times

* a plain NumPy/Python reference of the same iteration, written the obvious way (a Python loop
  over the Q entries, NumPy inside), on the small end of the sweep, checked equal to the kernel;
* the same iteration fully vectorized in NumPy (``R + gamma * V[idx].reshape(-1, m).mean(1)``);
* a plain memory-bound gather of the same size: ``np.take(V, idx)`` and a Numba parallel
  ``sum_j V[idx[e, j]]`` per entry (the floor of the sampled operator, whose iteration is one
  gather of ``entries * m`` values).

Kernels run under the thread policy of ``learn`` (one thread below ``_SERIAL_WORK``).

A second table times the exact Algorithm 1 operator (eq. 12, ``learn(..., m=None,
algorithm="tabular")``) on the same system for ``k = 1..--tab-kmax``: one iteration of the
library's sum-factorised kernel (one agent contracted at a time), the whole ``learn`` call, and,
up to ``--old-kmax``, the previous per-entry enumeration (kept here only, as the reference:
every entry summed over all ``S_g S_l^k`` next joint states), checked equal to the kernel.

Usage: ``python benchmarks/bench_learn.py [--kmax 4] [--repeat 5] [--tab-kmax 3] [--old-kmax 3]``.
Prints two tables.
"""

from __future__ import annotations

import argparse
import os
import time

# On a shared (oversubscribed) machine, libgomp's default busy-wait makes every parallel launch
# wait for spinning threads that lost their core (tens of ms per launch); passive waiting does
# not. Must be set before the first parallel kernel runs; an explicit setting is respected.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from numba import njit, prange

from smfq_lib.combinatorics import marginal_ranks
from smfq_lib.learning import learn, table_bytes
from smfq_lib.learning.learner import _threads_for
from smfq_lib.learning.mean_field import MeanFieldOperator
from smfq_lib.learning.tabular import TabularOperator


@njit(parallel=True)
def sum_gather(V, idx, m, out):
    """The memory-bound floor of the sampled operator: ``out[e] = sum_j V[idx[e*m+j]]``."""
    for e in prange(out.shape[0]):
        acc = 0.0
        for j in range(m):
            acc += V[idx[e * m + j]]
        out[e] = acc


@njit(cache=True)
def _decode(x, base, k, out):
    for i in range(k - 1, -1, -1):
        out[i] = x % base
        x //= base


@njit(cache=True)
def enumeration_exact_tabular(R, V1, P_g, P_l, k, gamma, Q_new):
    """The previous exact Algorithm 1 operator (eq. 12), the reference of the second table: for
    every row ``(s_g, s_1..s_k)`` and local action vector, a fresh contraction of the whole
    ``V1`` (all ``S_g S_l^k`` next joint states), then ``P_g`` for each ``a_g``."""
    S_g = P_g.shape[0]
    A_g = P_g.shape[1]
    S_l = P_l.shape[0]
    A_l = P_l.shape[2]
    nl = S_l**k
    na = A_l**k
    sv = np.empty(k, dtype=np.int64)
    av = np.empty(k, dtype=np.int64)
    buf = np.empty(S_g * nl)
    tmp = np.empty(S_g * nl)
    for row in range(S_g * nl):
        sg = row // nl
        _decode(row % nl, S_l, k, sv)
        for al in range(na):
            _decode(al, A_l, k, av)
            for x in range(S_g * nl):
                buf[x] = V1[x]
            size = nl
            for i in range(k - 1, -1, -1):
                new = size // S_l
                for g in range(S_g):
                    for x in range(new):
                        acc = 0.0
                        for sn in range(S_l):
                            acc += P_l[sv[i], sg, av[i], sn] * buf[g * size + x * S_l + sn]
                        tmp[g * new + x] = acc
                size = new
                for x in range(S_g * size):
                    buf[x] = tmp[x]
            for ag in range(A_g):
                acc = 0.0
                for g in range(S_g):
                    acc += P_g[sg, ag, g] * buf[g]
                Q_new[row, ag * na + al] = R[row, ag * na + al] + gamma * acc


def exact_tabular_table(system, tab_kmax, old_kmax, repeat):
    """Second table: exact Algorithm 1, library kernel vs the per-entry enumeration."""
    op = TabularOperator(system, 1, None, 0)  # warm-up: compile / load both kernels
    op.step(np.zeros(op.size), np.empty(op.size))
    R2 = op.R.reshape(op.Ns, op.Na)
    enumeration_exact_tabular(R2, np.zeros(op.Ns), op.P_g, op.P_l, 1, op.gamma, np.empty_like(R2))
    learn(system, 1, None, algorithm="tabular", progress=False)
    head = (
        f"{'k':>2} {'entries':>11} {'MiB':>8} {'setup s':>8} {'iter s':>9} {'old iter s':>10} "
        f"{'speedup':>8} {'learn s':>8} {'iters':>6} {'learn s/it':>10}"
    )
    print()
    print("exact Algorithm 1 (m=None, tabular)")
    print(head)
    print("-" * len(head))
    for k in range(1, tab_kmax + 1):
        nbytes = table_bytes(system, k, None, "tabular")
        t = time.perf_counter()
        op = TabularOperator(system, k, None, 0)
        setup = time.perf_counter() - t
        Q = np.random.default_rng(0).random(op.size)
        Q_new = np.empty(op.size)
        with _threads_for(nbytes // 8):
            it = _best(lambda op=op, Q=Q, Q_new=Q_new: op.step(Q, Q_new), repeat)
        old = speed = float("nan")
        if k <= old_kmax:
            Q2 = Q.reshape(op.Ns, op.Na)
            V1 = Q2.max(axis=1)
            out = np.empty_like(Q2)
            args = (op.R.reshape(op.Ns, op.Na), V1, op.P_g, op.P_l, k, op.gamma, out)

            def old_iteration(Q2=Q2, args=args):
                Q2.max(axis=1)  # the same V table as the kernel's iteration
                enumeration_exact_tabular(*args)

            old = _best(old_iteration, max(1, min(repeat, 3)))
            err = np.abs(out.ravel() - Q_new).max()
            assert err < 1e-9, f"enumeration and kernel disagree by {err}"
            speed = old / it
        del op, Q, Q_new
        res = learn(system, k, None, algorithm="tabular", progress=False)
        n_it = len(res.residuals)
        print(
            f"{k:>2} {res.Q.size:>11,} {nbytes / 2**20:>8.1f} {setup:>8.3f} {it:>9.4f} "
            f"{old:>10.4f} {speed:>8.1f} {res.seconds:>8.2f} {n_it:>6} {res.seconds / n_it:>10.4f}"
        )
        del res
    print(
        "entries = |S_g||S_l|^k|A_g||A_l|^k; MiB = learn()'s table_bytes; iter s = one iteration "
        "(V table + sum-factorised backup), best of --repeat; old iter s = the same iteration "
        "with the per-entry enumeration (k <= --old-kmax); speedup = old/iter; learn s = the "
        "whole learn(system, k, None, algorithm='tabular') call (set-up, iterations, policy "
        "tables) to tol=1e-8; iters = its iterations."
    )


def _system():
    try:
        from smfq_lib.examples import constrained_exploration

        return constrained_exploration(), "constrained_exploration()"
    except ImportError:  # pragma: no cover - before the examples module existed
        from smfq_lib.examples import random_system

        return random_system(4, 9, 5, 5, seed=0), "random_system(4, 9, 5, 5)"


def _best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def vectorized_iteration(op, Q, mr, gamma):
    """The sampled iteration vectorized in NumPy: V by ``np.maximum.at``, then one gather."""
    S_g, S_l, Cz, A_l, A_g = op.mf_shape
    V = np.full((S_g, S_l, op.Cs), -np.inf)
    Qm = Q.reshape(S_g, S_l, Cz, A_l * A_g).max(axis=3)
    np.maximum.at(V, (slice(None), slice(None), mr), Qm)
    return op.R + gamma * V.ravel()[op.idx].reshape(-1, op.m).mean(1)


def reference_iteration(op, Q, system):
    """One iteration of the Algorithm 2 operator, the obvious way: NumPy V table, then a Python
    loop over entries (sampled: mean of V over the entry's stored samples; exact: the expectation
    over s_g', s_1' and the others' next composition)."""
    S_g, S_l, Cz, A_l, A_g = op.mf_shape
    Q5 = Q.reshape(op.mf_shape)
    mr = op.mr
    V = np.empty((S_g, S_l, op.Cs))
    for c in range(op.Cs):
        V[:, :, c] = Q5[:, :, mr == c].reshape(S_g, S_l, -1).max(axis=2)
    Vf = V.ravel()
    out = np.empty_like(Q)
    gamma = system.gamma
    if op.m is not None:
        for e in range(Q.shape[0]):
            out[e] = op.R[e] + gamma * Vf[op.idx[e * op.m : (e + 1) * op.m]].mean()
        return out
    offsets, cols, probs = op.csr
    e = 0
    for sg in range(S_g):
        for s1 in range(S_l):
            for r in range(Cz):
                row = sg * Cz + r
                lo, hi = offsets[row], offsets[row + 1]
                W = V[:, :, cols[lo:hi]] @ probs[lo:hi]  # (S_g', S_l')
                for a1 in range(A_l):
                    X = W @ system.P_l[s1, sg, a1]  # (S_g',)
                    for ag in range(A_g):
                        out[e] = op.R[e] + gamma * system.P_g[sg, ag] @ X
                        e += 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kmax", type=int, default=4)
    ap.add_argument("--ref-kmax", type=int, default=3, help="largest k for the Python reference")
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tab-kmax", type=int, default=3, help="largest k for exact Algorithm 1")
    ap.add_argument("--old-kmax", type=int, default=3, help="largest k for its old enumeration")
    args = ap.parse_args()
    system, name = _system()
    import numba

    print(f"system: {name} = {system}")
    print(
        f"numba threads: {numba.get_num_threads()}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )
    # warm-up: compile / load every kernel on a tiny k
    for m in (args.m, None):
        op = MeanFieldOperator(system, 2, m, 0)
        op.step(np.zeros(op.size), np.empty(op.size))
    sum_gather(np.zeros(3), np.zeros(2, dtype=np.int32), 1, np.empty(2))

    head = (
        f"{'k':>2} {'m':>4} {'entries':>11} {'MiB':>8} {'setup s':>8} {'iter s':>9} "
        f"{'backups/s':>10} {'take s':>8} {'sumgath s':>9} {'it/sumg':>7} {'numpy-vec s':>11} "
        f"{'py-ref s':>9} {'speedup':>8}"
    )
    print(head)
    print("-" * len(head))
    for k in range(1, args.kmax + 1):
        for m in (args.m, None):
            nbytes = table_bytes(system, k, m, "mean_field")
            t = time.perf_counter()
            op = MeanFieldOperator(system, k, m, 0)
            setup = time.perf_counter() - t
            rng = np.random.default_rng(0)
            Q = rng.random(op.size)
            Q_new = np.empty(op.size)
            with _threads_for(nbytes // 8):  # the thread policy of learn()
                it = _best(lambda op=op, Q=Q, Q_new=Q_new: op.step(Q, Q_new), args.repeat)
            n_back = op.size * (m if m is not None else 1)
            gather = sgather = vec = float("nan")
            if m is not None:
                Vf = rng.random(op.V.size)
                buf = np.empty(op.idx.shape[0])
                gather = _best(lambda Vf=Vf, op=op, buf=buf: np.take(Vf, op.idx, out=buf), 3)
                sums = np.empty(op.size)
                with _threads_for(nbytes // 8):
                    sgather = _best(
                        lambda Vf=Vf, op=op, m=m, sums=sums: sum_gather(Vf, op.idx, m, sums), 3
                    )

                mr_k = marginal_ranks(k - 1, system.S_l, system.A_l)
                vec = _best(
                    lambda op=op, Q=Q, mr_k=mr_k: vectorized_iteration(op, Q, mr_k, system.gamma),
                    min(args.repeat, 3),
                )
                out = vectorized_iteration(op, Q, mr_k, system.gamma)
                assert np.allclose(out, Q_new, rtol=0, atol=1e-9)
            ref = speed = float("nan")
            if k <= args.ref_kmax:
                t = time.perf_counter()
                out = reference_iteration(op, Q, system)
                ref = time.perf_counter() - t
                err = np.abs(out - Q_new).max()
                assert err < 1e-9, f"reference and kernel disagree by {err}"
                speed = ref / it
            print(
                f"{k:>2} {str(m):>4} {op.size:>11,} {nbytes / 2**20:>8.1f} {setup:>8.3f} "
                f"{it:>9.4f} {n_back / it:>10.3g} {gather:>8.4f} {sgather:>9.4f} "
                f"{it / sgather:>7.2f} "
                f"{vec:>11.4f} {ref:>9.3f} {speed:>8.0f}"
            )
            del op
    print(
        "entries = |S_g||S_l||mu_{k-1}(Z_l)||A_l||A_g|; MiB = learn()'s table_bytes; iter s = one "
        "iteration (V table + backup), best of --repeat; backups/s = entries*m/iter s (exact: "
        "entries/iter s); take s = np.take(V, idx) of the same idx (writes entries*m floats); "
        "sumgath s = a Numba parallel sum of V[idx] per entry (no output: the memory-bound floor "
        "of the sampled iteration); it/sumg = iter s / sumgath s; numpy-vec s = the iteration "
        "vectorized in NumPy; py-ref s = the obvious Python-loop reference; speedup = py-ref/iter."
    )
    exact_tabular_table(system, args.tab_kmax, args.old_kmax, args.repeat)


if __name__ == "__main__":
    main()
