"""Learning time vs k of the linear learner (smfq_lib.linear) at the paper's sizes, beside a
plain NumPy fitted value iteration (:func:`numpy_fvi`) and the tabular learner (Algorithm 2,
``learn(..., algorithm="mean_field")``) where its table fits, with their ratios measured in the
same run.

The NumPy reference is what a user would write for the same fit: it takes the design and the
surrogate reward from the library (both computed once, outside any loop, and timed), draws the
``m`` fixed next-state samples per entry ONCE with vectorised NumPy from the library's keys
(counter-based splitmix64: the same draws, so the same ``theta`` up to round-off, printed), keeps
the distinct next states, and per iteration evaluates the model's closed-form value there (one
matmul per ``(s_g, s_1)`` group), forms the targets and projects them (one matmul).

The paper's Gaussian squeeze (``gaussian_squeeze()``: 10 loads, ``|Z_l| = 100``). Linear:
``learn_linear(system, k, linear_features(100), M=--M, m=1, tol=--tol)`` ([1, F], ridge 1 for
``k > 2`` as in chapter 10); tabular: the exact operator (``m=None``; the squeeze's dynamics are
deterministic, so the sampled operator is the same) for ``k <= --tab-kmax``, sized first by
``table_bytes``. Both learners are warmed up (kernels compiled) before timing; each row is the
best of ``--repeat`` runs. Columns: table entries of Algorithm 2, the linear model's parameters,
seconds of each, tabular / linear, linear / numpy (target: at most 1.5), the reference's
iterations alone (``loop s``, a stricter bar: the learner's time includes its draws) and the
largest difference of ``theta``. The machine load is printed with the table.

Usage: ``python benchmarks/bench_linear.py [--ks 1 2 3 4 8 16 32 50] [--tab-kmax 3] [--M 400]
[--repeat 2] [--tol 1e-4]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from timing import best, load

from smfq_lib._utils.blas import one_blas_thread
from smfq_lib.learning import learn, table_bytes
from smfq_lib.learning.rewards import mean_field_reward
from smfq_lib.linear import learn_linear, linear_features
from smfq_lib.linear.fitted import polya_design
from smfq_lib.linear.learner import _DESIGN_TAG
from smfq_lib.model.examples import gaussian_squeeze

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x):
    """splitmix64 on a uint64 array (wrapping arithmetic), as ``smfq_lib._utils.rng.splitmix64``."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _uniform(key, counter):
    """``smfq_lib._utils.rng.uniform`` on arrays: the ``counter``-th uniform of stream ``key``."""
    h = _mix(key ^ _mix(np.asarray(counter, np.uint64) + _M2))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _categorical(cdf, last, u):
    """Inverse-CDF draws: ``cdf`` (..., S) cumulative rows, ``u`` (...): the first ``s`` with
    ``u < cdf[s]``, else ``last`` (the last outcome of positive mass), as
    ``smfq_lib._utils.rng.categorical``."""
    below = u[..., None] < cdf
    return np.where(below.any(-1), below.argmax(-1), last)


def _last(P):
    """The last outcome of positive mass of each row of ``P``."""
    return P.shape[-1] - 1 - np.argmax(P[..., ::-1] > 0, axis=-1)


