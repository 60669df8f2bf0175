"""Speed of the Algorithm 3 executors (smfq_lib.execute).

1. Agent-level executor (the literal algorithm, O(n k) per step): agent-steps per second
   (``rollouts * horizon * n / seconds``) for several ``k`` and ``n``, with the ratio to the
   target of 1e7 agent-steps/s (k = 8, 2 cores). Rollouts run in parallel, so ``rollouts`` is a
   multiple of the thread count.
2. Count-level executor (O(1) in n per step): seconds per rollout of ``horizon = 200`` steps
   (k = 8) for n = 10^2 ... 10^6, with the ratio to n = 10^2 (target: flat, and well under a
   second per rollout at n = 10^6).

The system is a random one with S_g = 2, S_l = 3, A_g = 2, A_l = 2 and random policy tables:
the executors' cost does not depend on the table values. Kernels are compiled (or loaded from the
cache) by a warm-up call before timing; each figure is the best of ``--repeat`` runs.

Usage: ``python benchmarks/bench_execute.py [--repeat 3] [--quick]``. Prints two tables.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np

from smfq_lib.execute import rollout_agents, rollout_counts
from smfq_lib.system import CooperativeSystem

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


def _best(fn, repeat):
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


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
            sec = _best(
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
        sec = _best(
            lambda n=n, c0=c0: rollout_counts(system, pol, n, 0, c0, horizon, rollouts, 1),
            args.repeat,
        )
        per = sec / rollouts
        base = base or per
        print(
            f"{n:>9,} {sec:>8.4f} {per:>10.2e} {rollouts * horizon / sec:>10.3g} {per / base:>7.2f}"
        )
    print("s/rollout = wall seconds / rollouts (rollouts run in parallel on the threads).")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
