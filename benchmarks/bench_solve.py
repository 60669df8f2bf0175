"""Value iteration vs policy iteration for the exact quantities of the chapters.

On ``random_system(2, S_l, 2, 2, seed=0)`` (gamma 0.9), in one run:

0. ``V*`` by ``optimal_value_table`` against QuantEcon's ``DiscreteDP`` policy iteration on the
   same count MDP, built here (:func:`quantecon_ddp`), at ``n = 25, 50, 100`` and ``200`` (where
   QuantEcon's dense transition array, 17.7 GB, does not fit: ours alone), with the ratio:
   medians of interleaved repeats; ours is the whole call (its MDP built from the system),
   QuantEcon's the solve alone (see :func:`quantecon_table`).

1. ``V*`` as Algorithm 2 at ``k = n`` (exact operator, tol 1e-12; the route of
   ``evaluate.optimal_value_table`` before it solved the count MDP directly) at ``n = 25, 50,
   100, 200`` (``S_l = 2``) and ``n = 20, 30`` (``S_l = 3``): sweeps, solves and seconds of
   both solvers and their ratio, and a reference: policy iteration on the count MDP written
   plainly in NumPy/SciPy
   (:func:`reference_vstar`, ``S_l = 2``: binomial laws convolved by FFT, dense evaluation solve),
   whose ``V*`` must equal the library's.
2. The full exact gap curve at ``n = 50, 100`` on ``random_system(2, 2, 2, 2, seed=25)``
   (chapter 8's system, which has a gap): ``V*``, then for every ``k = 1..n`` learn
   ``pi_k^est`` (``learn(system, k)``, tol 1e-8) and solve its value ``V^{pi_k^est}`` on ``n``
   agents; the worst-case gap over start states ``(V* - V^pi).max()``. Seconds with each solver
   and the ratio; the gaps must agree.

``--quantecon``: only table 0. ``--quick``: table 0 at ``n = 25, 50``; ``V*`` at ``n = 25, 50``
(``S_l = 2``) and ``20`` (``S_l = 3``), the curve at ``n = 30``. ``--scale``: only the exact gap
curves at scale, with the default solver (policy iteration) and a breakdown of the time:
``n = 200`` on ``random_system(2, 2, 2, 2, seed=25)``
(chapter 8's system) and ``n = 60`` on ``random_system(2, 3, 2, 2, seed=13)`` (the first seed
with ``S_l = 3`` whose gap at ``k = 1``, ``n = 6``, is not zero). The machine load
(``uptime``) is printed with every table.

Usage: ``python benchmarks/bench_solve.py [--quick | --scale | --quantecon]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import binom
from threadpoolctl import threadpool_limits
from timing import load

from smfq_lib.evaluate import clear_cache, optimal_value_table, policy_value_table
from smfq_lib.evaluate.count_mdp import CountMDP, solve_count_mdp
from smfq_lib.evaluate.values import VSTAR_TOL
from smfq_lib.learning import learn
from smfq_lib.model.examples import random_system

#: The reference holds a (triples x (n + 1)) law table per global state; skip it beyond this.
REFERENCE_MAX_BYTES = 2 * 2**30
#: QuantEcon's DiscreteDP holds a dense (state-action pairs x states) array; skip it beyond this.
QUANTECON_MAX_BYTES = 4 * 2**30
#: Memory budget of every learn / optimal_value_table call: the default (half the memory
#: available at the call) makes a long run fail when another process briefly takes the memory.
BUDGET = 8 * 2**30


def count_mdp(system, n):
    """The count MDP of a system with ``S_l = A_l = 2`` on ``n`` agents: state ``(s_g, x)``
    (``x`` agents in local state 0), action ``(a_g, u0, u1)`` = global action, how many of the
    ``x`` agents in state 0 and of the ``n - x`` in state 1 take local action 0. Returns ``x``,
    ``u0``, ``u1`` (one entry per triple, ``x`` ascending), per ``s_g`` the law ``D[s_g]`` of the
    next ``x'`` (triples x (n + 1): a sum of four binomials, convolved by FFT; ``s_g'`` is
    independent of it) and the reward ``R[s_g]`` (A_g x triples)."""
    S_g = system.S_g
    P_l, r_g, r_l = system.P_l, system.r_g, system.r_l
    x, u0, u1 = np.array(
        [(x, a, b) for x in range(n + 1) for a in range(x + 1) for b in range(n - x + 1)]
    ).T
    counts = (u0, x - u0, u1, n - x - u1)  # agents in cells (s, a) = (0,0), (0,1), (1,0), (1,1)
    cells = ((0, 0), (0, 1), (1, 0), (1, 1))
    D, R = [], []
    for sg in range(S_g):
        F = 1.0
        for (s, a), c in zip(cells, counts, strict=True):
            pmf = binom.pmf(np.arange(n + 1)[None, :], np.arange(n + 1)[:, None], P_l[s, sg, a, 0])
            F = F * np.fft.rfft(pmf, n=n + 1)[c]
        D.append(np.fft.irfft(F, n=n + 1))  # (triples, x'): law of x'
        loc = sum(c * r_l[s, sg, a] for (s, a), c in zip(cells, counts, strict=True)) / n
        R.append(r_g[sg][:, None] + loc[None, :])  # (A_g, triples)
    return x, u0, u1, D, R


def reference_vstar(system, n):
    """``V*[s_g, x]`` by policy iteration on the count MDP (:func:`count_mdp`) in plain
    NumPy/SciPy, from ``V = 0``."""
    S_g, g, P_g = system.S_g, system.gamma, system.P_g
    x, _, _, D, R = count_mdp(system, n)
    starts = np.searchsorted(x, np.arange(n + 2))
    V = np.zeros((S_g, n + 1))
    choice = None
    while True:
        EV = np.stack([D[sg] @ V.T for sg in range(S_g)])  # (S_g, triples, S_g')
        Q = np.stack([R[sg] + g * (P_g[sg] @ EV[sg].T) for sg in range(S_g)])  # (S_g, A_g, T)
        best = np.empty((S_g, n + 1), dtype=np.int64)
        for xx in range(n + 1):
            block = Q[:, :, starts[xx] : starts[xx + 1]].reshape(S_g, -1)
            best[:, xx] = block.argmax(axis=1)
        if choice is not None and np.array_equal(best, choice):
            return V
        choice = best
        ag, t = (
            choice // (starts[1:] - starts[:-1]),
            starts[:-1] + choice % (starts[1:] - starts[:-1]),
        )
        P = np.zeros((S_g, n + 1, S_g, n + 1))
        r = np.empty((S_g, n + 1))
        for sg in range(S_g):
            P[sg] = P_g[sg, ag[sg]][:, :, None] * D[sg][t[sg]][:, None, :]
            r[sg] = R[sg][ag[sg], t[sg]]
        N = S_g * (n + 1)
        V = np.linalg.solve(np.eye(N) - g * P.reshape(N, N), r.ravel()).reshape(S_g, n + 1)


def quantecon_ddp(system, n):
    """QuantEcon's ``DiscreteDP`` of the count MDP (:func:`count_mdp`), in its state-action
    pair form: ``R`` per pair, ``Q`` a dense (pairs x states) array (17.7 GB at ``n = 200``)."""
    from quantecon.markov import DiscreteDP

    S_g, A_g, P_g = system.S_g, system.A_g, system.P_g
    x, _, _, D, R = count_mdp(system, n)
    T, N = len(x), S_g * (n + 1)
    # pairs ordered (s_g, triple, a_g): sorted by state, as DiscreteDP wants, since the triples
    # are sorted by x; the actions of state (s_g, x) are numbered (triple - first triple) A_g + a_g
    Q = np.empty((S_g, T, A_g, S_g, n + 1))
    for sg in range(S_g):
        # FFT round-off leaves entries of -1e-17, which MarkovChain refuses: clip them to 0
        Q[sg] = np.maximum(D[sg], 0.0)[:, None, None, :] * P_g[sg][None, :, :, None]
    starts = np.searchsorted(x, np.arange(n + 2))
    s_idx = np.arange(S_g)[:, None, None] * (n + 1) + x[None, :, None] + np.zeros(A_g, np.int64)
    a_idx = ((np.arange(T) - starts[x])[:, None] * A_g + np.arange(A_g)) + np.zeros((S_g, 1, 1))
    R_pairs = np.stack(R).transpose(0, 2, 1).ravel()  # (S_g, T, A_g)
    a_idx = a_idx.astype(np.int64).ravel()
    return DiscreteDP(R_pairs, Q.reshape(-1, N), system.gamma, s_idx.ravel(), a_idx)


def _vstar(system, n, solver):
    t = time.perf_counter()
    kw = dict(tol=1e-12, progress=False, memory_budget=BUDGET)
    q = learn(system, n, None, algorithm="mean_field", solver=solver, **kw)
    return q, time.perf_counter() - t


def vstar_table(cases):
    print(f"\nV* = Algorithm 2 at k = n (exact, tol 1e-12); {load()}")
    head = (
        f"{'S_l':>3} {'n':>4} {'Q entries':>11} {'VI sweeps':>9} {'VI s':>8} {'PI sweeps':>9} "
        f"{'solves':>6} {'PI s':>7} {'VI/PI':>6} {'ref s':>7} {'ref/PI':>6} {'|PI-VI|':>8} "
        f"{'|PI-ref|':>8}"
    )
    print(head)
    print("-" * len(head))
    for S_l, n in cases:
        system = random_system(2, S_l, 2, 2, seed=0)
        vi, t_vi = _vstar(system, n, "value_iteration")
        pi, t_pi = _vstar(system, n, "policy_iteration")
        ref = err_ref = float("nan")
        T = (n + 1) * (n + 2) * (n + 3) // 6
        if S_l == 2 and T * (n + 1) * 8 * 6 <= REFERENCE_MAX_BYTES:
            t = time.perf_counter()
            V_ref = reference_vstar(system, n)
            ref = time.perf_counter() - t
            clear_cache()
            err_ref = np.abs(optimal_value_table(system, n, memory_budget=BUDGET) - V_ref).max()
        print(
            f"{S_l:>3} {n:>4} {pi.Q.size:>11,} {vi.sweeps:>9} {t_vi:>8.2f} {pi.sweeps:>9} "
            f"{pi.solves:>6} {t_pi:>7.2f} {t_vi / t_pi:>6.1f} {ref:>7.2f} {ref / t_pi:>6.1f} "
            f"{np.abs(pi.V - vi.V).max():>8.1e} {err_ref:>8.1e}"
        )
    print(
        "VI/PI = seconds of value iteration / policy iteration (each the whole learn call); ref "
        "= policy iteration on the count MDP in plain NumPy/SciPy (S_l = 2 only; skipped past "
        f"{REFERENCE_MAX_BYTES / 2**30:.0f} GiB of law tables); |PI-VI|, |PI-ref| = max "
        "difference of the V* tables."
    )


#: Timed repeats of each side per n in table 0 (interleaved, medians reported).
QUANTECON_REPEATS = {25: 21, 50: 9}


def _timed(fn):
    """``(result, seconds)`` of one call of ``fn``."""
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def quantecon_table(ns):
    """``optimal_value_table`` against QuantEcon's ``DiscreteDP`` policy iteration on the same
    count MDP (``random_system(2, 2, 2, 2, seed=0)``).

    What each time includes. Ours: the whole ``optimal_value_table`` call with its ``V*`` cache
    cleared: argument and memory checks, building the count MDP from the system (rewards, the
    two-cell law tables, the policy's laws) and policy iteration; only the index tables that
    depend on ``(n, S_l, A_l)`` alone (compositions, their marginal ranks, rank tables) are
    reused, as in any program that solves more than one system of a shape; the first (cold)
    call, which builds them, is printed apart. QuantEcon: ``ddp.solve("policy_iteration")``
    alone, from its default start (the greedy values of ``R``) and from ``v = 0``: its ``R`` and
    dense transition array are built beforehand (:func:`quantecon_ddp`, "QE build s", not
    counted), on one BLAS thread as ours (its best case on shared cores). "ours solve s" is the
    like-for-like pair of QuantEcon's: our policy iteration alone (``solve_count_mdp`` on a fresh
    ``CountMDP`` built beforehand, not counted), to the same tolerance as ``optimal_value_table``.
    The four calls run interleaved (ours, ours solve, QE, QE from 0, ours, ...), after one untimed
    call of each, so that both sides see the same machine load and each other's cache traffic;
    medians of ``QUANTECON_REPEATS`` (3 above n = 50)."""
    print(f"\nV*: optimal_value_table vs QuantEcon DiscreteDP (policy iteration); {load()}")
    head = (
        f"{'n':>4} {'reps':>4} {'ours cold s':>11} {'ours s':>7} {'ours solve s':>12} "
        f"{'QE build s':>10} {'QE PI s':>8} {'QE PI v=0 s':>11} {'ours/QE PI':>10} "
        f"{'solve/QE PI':>11} {'ours/QE v=0':>11} {'|ours-QE|':>9}"
    )
    print(head)
    print("-" * len(head))
    system = random_system(2, 2, 2, 2, seed=0)
    for n in ns:
        reps = QUANTECON_REPEATS.get(n, 3)

        def ours(n=n):
            clear_cache()
            return optimal_value_table(system, n, memory_budget=BUDGET)

        V, t_cold = _timed(ours)
        T = (n + 1) * (n + 2) * (n + 3) // 6
        dense = 8 * system.S_g * system.A_g * T * system.S_g * (n + 1)
        if dense > QUANTECON_MAX_BYTES:
            t_ours = float(np.median([_timed(ours)[1] for _ in range(reps)]))
            print(
                f"{n:>4} {reps:>4} {t_cold:>11.4f} {t_ours:>7.4f}   QuantEcon skipped: its dense "
                f"Q needs {dense / 2**30:.1f} GiB"
            )
            continue
        ddp, t_build = _timed(lambda n=n: quantecon_ddp(system, n))
        v0 = np.zeros(ddp.num_states)
        times = np.empty((reps, 4))

        def solve(n=n):  # (seconds, V) of policy iteration alone on a fresh count MDP
            op = CountMDP(system, n)
            return _timed(lambda: solve_count_mdp(system, n, VSTAR_TOL, False, op=op))[::-1]

        with threadpool_limits(1, user_api="blas"):  # as ours (smfq_lib._utils.blas): its best case
            calls = (
                lambda: _timed(ours)[::-1],
                solve,
                lambda ddp=ddp: _timed(lambda: ddp.solve(method="policy_iteration"))[::-1],
                lambda ddp=ddp, v0=v0: _timed(
                    lambda: ddp.solve(method="policy_iteration", v_init=v0)
                )[::-1],
            )
            first = [fn()[1] for fn in calls]  # one untimed call of each
            res = first[2]  # QuantEcon's result
            for i in range(reps):
                for j, fn in enumerate(calls):
                    times[i, j] = fn()[0]
        t_ours, t_solve, t_qe, t_qe0 = np.median(times, axis=0)
        err = np.abs(V - res.v.reshape(system.S_g, n + 1)).max()  # rank(c) = x, ascending
        err = max(err, np.abs(first[1].ravel() - res.v).max())
        print(
            f"{n:>4} {reps:>4} {t_cold:>11.4f} {t_ours:>7.4f} {t_solve:>12.4f} {t_build:>10.2f} "
            f"{t_qe:>8.4f} {t_qe0:>11.4f} {t_ours / t_qe:>10.2f} {t_solve / t_qe:>11.2f} "
            f"{t_ours / t_qe0:>11.2f} {err:>9.1e}"
        )
        del ddp, res
    print(
        "ours/QE < 1: optimal_value_table (the whole call, its MDP built from the system) is "
        "faster than QuantEcon's solve alone (its MDP built beforehand); solve/QE: both solves "
        "alone, each on an MDP built beforehand; medians of interleaved "
        f"repeats; QuantEcon skipped past {QUANTECON_MAX_BYTES / 2**30:.0f} GiB of dense "
        f"transitions. {load()}"
    )


def gap_curve(system, n, solver):
    """The worst-case exact gap for every k = 1..n (seconds, gaps)."""
    clear_cache()
    t = time.perf_counter()
    kw = dict(progress=False, memory_budget=BUDGET)
    q = learn(system, n, None, algorithm="mean_field", solver=solver, tol=1e-12, **kw)
    v_star = q.V  # read at the canonical representative (the k = n route to V*)
    from smfq_lib.model.combinatorics import compositions, rank

    comps = compositions(n, system.S_l)
    s1 = np.argmax(comps > 0, axis=1)
    others = comps.copy()
    others[np.arange(len(comps)), s1] -= 1
    v_star = v_star[:, s1, [rank(c) for c in others]]
    gaps = []
    for k in range(1, n + 1):
        pol = learn(system, k, None, solver=solver, **kw)
        gaps.append(
            float((v_star - policy_value_table(system, pol, n, memory_budget=BUDGET)).max())
        )
    return time.perf_counter() - t, np.array(gaps)


def curve_table(ns):
    print(f"\nfull exact gap curve, k = 1..n (S_l = 2, seed 25); {load()}")
    head = f"{'n':>4} {'VI s':>8} {'PI s':>8} {'VI/PI':>6} {'max |gap diff|':>14} {'gap k=1':>9}"
    print(head)
    print("-" * len(head))
    for n in ns:
        system = random_system(2, 2, 2, 2, seed=25)  # chapter 8's system: a gap to measure
        t_vi, g_vi = gap_curve(system, n, "value_iteration")
        t_pi, g_pi = gap_curve(system, n, "policy_iteration")
        print(
            f"{n:>4} {t_vi:>8.1f} {t_pi:>8.1f} {t_vi / t_pi:>6.1f} "
            f"{np.abs(g_vi - g_pi).max():>14.1e} {g_pi[0]:>9.2e}"
        )
    print(
        "each curve: V* (k = n, tol 1e-12), then learn(system, k) (tol 1e-8) and the exact value "
        "of pi_k^est on n agents for every k; the solver is used for every learn call."
    )


def scale_curve(S_l, n, seed):
    """The exact gap curve with the library's defaults, timed part by part."""
    system = random_system(2, S_l, 2, 2, seed=seed)
    clear_cache()
    t0 = time.perf_counter()
    v_star = optimal_value_table(system, n, memory_budget=BUDGET)
    t_star = time.perf_counter() - t0
    t_learn = t_value = 0.0
    sweeps = solves = 0
    gaps = []
    for k in range(1, n + 1):
        t = time.perf_counter()
        pol = learn(system, k, None, progress=False, memory_budget=BUDGET)
        t_learn += time.perf_counter() - t
        sweeps, solves = sweeps + pol.sweeps, solves + pol.solves
        t = time.perf_counter()
        gaps.append(
            float((v_star - policy_value_table(system, pol, n, memory_budget=BUDGET)).max())
        )
        t_value += time.perf_counter() - t
    total = time.perf_counter() - t0
    print(
        f"{S_l:>3} {n:>4} {seed:>4} {total:>8.1f} {t_star:>7.1f} {t_learn:>8.1f} {sweeps:>7} "
        f"{solves:>6} {t_value:>8.1f} {gaps[0]:>9.2e} {gaps[n // 2 - 1]:>9.2e} "
        f"{gaps[-1]:>9.1e}   {load()}"
    )


