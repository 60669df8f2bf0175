"""The sweep tasks and drivers of the experiment chapters (6: Gaussian squeeze, 7: constrained
exploration).

Each task is one grid point of :func:`smfq_lib.sweep.run_sweep`: it learns ``pi_k^est`` on the
``k``-agent subsystem (Algorithm 2 by default, exact operator) and runs Algorithm 3 on ``n``
agents with the count-level executor, naming the tie rule of every number
(``smfq_lib.learning.policy``), returning a dict of scalars for the results store. They
live in the package, not in the notebooks, so that Dask workers import them by name and the
notebooks hold no algorithm. :func:`seed_table` and :func:`mean_ci` read a store back for plots.
Chapter 7's two-zone variant: :func:`two_zone_start` (its start state), :func:`two_zone_point`
(the sweep task), :func:`learning_times` (timing, apart from every deterministic number) and
:func:`occupancy` (where the agents go).
"""

from __future__ import annotations

import time

import numpy as np

from smfq_lib.evaluate import policy_value
from smfq_lib.execute import rollout_counts
from smfq_lib.learning import learn
from smfq_lib.learning.policy import RULES
from smfq_lib.model.examples import box_cells, gaussian_squeeze, two_zone_exploration
from smfq_lib.sweep import load_results

__all__ = [
    "learning_times",
    "mean_ci",
    "occupancy",
    "seed_table",
    "squeeze_point",
    "two_zone_point",
    "two_zone_start",
]


def _all_in(system, state: int, agents: int) -> np.ndarray:
    """Counts over ``S_l`` with every one of ``agents`` agents in local state ``state``."""
    counts = np.zeros(system.S_l, dtype=np.int64)
    counts[state] = agents
    return counts


def squeeze_point(loads, mu, sigma, gamma, n, k, seed, rollouts, horizon, algorithm, exact=True):
    """Gaussian squeeze (Example 0.1): learn ``pi_k^est`` once and run it on ``n`` agents under
    every tie rule (``smfq_lib.learning.policy.RULES``).

    Every agent starts having sent load 0. Per rule ``r``: ``ret_r``, ``sem_r``, the mean
    discounted return (eq. 13) and its standard error over ``rollouts`` runs of ``horizon`` steps
    of the count-level executor; ``exact_r``, the exact value from the count chain
    (:func:`smfq_lib.evaluate.policy_value`), or None with ``exact=False`` (count chain too
    large). Also the learning time (kernels loaded beforehand by a ``k = 1`` run, so that a
    worker's first task is not charged for it) and table size, and the ``k``-agent subsystem's own
    optimal value and (rule "first") agent-1 action at the start state.

    The system is ``gaussian_squeeze(loads, mu, sigma, gamma)``; ``k`` and ``algorithm`` are
    passed to :func:`smfq_lib.learn` (``seed`` too), ``seed``, ``rollouts`` and ``horizon`` to
    the executor.
    """
    system = gaussian_squeeze(loads=loads, mu=mu, sigma=sigma, gamma=gamma)
    learn(system, 1, None, algorithm=algorithm, progress=False)  # load the kernels before timing
    q = learn(system, k, None, algorithm=algorithm, seed=seed, progress=False)
    start, others = _all_in(system, 0, n), _all_in(system, 0, k - 1)
    out = {
        "learn_seconds": q.seconds,
        "entries": int(q.Q.size),
        "subsystem_value": q.value(0, 0, others),
        "a_start": q.greedy(0, 0, others)[1],
    }
    for rule in RULES:
        run = rollout_counts(system, q, n, 0, start, horizon, rollouts, seed, rule=rule)
        out[f"ret_{rule}"] = run.mean()
        out[f"sem_{rule}"] = run.sem()
        out[f"exact_{rule}"] = policy_value(system, q, n, 0, start, rule=rule) if exact else None
    return out


def two_zone_start(system, n: int) -> tuple[int, np.ndarray]:
    """The start state ``(s_g, counts)`` that :func:`two_zone_exploration` recommends (``M = 3,
    d = 2``): the box at the top-right (``s_g = 1``), ``n // 2`` agents in cell r0c1 (next to
    zone A, r0c0) and the rest in r1c2 (next to zone B, r2c2). ``system``: that example (its sizes
    are checked); ``n``: the number of local agents."""
    if system.S_l != 9 or system.S_g != 4:
        raise ValueError(
            "two_zone_start is the start of two_zone_exploration(M=3, d=2) (S_g = 4, S_l = 9); "
            f"got S_g = {system.S_g}, S_l = {system.S_l}."
        )
    counts = np.zeros(system.S_l, dtype=np.int64)
    counts[1], counts[5] = n // 2, n - n // 2
    return 1, counts


def two_zone_point(slip, gamma, n, k, seed, rollouts, horizon, rule) -> dict:
    """Two-zone exploration (:func:`two_zone_exploration` with ``slip``, ``gamma``; ``M = 3,
    d = 2``): learn ``pi_k^est`` on ``k`` agents (Algorithm 2, exact operator) and run
    Algorithm 3 on ``n`` agents from :func:`two_zone_start` under tie rule ``rule`` with the
    count-level executor (streams keyed by ``seed``).

    Returns the mean discounted return over ``rollouts`` independent rollouts (eq. 13, truncated
    at ``horizon``), its standard error and the half-width of its 95% Student-t interval, and
    the table size. No wall time (see :func:`learning_times`).
    """
    system = two_zone_exploration(slip=slip, gamma=gamma)
    q = learn(system, k, None, algorithm="mean_field", progress=False)
    s_g, counts = two_zone_start(system, n)
    run = rollout_counts(
        system, q, n, s_g, counts, horizon, rollouts, seed, rule=rule, keep="returns"
    )
    return {"ret": run.mean(), "sem": run.sem(), "ci95": run.ci(0.95), "entries": int(q.Q.size)}


