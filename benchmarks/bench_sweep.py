"""Benchmark: one sweep grid run serially in-process vs on a 2-worker LocalCluster.

    python benchmarks/bench_sweep.py [--points 16] [--steps 4000000] [--workers 2]

Each grid point is a CPU-bound Numba task of about 0.5-1 s: Monte Carlo rollouts of a random
finite Markov chain with a counter-based generator (the shape of the work in execute/),
single-threaded. The serial run is the reference; the cluster run uses
``smfq_lib.sweep.local_client`` (worker processes, one thread each). Both write a fresh store
in a temporary directory, and the benchmark checks that they hold the same numbers. Target on
2 cores: speed-up >= 1.7x for the sweep (the cluster's start-up is reported beside it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

TARGET = 1.7


@njit(cache=True)
def _splitmix64(x):
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = x
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _rollouts(cdf, reward, gamma, steps, horizon, seed):
    """Mean discounted return of ``steps // horizon`` rollouts; draw t of the run: hash(seed, t)."""
    n_states = cdf.shape[0]
    n_roll = steps // horizon
    total = 0.0
    counter = np.uint64(seed) << np.uint64(40)
    for _ in range(n_roll):
        s = 0
        disc = 1.0
        ret = 0.0
        for _ in range(horizon):
            ret += disc * reward[s]
            disc *= gamma
            counter += np.uint64(1)
            u = (_splitmix64(counter) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            nxt = 0
            while nxt < n_states - 1 and cdf[s, nxt] < u:
                nxt += 1
            s = nxt
        total += ret
    return total / n_roll


def rollout_task(S, gamma, seed, steps):
    """One grid point: a random chain on S states (from seed), the mean return of its rollouts."""
    rng = np.random.default_rng([seed, S])
    P = rng.dirichlet(np.ones(S), size=S)
    cdf = np.cumsum(P, axis=1)
    reward = rng.random(S)
    mean = _rollouts(cdf, reward, gamma, steps, 50, seed)
    return {"mean_return": float(mean), "reward_max": float(reward.max())}


def warm_up() -> None:
    """Import this module and load the compiled kernels (from Numba's disk cache)."""
    rollout_task(S=8, gamma=0.9, seed=0, steps=1000)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=16, help="grid points (multiple of 4)")
    parser.add_argument("--steps", type=int, default=40_000_000, help="chain steps per point")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode; best is kept")
    args = parser.parse_args(argv)
    if args.points < 4 or args.points % 4:
        raise ValueError(f"--points must be a positive multiple of 4; got {args.points}.")
    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1; got {args.repeat}.")

    # import this file as a module, so that the workers unpickle the task by reference
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_sweep as bench

    from smfq_lib.sweep import _close_client, load_results, local_client, run_sweep

    grid = {
        "S": [8, 16],
        "gamma": [0.9, 0.95],
        "seed": list(range(args.points // 4)),
        "steps": [args.steps],
    }
    bench.warm_up()  # compile once (cached on disk), outside the timings
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as tmp:
        t_serial, t_dask = [], []
        for rep in range(args.repeat):
            store = Path(tmp, f"serial{rep}.csv")
            t0 = time.perf_counter()
            run_sweep(bench.rollout_task, grid, store=store, client="serial", progress=False)
            t_serial.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        client = local_client(args.workers)
        t_cluster = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            client.run(bench.warm_up)  # each worker imports the task and loads the kernels
            t_warm = time.perf_counter() - t0
            for rep in range(args.repeat):
                store = Path(tmp, f"dask{rep}.csv")
                t0 = time.perf_counter()
                run_sweep(bench.rollout_task, grid, store=store, client=client, progress=False)
                t_dask.append(time.perf_counter() - t0)
        finally:
            _close_client(client)

        ref = load_results(Path(tmp, "serial0.csv"), grid=grid)
        outputs = ("mean_return", "reward_max")
        same = all(
            [
                [r[o] for o in outputs]
                for r in load_results(Path(tmp, f"{mode}{rep}.csv"), grid=grid)
            ]
            == [[r[o] for o in outputs] for r in ref]
            for mode in ("serial", "dask")
            for rep in range(args.repeat)
        )
        per_task = float(np.mean([r["wall_time"] for r in ref]))
        best = int(np.argmin(t_dask))
        dask_rows = load_results(Path(tmp, f"dask{best}.csv"), grid=grid)
        per_task_dask = float(np.mean([r["wall_time"] for r in dask_rows]))
        busy = sum(r["wall_time"] for r in dask_rows) / (args.workers * t_dask[best])

    serial, dask = min(t_serial), min(t_dask)
    speedup, speedup_all = serial / dask, serial / (dask + t_cluster + t_warm)
    print(
        f"sweep benchmark: {len(ref)} points, {per_task:.2f} s per task (serial), "
        f"{args.workers} workers, best of {args.repeat}"
    )
    print(f"{'mode':<40}{'wall s':>9}{'speed-up':>10}")
    print(f"{'serial (in-process)':<40}{serial:>9.2f}{1.0:>9.2f}x")
    print(f"{'LocalCluster, sweep':<40}{dask:>9.2f}{speedup:>9.2f}x")
    label = "LocalCluster, incl. start + warm-up"
    print(f"{label:<40}{dask + t_cluster + t_warm:>9.2f}{speedup_all:>9.2f}x")
    print(f"  (cluster start {t_cluster:.2f} s, worker warm-up {t_warm:.2f} s)")
    print(
        f"  mean task time {per_task:.2f} s serial, {per_task_dask:.2f} s on a worker; workers "
        f"busy {100 * busy:.0f}% of the sweep (the rest is scheduling and transfer overhead)"
    )
    load_after = os.getloadavg()[0]
    print(
        f"  machine: {os.cpu_count()} cores, 1-min load average {load_before:.1f} before, "
        f"{load_after:.1f} after (other processes competing for the cores lower the speed-up)"
    )
    print(f"same stored numbers serial vs cluster: {same}")
    verdict = "met" if speedup >= TARGET else "NOT met"
    print(f"target >= {TARGET}x for the sweep: {verdict} ({speedup:.2f}x)")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
