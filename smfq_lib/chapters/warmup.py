"""Compile every Numba kernel once, so that a reader's first chapter does not wait for it.

``python -m smfq_lib.chapters.warmup`` (``make install`` runs it) calls every public entry point
that reaches a kernel on tiny inputs: the learners (both algorithms, exact and sampled, both
solvers, reward noise, an aggregate reward, from a generative oracle; the online learner), the
action laws of every tie rule, both executors (every ``keep``, recorded counts, an i.i.d. start,
given local states), the exact evaluation, the linear learner (closed-form, tabulated and exact) and
its executor. The kernels are ``@njit(cache=True)``, so the machine code lands in the package's
``__pycache__`` folders and every later process loads it instead of compiling (docs/design.md §2,
"Kernels"). Nothing is written elsewhere and no result is kept. One progress line per step; the
whole run takes about a minute on an idle core, and seconds when the cache is already filled.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

__all__ = ["steps", "warm_up"]


def steps():
    """``(name, callable)`` pairs, one per group of kernels, each on tiny inputs."""
    from smfq_lib.evaluate import gap, optimal_value_table, policy_value_table
    from smfq_lib.evaluate.worst_case import worst_case_gap
    from smfq_lib.execute import iid_initial, rollout_agents, rollout_counts
    from smfq_lib.learning import learn, learn_online
    from smfq_lib.learning.policy import RULES, transfer
    from smfq_lib.linear import (
        learn_linear,
        linear_features,
        mean_features,
        one_hot_features,
        rollout_linear,
    )
    from smfq_lib.model.examples import gaussian_squeeze, majority_mode, random_system
    from smfq_lib.model.oracle import GenerativeOracle, inverse_cdf_samplers
    from smfq_lib.model.system import RewardNoise

    s = random_system(2, 2, 2, 2, seed=0)
    noisy = replace(s, reward_noise=RewardNoise(0.1, 0.1))
    sq = gaussian_squeeze(loads=3, mu=1.0, sigma=0.5)
    mm = majority_mode()
    draw_g, draw_l = inverse_cdf_samplers(s.P_g, s.P_l)
    sizes = dict(S_g=2, S_l=2, A_g=2, A_l=2, gamma=s.gamma, r_g=s.r_g, r_l=s.r_l)
    oracles = (  # uniforms mode (a system's own oracle) and Generator mode (a user's samplers)
        GenerativeOracle.from_system(s),
        GenerativeOracle(
            **sizes,
            sample_global=lambda s_g, a_g, rng: draw_g(s_g, a_g, rng.random(len(s_g))),
            sample_local=lambda s_i, s_g, a_i, rng: draw_l(s_i, s_g, a_i, rng.random(len(s_i))),
        ),
    )
    c = np.array([3, 3])
    q = {}

    def learners():
        for alg in ("mean_field", "tabular"):
            for m in (None, 3):
                for solver in ("value_iteration", "policy_iteration"):
                    q[alg, m] = learn(s, 3, m, algorithm=alg, solver=solver, progress=False)
                learn(noisy, 3, 3, algorithm=alg, progress=False)
                learn(s, 2, 300, algorithm=alg, progress=False)  # multiplicities in uint16
                for oracle in oracles:
                    learn(oracle, 3, 3, algorithm=alg, progress=False)
        q["sq"] = learn(sq, 2, None, progress=False)
        learn(mm, 2, None, progress=False)
        learn_online(noisy, 3, 6, 100)  # the online learner (one kernel, noise or not)

    def laws():
        for key in (("mean_field", None), ("tabular", None), ("mean_field", 3)):
            for rule in RULES:
                q[key].action_laws(rule)

    def executors():
        for run in (rollout_counts, rollout_agents):
            for rule in RULES:
                run(s, q["mean_field", None], 6, 0, c, 3, 2, 0, rule=rule)
            run(s, q["mean_field", None], 6, 0, c, 3, 2, 0, keep="returns")
            run(s, q["mean_field", None], 6, 0, c, 3, 2, 0, record_counts=True)
            run(s, q["mean_field", None], 6, None, None, 3, 2, 0, initial=iid_initial(s))
            run(noisy, transfer(q["mean_field", None], noisy), 6, 0, c, 3, 2, 0)
            run(sq, q["sq"], 6, 0, np.array([2, 2, 2]), 3, 2, 0, record_counts=True)
        local = np.array([0, 0, 0, 1, 1, 1])
        rollout_agents(s, q["mean_field", None], 6, 0, None, 3, 2, 0, local_states=local)

    def evaluation():
        for rule in RULES:
            policy_value_table(s, q["mean_field", None], 6, rule=rule)
        optimal_value_table(s, 6)
        gap(s, q["mean_field", None], 6, 0, c)
        worst_case_gap(s, 4, 2)
        worst_case_gap(sq, 4, 2)

    def linear():
        lin = {}
        for m in (1, 2):
            lin[m] = learn_linear(s, 3, M=8, m=m, max_iter=3)
        learn_linear(sq, 3, mean_features(sq.aggregate.phi), M=8, m=1, ridge=1.0, max_iter=3)
        learn_linear(noisy, 3, M=8, m=1, max_iter=3)
        learn_linear(s, 3, one_hot_features(3, s.Z_l), M=None, m=None, max_iter=3)
        learn_linear(s, 3, one_hot_features(3, s.Z_l), M=None, m=1, max_iter=3)
        learn_linear(s, 3, linear_features(s.Z_l), M=None, m=None, max_iter=3)
        for rule in ("first", "coordinated"):
            rollout_linear(s, lin[1], 6, 0, c, 3, 2, 0, rule=rule)  # on its law tables
            rollout_linear(s, lin[1], 6, 0, c, 1, 1, 0, rule=rule)  # per agent (TABLE_BYTES)
        for rule in RULES:
            lin[1].action_laws(rule)
        rollout_linear(s, lin[1], 6, 0, c, 1, 1, 0, keep="returns")
        rollout_linear(s, lin[1], 6, 0, c, 1, 1, 0, record_counts=True)
        rollout_linear(noisy, transfer(lin[1], noisy), 6, 0, c, 1, 1, 0)

    return [
        (
            "learn: Algorithms 1 and 2, exact and sampled, both solvers, from a generative "
            "oracle; learn_online",
            learners,
        ),
        ("action laws of every tie rule", laws),
        ("rollout_counts, rollout_agents", executors),
        ("exact values: policy_value, V*, worst-case gap", evaluation),
        ("learn_linear, rollout_linear", linear),
    ]


def warm_up(out=sys.stdout) -> float:
    """Run :func:`steps` with one progress line per step; returns the seconds taken."""
    t0 = time.perf_counter()
    todo = steps()
    for i, (name, fn) in enumerate(todo, 1):
        t = time.perf_counter()
        fn()
        print(
            f"smfq warm-up [{i}/{len(todo)}] {name}: {time.perf_counter() - t:.1f} s",
            file=out,
            flush=True,
        )
    total = time.perf_counter() - t0
    print(f"smfq warm-up: Numba kernels compiled and cached in {total:.0f} s", file=out)
    return total


if __name__ == "__main__":
    warm_up()
