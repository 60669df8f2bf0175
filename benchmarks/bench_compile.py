"""The first run: Numba compilation of a fresh clone (cold) vs a filled cache (warm).

Runs the same script twice in fresh processes with ``NUMBA_CACHE_DIR`` pointed at one new
temporary directory: the first run compiles every kernel it touches (what a new user, and CI,
pays), the second loads them from the cache. The script times ``import smfq_lib``, the first
``learn`` (exact, default settings), the first ``rollout_counts`` and ``rollout_agents``, the
first exact evaluation (``policy_value_table`` + ``optimal_value_table``), a first sampled and a
first tabular ``learn``. The cold run also lists the kernels whose compilation took longest
(seconds including the kernels they call, from Numba's ``numba:compile`` events) and every kernel
compiled more than once (several type signatures: each is a separate compilation).

Usage: ``python benchmarks/bench_compile.py [--top 15]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

_PROBE = textwrap.dedent(
    """
    import json, time
    t0 = time.perf_counter()
    import numpy as np
    import smfq_lib
    from smfq_lib.evaluate import optimal_value_table, policy_value_table
    from smfq_lib.examples import random_system
    from smfq_lib.execute import rollout_agents, rollout_counts
    from smfq_lib.learning import learn
    from numba.core import event
    out = {"import": time.perf_counter() - t0}
    rec = event.RecordingListener()
    event.register("numba:compile", rec)
    s = random_system(2, 2, 2, 2, seed=0)
    c = np.array([5, 5])
    steps = [
        ("first learn (exact)", lambda: learn(s, 3, None, progress=False)),
        ("first rollout_counts", lambda: rollout_counts(s, q, 10, 0, c, 5, 4, 0)),
        ("first rollout_agents", lambda: rollout_agents(s, q, 10, 0, c, 5, 4, 0)),
        ("first evaluation", lambda: (policy_value_table(s, q, 6), optimal_value_table(s, 6))),
        ("first sampled learn", lambda: learn(s, 3, 5, progress=False)),
        ("first tabular learns", lambda: (learn(s, 2, None, algorithm="tabular",
                                                progress=False),
                                          learn(s, 2, 5, algorithm="tabular", progress=False))),
    ]
    for name, fn in steps:
        t = time.perf_counter()
        r = fn()
        out[name] = time.perf_counter() - t
        if name == "first learn (exact)":
            q = r
    starts, kernels = {}, []
    for ts, e in rec.buffer:
        f = e.data["dispatcher"].py_func
        key = (f.__module__ + "." + f.__qualname__, str(e.data["args"]))
        if e.is_start:
            starts[key] = ts
        else:
            kernels.append((ts - starts.pop(key, ts), key[0], key[1]))
    out["kernels"] = kernels
    print(json.dumps(out))
    """
)


def run_probe(cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=15, help="slowest kernels to list")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="smfq-numba-") as cache:
        cold = run_probe(cache)
        warm = run_probe(cache)
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    steps = [k for k in cold if k != "kernels"]
    head = f"{'step':<22} {'cold s':>8} {'warm s':>8} {'cold/warm':>9}"
    print(head)
    print("-" * len(head))
    for k in steps:
        print(f"{k:<22} {cold[k]:>8.2f} {warm[k]:>8.2f} {cold[k] / max(warm[k], 1e-9):>9.0f}")
    total_c = sum(cold[k] for k in steps)
    total_w = sum(warm[k] for k in steps)
    print(f"{'total':<22} {total_c:>8.2f} {total_w:>8.2f} {total_c / total_w:>9.0f}")
    own = [k for k in cold["kernels"] if k[1].startswith("smfq_lib.")]
    print(
        f"\ncold run: {len(cold['kernels'])} compilations ({len(own)} of smfq_lib kernels); "
        f"warm run: {len(warm['kernels'])}"
    )
    print("slowest smfq_lib kernels (seconds, including the kernels they call):")
    for sec, name, sig in sorted(own, reverse=True)[: args.top]:
        print(f"  {sec:6.2f}  {name}  {sig[:70]}")
    seen: dict = {}
    for _, name, sig in own:
        seen.setdefault(name, []).append(sig)
    multi = {n: s for n, s in seen.items() if len(s) > 1}
    print("smfq_lib kernels compiled for more than one signature:" + (" none" if not multi else ""))
    for name, sigs in multi.items():
        print(f"  {name}: {len(sigs)}")
        for sig in sigs:
            print(f"      {sig[:110]}")


if __name__ == "__main__":
    main()
