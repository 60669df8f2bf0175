"""Benchmark: where a sweep should run. Serial, a cold LocalCluster, and the automatic choice.

    python benchmarks/bench_sweep.py [--short 5] [--long 60] [--point 0.5] [--workers N]

Each grid point is a CPU-bound Numba task (Monte Carlo rollouts of a random finite Markov chain
with a counter-based generator, the shape of the work in execute/), single-threaded, sized to
take about ``--point`` seconds. Two sweeps: a short one (about ``--short`` seconds of work) and a
long one (about ``--long`` seconds). Each runs three ways, each into a fresh store:

* serial: ``client="serial"``, in this process (the reference of the ratios);
* cold LocalCluster: ``local_client()`` started inside the timing (what ``client=None`` did
  before the automatic choice), closed after it;
* auto: ``client=None`` with no cluster running, so ``run_sweep`` times the first points in
  this process and moves the rest to the shared local cluster only if that pays
  (``smfq_lib.sweep.clients.cluster_pays_off``).

It prints the wall times with their speed-up over serial (serial time / time) and checks that
the three stores hold the same numbers. The cluster's start-up (the cost the automatic rule
weighs, ``CLUSTER_START_SECONDS``) is printed beside them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit


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


def _steps_for(seconds: float) -> int:
    """Chain steps of a point that takes about ``seconds`` here (the median of three timings)."""
    probe = 2_000_000
    times = []
    for seed in range(3):
        t0 = time.perf_counter()
        rollout_task(S=16, gamma=0.9, seed=seed, steps=probe)
        times.append(time.perf_counter() - t0)
    return max(50, int(probe * seconds / float(np.median(times))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=5.0, help="seconds of work, short sweep")
    parser.add_argument("--long", type=float, default=60.0, help="seconds of work, long sweep")
    parser.add_argument("--point", type=float, default=0.5, help="seconds of one point")
    parser.add_argument("--workers", type=int, default=None, help="default: the cores")
    args = parser.parse_args(argv)
    for name in ("short", "long", "point"):
        if not getattr(args, name) > 0:
            raise ValueError(f"--{name} must be positive; got {getattr(args, name)}.")
    if os.environ.pop("SMFQ_SCHEDULER", None) is not None:
        print("(SMFQ_SCHEDULER unset for this benchmark: it measures the local choices)")

    # import this file as a module, so that the workers unpickle the task by reference
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_sweep as bench

    from smfq_lib.sweep import (
        clients,
        close_client,
        close_default_client,
        load_results,
        local_client,
        run_sweep,
    )

    bench.rollout_task(S=16, gamma=0.9, seed=0, steps=1000)  # compile (cached on disk)
    steps = _steps_for(args.point)
    load_before = os.getloadavg()[0]
    rows, same, starts = [], True, []
    with tempfile.TemporaryDirectory() as tmp:
        for label, seconds in (("short", args.short), ("long", args.long)):
            n = max(2, math.ceil(seconds / args.point))
            grid = {"S": [16], "gamma": [0.9], "seed": list(range(n)), "steps": [steps]}
            stores = {m: Path(tmp, f"{label}_{m}.sqlite") for m in ("serial", "cold", "auto")}
            times, where = {}, {}
            for mode in stores:
                close_default_client()  # no warm cluster: every mode starts from nothing
                t0 = time.perf_counter()
                client = {"serial": "serial", "auto": None}.get(mode)
                if mode == "cold":
                    client = local_client(args.workers)
                    starts.append(time.perf_counter() - t0)
                summary = run_sweep(
                    bench.rollout_task, grid, store=stores[mode], client=client, progress=False
                )
                times[mode] = time.perf_counter() - t0  # closing the cluster is not counted
                where[mode] = summary.where
                if mode == "cold":
                    close_client(client)
            close_default_client()
            outs = [
                load_results(s, grid=grid)[["mean_return", "reward_max"]] for s in stores.values()
            ]
            same &= all(o.equals(outs[0]) for o in outs)
            per_point = float(load_results(stores["serial"])["wall_time"].median())
            rows.append((label, n, per_point, times, where["auto"]))
    load_after = os.getloadavg()[0]

    workers = args.workers or clients.workers_available()
    overhead = [times["cold"] - times["serial"] / workers for *_, times, _ in rows]
    print(
        f"sweep benchmark: {workers} workers on {os.cpu_count()} cores; starting a cold "
        f"LocalCluster took {', '.join(f'{s:.1f}' for s in starts)} s, and its whole overhead "
        f"(cold cluster time - serial time / workers) was {', '.join(f'{o:.1f}' for o in overhead)}"
        f" s; the automatic rule assumes {clients.CLUSTER_START_SECONDS:.0f} s"
    )
    head = f"{'sweep':<7}{'points':>7}{'s/pt':>6}{'serial s':>10}"
    head += f"{'cold cluster s':>22}{'auto s':>18}   auto ran"
    print(head)
    for label, n, per_point, times, where in rows:
        t_serial = times["serial"]
        cold_cell = f"{times['cold']:.1f} ({t_serial / times['cold']:.2f}x)"
        auto_cell = f"{times['auto']:.1f} ({t_serial / times['auto']:.2f}x)"
        line = f"{label:<7}{n:>7}{per_point:>6.2f}{t_serial:>10.1f}"
        print(f"{line}{cold_cell:>22}{auto_cell:>18}   {where}")
    print("(x): speed-up over serial measured in this run, serial time / time; > 1 is faster")
    print(
        f"machine: 1-min load average {load_before:.1f} before, {load_after:.1f} after (other "
        "processes competing for the cores lower every parallel speed-up)"
    )
    print(f"same stored numbers serial, cold cluster and auto: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
