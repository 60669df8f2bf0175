"""Speed of the Algorithm 3 executors (smfq_lib.execute).

1. Agent-level executor (the literal algorithm, O(n k) per step): agent-steps per second
   (``rollouts * horizon * n / seconds``) for several ``k`` and ``n``, with the ratio to the
   target of 1e7 agent-steps/s (k = 8, 2 cores). Rollouts run in parallel, so ``rollouts`` is a
   multiple of the thread count.
2. Count-level executor (O(1) in n per step): seconds per rollout of ``horizon = 200`` steps
   (k = 8) for n = 10^2 ... 10^6, with the ratio to n = 10^2 (target: flat, and well under a
   second per rollout at n = 10^6), and at n = 10^6 with ``keep="returns"``.
3. The count-level executor's binomial sampler (smfq_lib._utils.binomial: inversion below a mean
   of 10, BTRD above) against NumPy's ``Generator.binomial`` (inversion and BTPE) on the same
   ``(n, p)``: nanoseconds per draw and the ratio (target: about 1 or below). NumPy keeps its set-up
   between draws of the same ``(n, p)``; the executor's ``p`` changes from draw to draw, so
   ``binomial`` sets up every call, and that cost is in its column.

The system is a random one with S_g = 2, S_l = 3, A_g = 2, A_l = 2 and random policy tables:
the executors' cost does not depend on the table values. Kernels are compiled (or loaded from the
cache) by a warm-up call before timing; each figure is the best of ``--repeat`` runs.

Usage: ``python benchmarks/bench_execute.py [--repeat 3] [--quick]``. Prints three tables.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np
from numba import njit
from timing import best

from smfq_lib._utils.binomial import binomial
from smfq_lib.execute import rollout_agents, rollout_counts
from smfq_lib.model.system import CooperativeSystem

TARGET_AGENT_STEPS = 1e7


def _system(S_g=2, S_l=3, A_g=2, A_l=2, seed=0):
    rng = np.random.default_rng(seed)
    P_g = rng.dirichlet(np.ones(S_g), size=(S_g, A_g))
    P_l = rng.dirichlet(np.ones(S_l), size=(S_l, S_g, A_l))
    return CooperativeSystem(
        P_g, P_l, rng.random((S_g, A_g)), rng.random((S_l, S_g, A_l)), gamma=0.95
    )


def _policy(system, k, seed=0):
    rng = np.random.default_rng(seed)
    Cs = math.comb(k - 1 + system.S_l - 1, system.S_l - 1)
    shape = (system.S_g, system.S_l, Cs)
    return SimpleNamespace(
        k=k, pi_g=rng.integers(0, system.A_g, shape), pi_l=rng.integers(0, system.A_l, shape)
    )


def _counts(n, S_l):
    c = np.full(S_l, n // S_l, dtype=np.int64)
    c[0] += n - c.sum()
    return c


@njit(cache=True)
def _draws(key, n, p, size):
    """``size`` draws of Binomial(n, p) from one counter stream."""
    state = np.zeros(2, np.uint64)
    state[0] = key
    total = 0
    for _ in range(size):
        total += binomial(state, n, p)
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = ap.parse_args(argv)
    system = _system()
    threads = numba.get_num_threads()
    print(f"system: {system}")
    print(f"numba threads: {threads}, python {sys.version.split()[0]}, numba {numba.__version__}")
    # warm-up: compile or load every kernel
    pol = _policy(system, 2)
    rollout_agents(system, pol, 4, 0, _counts(4, system.S_l), 2, 1, 0)
    rollout_counts(system, pol, 4, 0, _counts(4, system.S_l), 2, 1, 0)

    # 1. agent-level executor
    rollouts = 2 * threads
    ns = (10**3, 10**4) if args.quick else (10**3, 10**4, 10**5)
    ks = (2, 8, 32)
    head = (
        f"{'k':>3} {'n':>8} {'rollouts':>8} {'horizon':>7} {'seconds':>8} "
        f"{'agent-steps/s':>14} {'/target':>8}"
    )
    print("\nAgent-level executor (literal Algorithm 3)")
    print(head)
    print("-" * len(head))
    for k in ks:
        pol = _policy(system, k)
        for n in ns:
            horizon = max(2, int(4e6 / (n * rollouts * max(k, 4) / 8)) // 1)
            horizon = min(horizon, 200)
            c0 = _counts(n, system.S_l)
            sec = best(
                lambda pol=pol, n=n, c0=c0, horizon=horizon: rollout_agents(
                    system, pol, n, 0, c0, horizon, rollouts, 1
                ),
                args.repeat,
            )
            rate = rollouts * horizon * n / sec
            ratio = f"{rate / TARGET_AGENT_STEPS:8.2f}" if k == 8 else f"{'':>8}"
            print(f"{k:>3} {n:>8,} {rollouts:>8} {horizon:>7} {sec:>8.3f} {rate:>14.3g} {ratio}")
    print(f"/target = agent-steps/s over the target {TARGET_AGENT_STEPS:.0e} (k = 8).")

    # 2. count-level executor
    k, horizon = 8, 200
    pol = _policy(system, k)
    rollouts = 32 * threads
    ns = [10**p for p in range(2, 7)]
    print(f"\nCount-level executor (k = {k}, horizon = {horizon}, {rollouts} rollouts)")
    head = f"{'n':>9} {'seconds':>8} {'s/rollout':>10} {'steps/s':>10} {'/n=100':>7}"
    print(head)
    print("-" * len(head))
    base = None
    for n in ns:
        c0 = _counts(n, system.S_l)
        sec = best(
            lambda n=n, c0=c0: rollout_counts(system, pol, n, 0, c0, horizon, rollouts, 1),
            args.repeat,
        )
        per = sec / rollouts
        base = base or per
        print(
            f"{n:>9,} {sec:>8.4f} {per:>10.2e} {rollouts * horizon / sec:>10.3g} {per / base:>7.2f}"
        )
    c0 = _counts(10**6, system.S_l)
    sec = best(
        lambda: rollout_counts(system, pol, 10**6, 0, c0, horizon, rollouts, 1, keep="returns"),
        args.repeat,
    )
    per = sec / rollouts
    print(f"{'1e6 ret.':>9} {sec:>8.4f} {per:>10.2e} {rollouts * horizon / sec:>10.3g} "
          f"{per / base:>7.2f}")  # fmt: skip
    print("s/rollout = wall seconds / rollouts (rollouts run in parallel on the threads).")
    print("1e6 ret. = n = 10^6 with keep='returns' (no per-step arrays).")

    # 3. the binomial sampler
    draws = 10**5 if args.quick else 10**6
    print(f"\nBinomial sampler ({draws:,} draws per (n, p), one thread)")
    head = f"{'n':>9} {'p':>7} {'n p':>9} {'ns/draw':>8} {'numpy ns':>9} {'/numpy':>7}"
    print(head)
    print("-" * len(head))
    gen = np.random.default_rng(0)
    _draws(np.uint64(1), 10, 0.5, 10)  # compile
    for n, p in ((20, 0.3), (1000, 0.005), (1000, 0.3), (10**6, 0.5), (10**6, 1e-6)):
        ours = best(lambda n=n, p=p: _draws(np.uint64(1), n, p, draws), args.repeat)
        ref = best(lambda n=n, p=p: gen.binomial(n, p, draws), args.repeat)
        print(f"{n:>9,} {p:>7g} {n * p:>9g} {ours / draws * 1e9:>8.1f} "
              f"{ref / draws * 1e9:>9.1f} {ours / ref:>7.2f}")  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
