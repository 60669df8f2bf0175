"""Speed of learning from a generative oracle against the built-in sampler, in the same run.

On ``random_system(2, 2, 2, 2)``, ``learn(source, k, m, seed=0)`` (the sampled operator, eq. 8
or 9, solved to the default tolerance) through three sources of the same fixed samples' law:

* ``built-in``: the system itself (the fused Numba sampling kernels);
* ``oracle (uniforms)``: ``GenerativeOracle.from_system(system)``, inverse CDF in NumPy on the
  built-in uniforms (the same ``Q`` bit for bit, checked here);
* ``oracle (Generator)``: a plain-NumPy sampler written here, a ``numpy.random.Generator`` per
  block (another sample of the same law).

Each time is the best of ``--repeat`` runs (set-up included, after one warm-up run that compiles
the kernels); the ratios are against the built-in time of the same row. Target: the oracle path
within 2x of the built-in. The machine load is printed with the table.

Usage: ``python benchmarks/bench_oracle.py [--repeat 3] [--m 50]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from timing import load

from smfq_lib import GenerativeOracle, learn
from smfq_lib.model.examples import random_system

CASES = (("mean_field", 8), ("mean_field", 16), ("tabular", 4))


def numpy_oracle(system) -> GenerativeOracle:
    """A Generator-mode oracle written as a user would: inverse CDF by comparisons."""

    def sampler(P):
        cdf = np.cumsum(P, axis=-1)

        def sample(*args):
            *query, rng = args
            u = rng.random(query[0].shape[0])
            return (u[:, None] >= cdf[tuple(query)][:, :-1]).sum(axis=1)

        return sample

    return GenerativeOracle(
        S_g=system.S_g,
        S_l=system.S_l,
        A_g=system.A_g,
        A_l=system.A_l,
        gamma=system.gamma,
        r_g=system.r_g,
        r_l=system.r_l,
        sample_global=sampler(system.P_g),
        sample_local=sampler(system.P_l),
    )


def best(fn, repeat):
    fn()  # warm-up (compilation, caches)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--m", type=int, default=50)
    args = parser.parse_args(argv)
    system = random_system(2, 2, 2, 2, seed=0)
    sources = {
        "built-in": system,
        "oracle (uniforms)": GenerativeOracle.from_system(system),
        "oracle (Generator)": numpy_oracle(system),
    }
    print(f"random_system(2, 2, 2, 2), m = {args.m}, best of {args.repeat}; {load()}")
    head = f"{'algorithm':>10} {'k':>3} {'draws':>10}"
    for name in sources:
        head += f" {name + ' s':>22}"
    print(head + f" {'ratio uniforms':>15} {'ratio Generator':>16}")
    for alg, k in CASES:
        times, results = {}, {}
        for name, source in sources.items():
            times[name], results[name] = best(
                lambda s=source, k=k, a=alg: learn(
                    s, k, args.m, algorithm=a, seed=0, progress=False
                ),
                args.repeat,
            )
        assert np.array_equal(results["built-in"].Q, results["oracle (uniforms)"].Q)
        calls = results["built-in"].oracle_calls
        row = f"{alg:>10} {k:>3} {calls['global'] + calls['local']:>10}"
        for name in sources:
            row += f" {times[name]:>22.3f}"
        ref = times["built-in"]
        row += f" {times['oracle (uniforms)'] / ref:>15.2f}"
        row += f" {times['oracle (Generator)'] / ref:>16.2f}"
        print(row)
    print(load())


if __name__ == "__main__":
    main()
