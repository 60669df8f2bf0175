"""The sweep tasks of the experiment chapters (6: Gaussian squeeze, 7: constrained exploration).

Each task is one grid point of :func:`smfq_lib.sweep.run_sweep`: it learns ``pi_k^est`` on the
``k``-agent subsystem (Algorithm 2 by default, exact operator) and runs Algorithm 3 on ``n``
agents with the count-level executor, naming the tie rule of every number (``smfq_lib.policy``),
returning a dict of scalars for the results store. They
live in the package, not in the notebooks, so that Dask workers import them by name and the
notebooks hold no algorithm. :func:`seed_table` and :func:`mean_ci` read a store back for plots.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from smfq_lib.evaluate import policy_value
from smfq_lib.examples import constrained_exploration, gaussian_squeeze
from smfq_lib.execute import rollout_counts
from smfq_lib.learning import learn
from smfq_lib.policy import RULES
from smfq_lib.sweep import load_results

__all__ = ["squeeze_point", "exploration_point", "seed_table", "mean_ci"]


def _all_in(system, state: int, agents: int) -> np.ndarray:
    """Counts over ``S_l`` with every one of ``agents`` agents in local state ``state``."""
    counts = np.zeros(system.S_l, dtype=np.int64)
    counts[state] = agents
    return counts


def squeeze_point(loads, mu, sigma, gamma, n, k, seed, rollouts, horizon, algorithm, exact=True):
    """Gaussian squeeze (Example 0.1): learn ``pi_k^est`` once and run it on ``n`` agents under
    every tie rule (``smfq_lib.policy.RULES``).

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


def exploration_point(
    M, d, slip, gamma, n, n_large, k, seed, rollouts, horizon, algorithm, rule="first"
) -> dict:
    """Constrained exploration (Example 0.2): learn ``pi_k^est``, run it on ``n`` and ``n_large``
    under tie rule ``rule`` (chapter 7's numbers are rule "first").

    Every agent starts in cell ``r0c0`` with the box at global state 0. Returns the mean
    discounted return and its standard error on both populations, the learning time and table
    size, and the ``k``-agent subsystem's optimal value at the start state.

    The system is ``constrained_exploration(M, d, gamma=gamma, slip=slip)``; ``k`` and
    ``algorithm`` are passed to :func:`smfq_lib.learn` (``seed`` too), ``seed``, ``rollouts`` and
    ``horizon`` to the executor.
    """
    system = constrained_exploration(M=M, d=d, slip=slip, gamma=gamma)
    q = learn(system, k, None, algorithm=algorithm, seed=seed, progress=False)
    out = {"learn_seconds": q.seconds, "entries": int(q.Q.size)}
    for tag, agents in (("n", n), ("large", n_large)):
        run = rollout_counts(
            system, q, agents, 0, _all_in(system, 0, agents), horizon, rollouts, seed, rule=rule
        )
        out[f"ret_{tag}"] = run.mean()
        out[f"sem_{tag}"] = run.sem()
    out["subsystem_value"] = q.value(0, 0, _all_in(system, 0, k - 1))
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
    t = stats.t.ppf(0.5 + level / 2, S - 1)
    return values.mean(axis=1), t * values.std(axis=1, ddof=1) / np.sqrt(S)
