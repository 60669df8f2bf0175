"""The online learner (``learn_online``: Algorithm 2's table from one trajectory of the n-agent
system, no generative oracle) against independent routes: the exact operator's fixed point
``Q_k*`` (``learn(system, k, None)``) for k < n, and ``V*`` (``optimal_value_table``) for k = n;
its greedy tables against ``mf_argmax``; determinism; refusals."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from threads import outputs_by_thread_count, register

import smfq_lib
from smfq_lib import learn
from smfq_lib.evaluate import optimal_value_table, policy_value_table
from smfq_lib.execute import iid_initial
from smfq_lib.learning import SubsampledQ, learn_online
from smfq_lib.learning import online as online_module
from smfq_lib.learning.argmax import mf_argmax, mf_argmax_at
from smfq_lib.model.combinatorics import compositions, marginal_ranks, rank
from smfq_lib.model.examples import majority_mode, random_system, two_zone_exploration
from smfq_lib.model.system import RewardNoise

#: Uniform random actions (epsilon = 1) visit every entry; after STEPS steps with omega = 0.6
#: every entry of Q is within TOL of Q_k* (values here are of order r~ / (1 - gamma) = 10-20).
STEPS = 2_000_000
TOL = 0.05


@pytest.mark.parametrize("seed", [3, 11, 27])
@pytest.mark.parametrize("k, n", [(2, 5), (3, 7)])
def test_converges_to_the_exact_Q_k_star_when_k_below_n(seed, k, n):
    """The sampled agents' next states come from the n-agent transition (the true global action
    depends on all n agents), yet given (s_g, a_g, s_i, a_i) they move as in the k-agent
    subsystem: the fixed point is Q_k* of the exact operator (eq. 12), not something else."""
    system = random_system(2, 2, 2, 2, gamma=0.9, seed=seed)
    exact = learn(system, k, None, algorithm="mean_field")
    q = learn_online(system, k, n, STEPS, epsilon=1.0, omega=0.6, seed=seed)
    assert q.Q.shape == exact.Q.shape and q.samples == STEPS and q.steps == STEPS
    err = np.abs(q.Q - exact.Q).max()
    assert err < TOL, err
    # the error is the learner's, not an artefact of the tolerance: 100x fewer steps miss it
    short = learn_online(system, k, n, STEPS // 100, epsilon=1.0, omega=0.6, seed=seed)
    assert np.abs(short.Q - exact.Q).max() > 2 * err


def test_several_samples_per_step_keep_the_fixed_point():
    """draws = 4 k-subsets of each transition (they share s_g' and overlap): each is unbiased
    given the history before the step, so the fixed point is still Q_k*."""
    system = random_system(2, 2, 2, 2, gamma=0.9, seed=3)
    exact = learn(system, 2, None, algorithm="mean_field")
    q = learn_online(system, 2, 5, STEPS // 4, epsilon=1.0, seed=3, draws=4)
    assert q.samples == STEPS and np.abs(q.Q - exact.Q).max() < TOL


def test_k_equals_n_is_q_learning_on_the_count_mdp():
    """k = n: the sample is the population; the greedy value table read at the canonical
    representative converges to V*, and the greedy policy attains V* (exactly)."""
    system = random_system(2, 2, 2, 2, gamma=0.8, seed=5)
    n = 3
    q = learn_online(system, n, n, STEPS, epsilon=1.0, omega=0.6, seed=1)
    v_star = optimal_value_table(system, n)
    online_v = np.empty_like(v_star)
    for counts in compositions(n, system.S_l):
        s1 = int(np.argmax(counts > 0))
        c = counts.copy()
        c[s1] -= 1
        for s_g in range(system.S_g):
            online_v[s_g, rank(counts)] = q.V[s_g, s1, rank(c)]
    assert np.abs(online_v - v_star).max() < TOL
    v_pi = policy_value_table(system, q, n, rule="first")
    assert np.abs(v_pi - v_star).max() < 1e-9


def test_epsilon_greedy_learns_majority_mode_policy():
    """The default behaviour (epsilon-greedy on the current pi_k): the online policy of
    majority_mode(k = 3) is as good as the exact pi_k^est (the mode of a 3-sample)."""
    system = majority_mode(flip=0.1, gamma=0.8)
    n, k = 6, 3
    q = learn_online(system, k, n, 300_000, seed=2)
    exact = learn(system, k, None)
    v_q = policy_value_table(system, q, n)
    v_e = policy_value_table(system, exact, n)
    assert np.abs(v_q - v_e).max() < 1e-9


def test_restarts_visit_the_states_only_a_start_can_be_in():
    """On the 2x2 two-zone grid an agent never reaches the corner diagonal to the box: one
    trajectory leaves those entries of pi_1 at 0 (exactly a quarter of the (s_g, s_1) pairs),
    episodes restarted from the uniform i.i.d. law visit every entry."""
    system = two_zone_exploration(M=2, d=1)
    one = learn_online(system, 1, 4, 100_000, epsilon=1.0, seed=0)
    eps = learn_online(system, 1, 4, 100_000, epsilon=1.0, seed=0, restart=20)
    untouched = (one.Q == 0).all(axis=(2, 3, 4))
    assert untouched.sum() == system.S_g and (untouched.sum(axis=1) == 1).all()
    assert (eps.Q != 0).all()
    law = iid_initial(system, p_g=[1, 0, 0, 0], p_l=[0, 0, 0, 1])
    only = learn_online(system, 1, 4, 1, epsilon=1.0, restart=1, initial=law)
    assert np.flatnonzero(only.Q.any(axis=(2, 3, 4)).ravel()).tolist() == [3]  # (box 0, agent 3)


def test_reward_noise_leaves_the_fixed_point():
    """Theorem 0.13's zero-mean noise on every observed reward: still Q_k*."""
    base = random_system(2, 2, 2, 2, gamma=0.8, seed=8)
    system = replace(base, reward_noise=RewardNoise(0.3, 0.5))
    exact = learn(base, 2, None, algorithm="mean_field")
    q = learn_online(system, 2, 4, STEPS, epsilon=1.0, omega=0.6, seed=4)
    assert np.abs(q.Q - exact.Q).max() < 2 * TOL


def test_incremental_greedy_tables_equal_mf_argmax():
    """The behaviour's table, refreshed one value state at a time (mf_argmax_at), is
    mf_argmax's: on random Q with exact ties (rounded entries), every value state."""
    rng = np.random.default_rng(0)
    S_g, S_l, A_g, A_l, k = 2, 2, 3, 2, 4
    mr = marginal_ranks(k - 1, S_l, A_l)
    Cs = int(mr.max()) + 1
    members = np.argsort(mr, kind="stable").astype(np.int64)
    starts = np.searchsorted(mr[members], np.arange(Cs + 1)).astype(np.int64)
    for _ in range(5):
        Q = np.round(rng.uniform(0, 2, (S_g, S_l, mr.shape[0], A_l, A_g)), 0)
        V = np.empty((S_g, S_l, Cs))
        pi_g = np.empty((S_g, S_l, Cs), np.int64)
        pi_l = np.empty((S_g, S_l, Cs), np.int64)
        mf_argmax(Q, mr, V, pi_g, pi_l)
        for sg in range(S_g):
            for s1 in range(S_l):
                for c in range(Cs):
                    got = mf_argmax_at(Q, members, starts[c], starts[c + 1], sg, s1)
                    assert got == (V[sg, s1, c], pi_g[sg, s1, c], pi_l[sg, s1, c])


def test_result_is_a_subsampled_q_like_learn(tmp_path):
    system = random_system(2, 3, 2, 2, seed=1)
    q = learn_online(system, 3, 10**12, 20_000, seed=0, draws=2)
    assert isinstance(q, SubsampledQ) and q.algorithm == "mean_field" and q.solver == "online"
    assert q.m is None and q.steps == 20_000 and q.samples == 40_000
    assert q.system_fingerprint == system.fingerprint
    for rule in ("first", "uniform", "coordinated", "authors"):
        laws = q.action_laws(rule)
        assert np.allclose(laws.prob_g.sum(-1), 1) and np.allclose(laws.prob_l.sum(-1), 1)
    q.save(tmp_path / "q")
    r = SubsampledQ.load(tmp_path / "q")
    assert (r.steps, r.samples, r.solver) == (q.steps, q.samples, "online")
    np.testing.assert_array_equal(r.Q, q.Q)
    assert smfq_lib.learn_online is learn_online


_THREADS_SCRIPT = """
import numba
import numpy as np
from smfq_lib.learning import learn_online
from smfq_lib.model.examples import random_system
from smfq_lib.model.system import RewardNoise
from dataclasses import replace
from types import SimpleNamespace
system = replace(random_system(2, 3, 2, 2, seed=2), reward_noise=RewardNoise(0.2, 0.3))
q = learn_online(system, 3, 40, 30_000, seed=2**62 + 5, draws=2)
print(numba.get_num_threads(), q.Q.tobytes().hex(), float(q.Q.sum()).hex(), q.pi_g.tobytes().hex())
"""
register("online", _THREADS_SCRIPT)


def test_deterministic_whatever_threads_chunks_and_progress(monkeypatch):
    out = outputs_by_thread_count("online")
    assert out["1"] == out["2"] and len(out["1"]) == 3
    system = random_system(2, 3, 2, 2, seed=2)
    a = learn_online(system, 3, 40, 30_000, seed=9)
    b = learn_online(system, 3, 40, 30_000, seed=9, progress=True)
    monkeypatch.setattr(online_module, "_CHUNK", 777)
    c = learn_online(system, 3, 40, 30_000, seed=9)
    d = learn_online(system, 3, 40, 30_000, seed=10)
    np.testing.assert_array_equal(a.Q, b.Q)
    np.testing.assert_array_equal(a.Q, c.Q)
    assert not np.array_equal(a.Q, d.Q)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(k=5, n=4), "k = 5 exceeds"),
        (dict(k=0), "k must be"),
        (dict(n=2**53 + 1), "n must be at most"),
        (dict(steps=0), "steps must be"),
        (dict(steps=1.5), "steps must be"),
        (dict(epsilon=-0.1), "epsilon"),
        (dict(epsilon=1.5), "epsilon"),
        (dict(epsilon=float("nan")), "epsilon"),
        (dict(omega=0.5), "omega"),
        (dict(omega=1.2), "omega"),
        (dict(seed=-1), "seed"),
        (dict(draws=0), "draws"),
        (dict(s_g=7), "s_g"),
        (dict(counts=[1, 1]), "counts"),
        (dict(memory_budget=10), "memory budget"),
        (dict(restart=0), "restart"),
        (dict(restart=5, s_g=0), "leave s_g and counts None"),
        (dict(initial=iid_initial(random_system(2, 3, 2, 2, seed=1))), "pass restart"),
        (dict(restart=5, initial=SimpleNamespace(p_g=[0.5, 0.6], p_l=[1, 0, 0])), "sum to 1"),
        (dict(restart=5, initial=SimpleNamespace(p_g=[1, 0], p_l=[1, 0])), "initial.p_l"),
    ],
)
def test_refusals(kwargs, match):
    system = random_system(2, 3, 2, 2, seed=1)
    args = dict(system=system, k=2, n=4, steps=10) | kwargs
    with pytest.raises(ValueError, match=match):
        learn_online(**args)