def learning_times(
    system, ks, repeats: int, algorithm: str = "mean_field", m=None, seed: int = 0
) -> np.ndarray:
    """Wall seconds of ``learn(system, k, m, algorithm=algorithm, seed=seed)`` for every ``k`` of
    ``ks``, ``repeats`` times each, shape ``(len(ks), repeats)``, after one untimed warm-up run
    per ``k`` (it compiles or loads the kernels, so no repeat is charged for it). ``m=None``:
    the exact operator (eq. 12); an integer: the empirical operator with ``m`` fixed samples per
    entry (eq. 8, 9), drawing them included. Timing only: keep it out of tables of deterministic
    numbers.
    """
    out = np.empty((len(ks), repeats))
    for i, k in enumerate(ks):
        learn(system, k, m, algorithm=algorithm, seed=seed, progress=False)  # warm-up, untimed
        for j in range(repeats):
            t0 = time.perf_counter()
            learn(system, k, m, algorithm=algorithm, seed=seed, progress=False)
            out[i, j] = time.perf_counter() - t0
    return out


def occupancy(
    system, q, n, s_g, counts, *, M, d, steps, rollouts, seed, rule=None, zones=()
) -> dict:
    """Where the agents go under ``pi_k^est`` (Algorithm 3, count-level executor, ``rollouts``
    runs of ``steps`` steps from ``(s_g, counts)``) on an ``M x M`` grid with a ``d x d`` box
    (:func:`constrained_exploration`, :func:`two_zone_exploration`).

    Returns, per time step ``t = 0 .. steps - 1``: ``share`` (mean share of the agents in every
    cell, shape ``(steps, S_l)``); ``box`` (the most frequent box position, a global state) and
    ``box_share`` (the share of rollouts with the box there); ``inside`` (mean share of agents
    inside the box); and for each ``zones`` entry ``(name, cells)`` the mean share of agents in
    those cells, under key ``name``. ``system``, ``q`` (the learned policy), ``n``, ``seed`` and
    ``rule`` are passed to :func:`smfq_lib.execute.rollout_counts`.
    """
    run = rollout_counts(
        system, q, n, s_g, counts, steps, rollouts, seed, record_counts=True, rule=rule
    )
    share = run.counts[:, :steps] / n  # (rollouts, steps, S_l)
    in_box = np.zeros((system.S_g, system.S_l))
    for b in range(system.S_g):
        in_box[b, sorted(box_cells(M, d, b))] = 1.0
    s_gt = run.s_g[:, :steps]
    freq = np.stack([np.bincount(s_gt[:, t], minlength=system.S_g) for t in range(steps)])
    out = {
        "share": share.mean(axis=0),
        "box": freq.argmax(axis=1),
        "box_share": freq.max(axis=1) / run.rollouts,
        "inside": (share * in_box[s_gt]).sum(axis=-1).mean(axis=0),
    }
    for name, cells in zones:
        out[name] = share[:, :, sorted(cells)].sum(axis=-1).mean(axis=0)
    return out


def seed_table(store, grid, column: str, ks, seeds) -> np.ndarray:
    """``column`` of a results store as an array ``(len(ks), len(seeds))``, row ``k``, col seed.

    ``store``: the results store; ``grid``: the sweep's grid (only its points are read);

    ``column``: an output of the task; ``ks``, ``seeds``: the rows and columns, in order.
    """
    res = load_results(store, grid=grid)
    missing = [c for c in ("k", "seed", column) if c not in res.columns]
    if missing:
        raise ValueError(
            f"the store has no column {missing[0]!r} (columns: {list(res.columns)}); run the "
            "sweep over the grid first, or name one of its columns."
        )
    k, seed, values = (res[c].to_numpy() for c in ("k", "seed", column))
    table = np.empty((len(ks), len(seeds)), dtype=values.dtype)
    for i, k_i in enumerate(ks):
        for j, s in enumerate(seeds):
            hit = np.flatnonzero((k == k_i) & (seed == s))
            if hit.size != 1:
                raise ValueError(
                    f"the store holds {hit.size} rows for k={k_i}, seed={s} in this grid; run "
                    "the sweep over the grid first."
                )
            table[i, j] = values[hit[0]]
    return table


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds (axis 1) and the half-width of its Student-t confidence interval.

    ``values``: an array ``(len(ks), seeds)`` (e.g. from :func:`seed_table`); ``level``: the

    confidence level (default 0.95). With one seed the half-width is 0.
    """
    S = values.shape[1]
    if S < 2:
        return values.mean(axis=1), np.zeros(values.shape[0])
    from scipy import stats  # here, not at import: scipy.stats takes ~1 s to import

    t = stats.t.ppf(0.5 + level / 2, S - 1)
    return values.mean(axis=1), t * values.std(axis=1, ddof=1) / np.sqrt(S)