@one_blas_thread  # as the library's fit: one BLAS thread is faster on these small products
def numpy_fvi(system, k, features, M, m, ridge, tol, seed=0, max_iter=1000):
    """Fitted value iteration of ``learn_linear(system, k, features, M=M, m=m, ridge=ridge,
    tol=tol, seed=seed)`` (affine features) in plain NumPy (module docstring): its ``theta`` and
    the seconds of its iterations alone (without the design, R and the draws)."""
    S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
    t, gamma = k - 1, system.gamma
    Zd = np.zeros((M, Z_l), np.int64)  # the design and R as the library makes them
    key_seed = np.uint64(_mix(np.array(seed, np.uint64) ^ np.uint64(_DESIGN_TAG)))
    polya_design(M, t, Z_l, 0.1, key_seed, Zd)
    R = mean_field_reward(system, k, Zd)  # (S_g, S_l, M, A_l, A_g)
    Phi = features(Zd)
    proj = np.linalg.pinv(Phi) if ridge == 0 else np.linalg.solve(
        Phi.T @ Phi + ridge * np.eye(Phi.shape[1]), Phi.T
    )  # fmt: skip
    # entries e = (((s_g S_l + s_1) M + i) A_l + a_1) A_g + a_g, their fixed samples, once
    sg, s1, i, a1, ag = (x.ravel() for x in np.indices((S_g, S_l, M, A_l, A_g)))
    E = sg.size
    e = np.arange(E, dtype=np.uint64)
    key = _mix(_mix(np.array(seed, np.uint64)) ^ _mix(e * _M1))[:, None]  # stream_key(seed, e)
    cells = np.repeat(np.tile(np.arange(Z_l), (M, 1)).ravel(), Zd.ravel()).reshape(M, t)
    cdf_g, cdf_l = np.cumsum(system.P_g, -1), np.cumsum(system.P_l, -1)
    last_g, last_l = _last(system.P_g), _last(system.P_l)
    nxt = []
    for j in range(m):
        base = j * (t + 1)
        sgn = _categorical(cdf_g[sg, ag], last_g[sg, ag], _uniform(key[:, 0], base))
        s1n = _categorical(cdf_l[s1, sg, a1], last_l[s1, sg, a1], _uniform(key[:, 0], base + 1))
        zo = cells[i]  # (E, t): the others' cells, ascending
        u = _uniform(key, base + 2 + np.arange(t, dtype=np.uint64)[None, :])
        so_, sg_, ao_ = zo // A_l, sg[:, None], zo % A_l
        so = _categorical(cdf_l[so_, sg_, ao_], last_l[so_, sg_, ao_], u)
        cnt = (so[:, :, None] == np.arange(S_l)).sum(1)
        nxt.append(np.column_stack([sgn, s1n, cnt]))
    states, inv = np.unique(np.stack(nxt, 1).reshape(E * m, S_l + 2), axis=0, return_inverse=True)
    inv = inv.reshape(E, m)
    groups = [np.flatnonzero((states[:, 0] == g) & (states[:, 1] == s)) for g in range(S_g)
              for s in range(S_l)]  # fmt: skip
    C = states[:, 2:].astype(np.float64) / max(t, 1)
    blocks = S_g * S_l * A_l * A_g
    theta = np.zeros((blocks, features.d))
    fit_old = np.zeros((M, blocks))
    stop = tol * (1 - gamma) / gamma
    t0 = time.perf_counter()
    for _ in range(max_iter):
        th = theta.reshape(S_g, S_l, A_l, A_g, -1)
        B = th @ features.b  # (S_g, S_l, A_l, A_g)
        mw = (th @ features.W).reshape(S_g, S_l, A_l, A_g, S_l, A_l).max(-1)
        V = np.empty(len(states))
        for gs, rows in enumerate(groups):
            g, s = divmod(gs, S_l)
            q = B[g, s].reshape(-1) + C[rows] @ mw[g, s].reshape(-1, S_l).T
            V[rows] = q.max(1)
        Y = R.reshape(E) + gamma * V[inv].sum(1) / m
        Y = Y.reshape(S_g, S_l, M, A_l, A_g).transpose(2, 0, 1, 3, 4).reshape(M, blocks)
        theta = (proj @ Y).T
        fit = Phi @ theta.T
        done = np.abs(fit - fit_old).max() <= stop
        fit_old = fit
        if done:
            break
    return theta.reshape(S_g, S_l, A_l, A_g, features.d), time.perf_counter() - t0


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
    print(
        head + f"{'linear s':>9} {'iters':>6} {'tabular/linear':>15} {'numpy s':>8} "
        f"{'linear/numpy':>12} {'loop s':>7} {'lin/loop':>10} {'|theta diff|':>12}"
    )
    for k in args.ks:
        ridge = 0.0 if k <= 2 else 1.0
        fit = {}

        def run_linear(k=k, ridge=ridge, fit=fit):
            fit["q"] = learn_linear(system, k, feats, M=args.M, m=1, tol=args.tol, ridge=ridge)

        t_lin = best(run_linear, args.repeat)
        entries = system.S_g * system.S_l * math.comb(k - 2 + system.Z_l, system.Z_l - 1) * 10
        params = fit["q"].theta.size
        t_tab, ratio = "-", "-"
        if k <= args.tab_kmax:
            gib = table_bytes(system, k, None, "mean_field") / 2**30
            print(f"    (tabular learner at k = {k}: {gib:.2f} GiB)")
            seconds = best(
                lambda k=k: learn(system, k, None, algorithm="mean_field", progress=False),
                args.repeat,
            )
            t_tab, ratio = f"{seconds:10.2f}", f"{seconds / t_lin:15.2f}"
        iters = len(fit["q"].residuals)
        ref = {"loop": []}

        def run_numpy(k=k, ridge=ridge, ref=ref):
            ref["theta"], loop = numpy_fvi(system, k, feats, args.M, 1, ridge, args.tol)
            ref["loop"].append(loop)

        t_np = best(run_numpy, args.repeat)
        t_loop = min(ref["loop"])
        diff = np.abs(ref["theta"] - fit["q"].theta).max()
        print(
            f"{k:3d} {entries:14.3g} {params:14d} {t_tab:>10} {t_lin:9.2f} {iters:6d} {ratio:>15} "
            f"{t_np:8.2f} {t_lin / t_np:12.2f} {t_loop:7.2f} {t_lin / t_loop:10.2f} {diff:12.1e}"
        )
    print(
        "numpy s: the plain NumPy reference (numpy_fvi) from the design to theta; loop s: its "
        "iterations alone (draws excluded); linear s: the whole learn_linear call. Target: "
        "linear/numpy <= 1.5."
    )
    print(load())


if __name__ == "__main__":
    main()