def test_refuses_a_non_system_and_gamma_is_the_systems():
    with pytest.raises(ValueError, match="CooperativeSystem"):
        learn_online("system", 2, 4, 10)
    with pytest.raises(ValueError, match="gamma"):
        random_system(2, 2, 2, 2, gamma=1.0)


def test_one_step_sample_law_against_enumeration():
    """The first update's entry (s_g, s_1, zc, a_1, a_g), where Q moves from 0 to r_Delta, has
    the law obtained by enumerating every action profile of the n agents (each agent: uniform
    with probability epsilon, else its greedy action, 0 on the all-zero table) and every ordered
    choice of agent 1 and the k - 1 others: chi-square over 4000 seeds."""
    from itertools import permutations, product

    from scipy.stats import chisquare

    system = random_system(2, 2, 2, 2, seed=6)
    n, k, eps, s_g, states = 3, 2, 0.5, 1, [0, 0, 1]
    A_g, A_l, Z_l = system.A_g, system.A_l, system.Z_l
    law = {}
    p_act = lambda a, A: eps / A + (1 - eps) * (a == 0)  # noqa: E731
    for a_g in range(A_g):
        for acts in product(range(A_l), repeat=n):
            w = p_act(a_g, A_g) * np.prod([p_act(a, A_l) for a in acts])
            for pick in permutations(range(n), k):
                zc = np.zeros(Z_l, np.int64)
                for i in pick[1:]:
                    zc[states[i] * A_l + acts[i]] += 1
                e = (s_g, states[pick[0]], int(rank(zc)), acts[pick[0]], a_g)
                law[e] = law.get(e, 0.0) + w / (n * (n - 1))
    keys = sorted(law)
    seen = dict.fromkeys(keys, 0)
    runs = 4000
    for seed in range(runs):
        q = learn_online(system, k, n, 1, epsilon=eps, seed=seed, s_g=s_g, counts=[2, 1])
        (e,) = zip(*np.nonzero(q.Q), strict=True)
        seen[tuple(int(x) for x in e)] += 1
    observed = np.array([seen[e] for e in keys])
    assert observed.sum() == runs
    assert chisquare(observed, runs * np.array([law[e] for e in keys])).pvalue > 1e-3


