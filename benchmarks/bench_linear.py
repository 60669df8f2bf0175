"""Learning time vs k of the linear learner (smfq_lib.linear) at the paper's sizes, beside the
tabular learner (Algorithm 2, ``learn(..., algorithm="mean_field")``) where its table fits, with
their ratio measured in the same run.

The paper's Gaussian squeeze (``gaussian_squeeze()``: 10 loads, ``|Z_l| = 100``). Linear:
``learn_linear(system, k, linear_features(100), M=--M, m=1, tol=--tol)`` ([1, F], ridge 1 for
``k > 2`` as in chapter 10); tabular: the exact operator (``m=None``; the squeeze's dynamics are
deterministic, so the sampled operator is the same) for ``k <= --tab-kmax``, sized first by
``table_bytes``. Both learners are warmed up (kernels compiled) before timing; each row is the
best of ``--repeat`` runs. Columns: table entries of Algorithm 2, the linear model's parameters,
seconds of each, and tabular / linear. The machine load is printed with the table.

Usage: ``python benchmarks/bench_linear.py [--ks 1 2 3 4 8 16 32 50] [--tab-kmax 3] [--M 400]
[--repeat 2] [--tol 1e-4]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time

from smfq_lib.learning import learn, table_bytes
from smfq_lib.linear import learn_linear, linear_features
from smfq_lib.model.examples import gaussian_squeeze


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 4, 8, 16, 32, 50])
    parser.add_argument("--tab-kmax", type=int, default=3)
    parser.add_argument("--M", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--tol", type=float, default=1e-4)
    args = parser.parse_args()
    system = gaussian_squeeze()
    feats = linear_features(system.Z_l)
    learn(system, 1, None, algorithm="mean_field", progress=False)  # compile before timing
    learn_linear(system, 2, feats, M=8, m=1, max_iter=2)
    print(f"Gaussian squeeze, 10 loads (Z_l = 100), linear [1, F] with M = {args.M}; {load()}")
    head = f"{'k':>3} {'table entries':>14} {'linear params':>14} {'tabular s':>10} "
    print(head + f"{'linear s':>9} {'iters':>6} {'tabular/linear':>15}")
    for k in args.ks:
        ridge = 0.0 if k <= 2 else 1.0
        fit = {}

        def run_linear(k=k, ridge=ridge, fit=fit):
            fit["q"] = learn_linear(system, k, feats, M=args.M, m=1, tol=args.tol, ridge=ridge)

        t_lin = best_of(run_linear, args.repeat)
        entries = system.S_g * system.S_l * math.comb(k - 2 + system.Z_l, system.Z_l - 1) * 10
        params = fit["q"].theta.size
        t_tab, ratio = "-", "-"
        if k <= args.tab_kmax:
            gib = table_bytes(system, k, None, "mean_field") / 2**30
            print(f"    (tabular learner at k = {k}: {gib:.2f} GiB)")
            seconds = best_of(
                lambda k=k: learn(system, k, None, algorithm="mean_field", progress=False),
                args.repeat,
            )
            t_tab, ratio = f"{seconds:10.2f}", f"{seconds / t_lin:15.2f}"
        iters = len(fit["q"].residuals)
        print(
            f"{k:3d} {entries:14.3g} {params:14d} {t_tab:>10} {t_lin:9.2f} {iters:6d} {ratio:>15}"
        )
    print(load())


if __name__ == "__main__":
    main()
