"""Chapter 13's driver: SUBSAMPLE-MFQ without a generative oracle (:func:`smfq_lib.learning.
learn_online`) against the generative-oracle learner given the same number of samples and the
exact ``pi_k^est``.

The matching. One online *sample* is one ``k``-subset of one observed transition of the
``n``-agent system: one global transition and ``k`` local ones (``learn_online(...).samples``,
``steps * draws``). One generative-oracle sample of the empirical operator (eq. 9) is the same:
one draw of ``s_g'`` and ``k`` draws of ``s_i'`` for one entry (:func:`smfq_lib.theory.
oracle_calls`). With ``E`` entries in Algorithm 2's table the oracle learner ``learn(system, k,
m)`` makes ``E m`` global and ``E m k`` local calls, so the oracle learner matched to ``S``
online samples is ``m = floor(S / E)``: at most ``S`` global and ``S k`` local draws. Below
``S = E`` it cannot make one sweep (``m = 0``) and has no point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smfq_lib._utils.chunks import run_chunks
from smfq_lib.evaluate import worst_case_gap
from smfq_lib.execute import iid_initial, rollout_counts
from smfq_lib.learning import learn
from smfq_lib.learning.online import learn_online_steps
from smfq_lib.theory import oracle_calls

__all__ = ["matched_m", "gap_vs_steps", "samples_to_reach", "returns_at_large_n"]


def matched_m(system, k: int, samples: int) -> int:
    """``m = floor(samples / E)``: the generative-oracle learner whose global oracle calls
    (:func:`smfq_lib.theory.oracle_calls`, Algorithm 2) do not exceed ``samples`` (0: none)."""
    E = oracle_calls(system.S_g, system.S_l, system.A_g, system.A_l, k, 1, "mean_field")["global"]
    return int(samples // E)


def gap_vs_steps(
    system, n, ks, steps_grid, seeds, *, epsilon, omega, restart, initial=None, progress=False
):
    """Worst-case exact gaps (over every start state, :func:`smfq_lib.evaluate.worst_case_gap`,
    default tie rule) of the online policy after each number of environment steps, of the
    oracle learner given the matched ``m`` (:func:`matched_m`) and of the exact ``pi_k^est``.

    Online runs restart every ``restart`` steps from the i.i.d. start law ``initial``
    (:func:`smfq_lib.execute.iid_initial`; None: uniform), ``epsilon``-greedy, step sizes ``1/(1 +
    visits)^omega``; runs and oracle samples are seeded by ``seed``. One row per ``(k, steps,
    seed)``: ``samples``, ``online_gap``, ``moved`` (share of Q entries no longer 0: a lower
    bound on the share visited), ``oracle_m``, ``oracle_gap`` (NaN where ``m = 0``),
    ``exact_gap``. Each ``(k, seed)`` runs once, to the largest steps, and its tables at every
    steps of the grid are read off that run (:func:`~smfq_lib.learning.online.learn_online_steps`:
    the same tables as a run of each length); the runs go on threads (:func:`_online_runs`).
    """
    init = iid_initial(system) if initial is None else initial
    rows = []
    todo = [(k, s, seed) for k in ks for s in steps_grid for seed in seeds]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=f"online gaps n={n}")
    exact = {k: worst_case_gap(system, n, learn(system, k, None, progress=False))[0] for k in ks}
    grid = sorted(set(steps_grid))
    runs = _online_runs(system, n, [(k, seed) for k in ks for seed in seeds], grid,
                        epsilon=epsilon, omega=omega, restart=restart, initial=init)  # fmt: skip
    online = {pair: dict(zip(grid, qs, strict=True)) for pair, qs in runs.items()}
    for k, steps, seed in todo:
        q = online[k, seed][steps]
        m = matched_m(system, k, q.samples)
        oracle = np.nan
        if m >= 1:
            sampled = learn(system, k, m, algorithm="mean_field", seed=seed, progress=False)
            oracle = worst_case_gap(system, n, sampled)[0]
        rows.append(
            dict(
                k=k,
                steps=steps,
                seed=seed,
                samples=q.samples,
                online_gap=worst_case_gap(system, n, q)[0],
                moved=float(np.count_nonzero(q.Q) / q.Q.size),
                oracle_m=m,
                oracle_gap=oracle,
                exact_gap=exact[k],
            )  # fmt: skip
        )
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return pd.DataFrame(rows)


def _online_runs(system, n, pairs, steps, **learner) -> dict:
    """``{(k, seed): learn_online_steps(system, k, n, steps, seed=seed, **learner)}`` for every
    pair of ``pairs``, the runs on ``numba.get_num_threads()`` threads at once (each run is
    sequential in a ``nogil`` kernel and depends only on its own ``(k, seed)``: the same tables
    whatever the thread count)."""
    out = [None] * len(pairs)

    def call(lo, hi):
        for i in range(lo, hi):
            k, seed = pairs[i]
            out[i] = learn_online_steps(system, k, n, steps, seed=seed, **learner)

    run_chunks(call, len(pairs), chunk=1)
    return dict(zip(pairs, out, strict=True))


def samples_to_reach(df, delta):
    """Per ``k``: the fewest samples of the grid from which on the seeds' mean gap stays within
    ``delta`` of the exact ``pi_k^est``'s gap, online and with the oracle (NaN: never)."""
    out = []
    for k, g in df.groupby("k"):
        mean = g.groupby("samples")[["online_gap", "oracle_gap", "exact_gap"]].mean()
        row = {"k": k}
        for name in ("online", "oracle"):
            ok = (mean[f"{name}_gap"] <= mean["exact_gap"] + delta).to_numpy()
            # the first grid point from which every later one is within delta too
            tail = np.flip(np.cumprod(np.flip(ok)))
            row[f"{name}_samples"] = float(mean.index[tail.argmax()]) if tail.any() else np.nan
        out.append(row)
    return pd.DataFrame(out)


def returns_at_large_n(
    system, n, ks, steps, seed, *, epsilon, omega, restart, horizon, rollouts, initial=None
):
    """Monte Carlo discounted returns (count-level executor,
    :func:`smfq_lib.execute.rollout_counts`, start ``~ initial`` as in :func:`gap_vs_steps`) at
    ``n`` agents of the online policy learned on ``n`` agents for ``steps`` steps, of the oracle
    learner with the matched ``m`` and of the exact ``pi_k^est``. One row per ``k``: the three
    means and standard errors."""
    init = iid_initial(system) if initial is None else initial
    rows = []
    runs = _online_runs(system, n, [(k, seed) for k in ks], [steps], epsilon=epsilon,
                        omega=omega, restart=restart, initial=init)  # fmt: skip
    for k in ks:
        q = runs[k, seed][0]
        m = matched_m(system, k, q.samples)
        policies = {"online": q, "exact": learn(system, k, None, progress=False)}
        if m >= 1:
            policies["oracle"] = learn(
                system, k, m, algorithm="mean_field", seed=seed, progress=False
            )
        row = {"k": k, "oracle_m": m}
        for name in ("online", "oracle", "exact"):
            row[f"{name}_return"] = row[f"{name}_sem"] = np.nan
            if name in policies:
                r = rollout_counts(system, policies[name], n, None, None, horizon, rollouts,
                                   seed, initial=init, keep="returns")  # fmt: skip
                row[f"{name}_return"], row[f"{name}_sem"] = r.mean(), r.sem()
        rows.append(row)
    return pd.DataFrame(rows)