def test_chapter_driver_matching_and_samples_to_reach():
    """Chapter 13's matching (oracle calls of learn(system, k, m) at most the online samples)
    and its reading of the first budget from which a gap stays within delta, on a hand-made
    table."""
    import pandas as pd

    from smfq_lib.chapters.online import matched_m, samples_to_reach
    from smfq_lib.theory import oracle_calls

    system = random_system(2, 3, 2, 2, seed=1)
    for k, samples in ((1, 5), (2, 1000), (3, 10**5)):
        m = matched_m(system, k, samples)
        E = oracle_calls(2, 3, 2, 2, k, 1, "mean_field")["global"]
        assert m * E <= samples < (m + 1) * E
        assert learn(system, k, max(m, 1), algorithm="mean_field").Q.size == E
    df = pd.DataFrame(
        dict(
            k=[1] * 4 + [2] * 4,
            samples=[10, 100, 1000, 10000] * 2,
            online_gap=[0.5, 0.1, 0.3, 0.1, 2.0, 1.0, 0.9, 0.8],
            oracle_gap=[0.1, 0.1, 0.1, 0.1, np.nan, 0.2, 0.2, 0.2],
            exact_gap=[0.1] * 4 + [0.2] * 4,
        )
    )
    r = samples_to_reach(df, 0.05).set_index("k")
    assert r.online_samples[1] == 10000 and np.isnan(r.online_samples[2])  # 0.1 at 100 not kept
    assert r.oracle_samples[1] == 10 and r.oracle_samples[2] == 100