def scale_table():
    print("\nexact gap curves at scale (default solver: policy iteration)")
    head = (
        f"{'S_l':>3} {'n':>4} {'seed':>4} {'total s':>8} {'V* s':>7} {'learn s':>8} {'sweeps':>7} "
        f"{'solves':>6} {'V^pi s':>8} {'gap k=1':>9} {'gap n/2':>9} {'gap k=n':>9}"
    )
    print(head)
    print("-" * len(head))
    scale_curve(2, 200, 25)
    scale_curve(3, 60, 13)
    print(
        "total = V* + learn(system, k) for k = 1..n (sweeps, solves: summed over k) + the exact "
        "value of each pi_k^est on n agents (V^pi); gap = worst case over start states, "
        "(V* - V^pi).max(); load average after each curve."
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    ap.add_argument("--scale", action="store_true", help="only the gap curves at scale")
    ap.add_argument(
        "--quantecon", action="store_true", help="only V* against QuantEcon (n = 25..200)"
    )
    args = ap.parse_args()
    warm = random_system(2, 2, 2, 2, seed=1)  # compile / load every kernel first
    for solver in ("value_iteration", "policy_iteration"):
        policy_value_table(warm, learn(warm, 3, None, solver=solver, progress=False), 4)
    optimal_value_table(warm, 4)
    if args.scale:
        scale_table()
    elif args.quantecon:
        quantecon_table([25, 50, 100, 200])
    elif args.quick:
        quantecon_table([25, 50])
        vstar_table([(2, 25), (2, 50), (3, 20)])
        curve_table([30])
    else:
        quantecon_table([25, 50, 100, 200])
        vstar_table([(2, 25), (2, 50), (2, 100), (2, 200), (3, 20), (3, 30)])
        curve_table([50, 100])


if __name__ == "__main__":
    main()
