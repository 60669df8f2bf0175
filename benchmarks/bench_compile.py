"""The first run: Numba compilation of a fresh clone (cold) vs a filled cache (warm).

Runs the same script twice in fresh processes with ``NUMBA_CACHE_DIR`` pointed at one new
temporary directory: the first run compiles every kernel it touches (what a new user, and CI,
pays), the second loads them from the cache. The script times ``import smfq_lib``, the first
``learn`` of Algorithm 2 (exact), the first ``rollout_counts`` and ``rollout_agents``, the first
exact evaluation (``policy_value_table`` + ``optimal_value_table``), then the first sampled
Algorithm 2 and the first exact and sampled Algorithm 1 learns. The cold run also lists the
kernels whose compilation took longest (seconds including the kernels they call, from Numba's
``numba:compile`` events) and every kernel compiled more than once (several type signatures:
each is a separate compilation).

``--source DIR`` runs the same probe on the ``smfq_lib`` package found in ``DIR`` (e.g. another
commit: ``git archive main smfq_lib | tar -x -C /tmp/main``), for a before/after comparison in
one session.

Usage: ``python benchmarks/bench_compile.py [--top 15] [--source DIR]``.
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
    from smfq_lib.model.examples import random_system
    from smfq_lib.execute import rollout_agents, rollout_counts
    from smfq_lib.learning import learn
    from numba.core import event
    out = {"import": time.perf_counter() - t0}
    rec = event.RecordingListener()
    event.register("numba:compile", rec)
    s = random_system(2, 2, 2, 2, seed=0)
    c = np.array([5, 5])
    mf = dict(algorithm="mean_field", progress=False)
    tab = dict(algorithm="tabular", progress=False)
    steps = [
        ("first learn, Alg. 2 exact", lambda: learn(s, 3, None, **mf)),
        ("first rollout_counts", lambda: rollout_counts(s, q, 10, 0, c, 5, 4, 0)),
        ("first rollout_agents", lambda: rollout_agents(s, q, 10, 0, c, 5, 4, 0)),
        ("first evaluation", lambda: (policy_value_table(s, q, 6), optimal_value_table(s, 6))),
        ("first learn, Alg. 2 m=5", lambda: learn(s, 3, 5, **mf)),
        ("first learn, Alg. 1 exact", lambda: learn(s, 3, None, **tab)),
        ("first learn, Alg. 1 m=5", lambda: learn(s, 3, 5, **tab)),
    ]
    for name, fn in steps:
        t = time.perf_counter()
        r = fn()
        out[name] = time.perf_counter() - t
        if name == "first learn, Alg. 2 exact":
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
    out["package"] = smfq_lib.__file__
    print(json.dumps(out))
    """
)


def run_probe(cache: str, source: str | None) -> dict:
    """The probe in a fresh process, in the cache directory (so that the current directory
    cannot shadow the package), with ``source`` first on the path if given."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    if source:
        env["PYTHONPATH"] = os.path.abspath(source)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        cwd=cache,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=15, help="slowest kernels to list")
    ap.add_argument("--source", help="directory holding the smfq_lib to probe")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="smfq-numba-") as cache:
        cold = run_probe(cache, args.source)
        warm = run_probe(cache, args.source)
    print(f"smfq_lib from {cold.pop('package')}")
    warm.pop("package")
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    steps = [k for k in cold if k != "kernels"]
    head = f"{'step':<26} {'cold s':>8} {'warm s':>8} {'cold/warm':>9}"
    print(head)
    print("-" * len(head))
    for k in steps:
        print(f"{k:<26} {cold[k]:>8.2f} {warm[k]:>8.2f} {cold[k] / max(warm[k], 1e-9):>9.0f}")
    total_c = sum(cold[k] for k in steps)
    total_w = sum(warm[k] for k in steps)
    print(f"{'total':<26} {total_c:>8.2f} {total_w:>8.2f} {total_c / total_w:>9.0f}")
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