@pytest.mark.parametrize("noise", [False, True])
def test_steps_of_one_run_are_the_runs_of_each_length(noise):
    """learn_online_steps: the table after each number of steps of one run (across the kernel's
    chunks of 20,000 steps, with restarts and reward noise) is learn_online's run of that
    length, bit for bit; refusals of a grid that is not increasing."""
    system = majority_mode(flip=0.05, gamma=0.9)
    if noise:
        system = replace(system, reward_noise=RewardNoise(w_g=0.3, w_l=0.2))
    law = iid_initial(system, p_l=[0.6, 0.4])
    kw = dict(epsilon=0.1, omega=0.6, seed=5, restart=50, initial=law)
    grid = [7, 20_000, 45_001]
    path = online_module.learn_online_steps(system, 3, 40, grid, **kw)
    for steps, q in zip(grid, path, strict=True):
        alone = learn_online(system, 3, 40, steps, **kw)
        assert q.steps == alone.steps == steps and q.reason == alone.reason
        for name in ("Q", "V", "pi_g", "pi_l"):
            assert np.array_equal(getattr(q, name), getattr(alone, name)), (steps, name)
    assert not np.array_equal(path[0].Q, path[-1].Q)  # the run moved between checkpoints
    for bad in ([], [5, 5], [10, 3], 100, [0, 4]):
        with pytest.raises(ValueError, match="steps"):
            online_module.learn_online_steps(system, 1, 4, bad, **kw)
