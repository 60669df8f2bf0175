"""smfq_lib.execute: the agent-level (literal Algorithm 3) and count-level executors agree with
each other and with the exact value of smfq_lib.evaluate; seeding is thread-count independent."""

from __future__ import annotations

import math
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from brute_force import random_policy, tiny_system
from threads import outputs_by_thread_count, register

from smfq_lib.evaluate import policy_value
from smfq_lib.execute import iid_initial, rollout_agents, rollout_counts


def _agree(a, b, exact=None):
    """Both Monte Carlo means within 4 standard errors of each other and of the exact value."""
    se = math.hypot(a.sem(), b.sem())
    assert abs(a.mean() - b.mean()) < 4 * se, (a, b)
    if exact is not None:
        assert abs(a.mean() - exact) < 4 * a.sem(), (a, exact)
        assert abs(b.mean() - exact) < 4 * b.sem(), (b, exact)


CASES = [
    # S_g, S_l, A_g, A_l, n, k, counts
    (2, 2, 2, 2, 4, 1, (1, 3)),
    (2, 2, 2, 2, 4, 2, (2, 2)),
    (2, 2, 2, 2, 4, 4, (3, 1)),
    (2, 3, 2, 2, 6, 3, (1, 2, 3)),
    (2, 2, 3, 2, 30, 5, (10, 20)),
]


@pytest.mark.parametrize("S_g, S_l, A_g, A_l, n, k, counts", CASES)
def test_agent_and_count_executors_match_exact_value(S_g, S_l, A_g, A_l, n, k, counts):
    system = tiny_system(S_g, S_l, A_g, A_l, gamma=0.8, seed=n + k)
    pol = random_policy(system, k, 7 * n + k)
    exact = policy_value(system, pol, n, 1, counts)
    a = rollout_agents(system, pol, n, 1, counts, 100, 3000, seed=1)
    c = rollout_counts(system, pol, n, 1, counts, 100, 3000, seed=2)
    assert a.rewards.shape == (3000, 100) and c.returns.shape == (3000,)
    _agree(a, c, exact)


def test_aggregate_reward_path():
    system = tiny_system(2, 2, 2, 2, gamma=0.8, seed=3, aggregate=True)
    pol = random_policy(system, 2, 3)
    n = 5
    exact = policy_value(system, pol, n, 0, [2, 3])
    a = rollout_agents(system, pol, n, 0, [2, 3], 100, 3000, seed=3)
    c = rollout_counts(system, pol, n, 0, [2, 3], 100, 3000, seed=4)
    _agree(a, c, exact)
    # the aggregate term is really added: recompute it from the traces of a decomposed copy
    assert np.all(a.rewards >= 0) and a.mean() > 0


def test_iid_initial_and_local_states():
    system = tiny_system(2, 2, 2, 2, gamma=0.8, seed=8)
    pol = random_policy(system, 3, 8)
    n = 6
    init = iid_initial(system, p_l=[0.3, 0.7])
    exact = policy_value(system, pol, n, initial=init)
    a = rollout_agents(system, pol, n, None, None, 100, 3000, seed=5, initial=init)
    c = rollout_counts(system, pol, n, None, None, 100, 3000, seed=6, initial=init)
    _agree(a, c, exact)
    # weights over the count states (S_g, C(n, S_l)), indexed [s_g, rank(counts)]
    w = np.zeros((2, n + 1))
    w[0, 1], w[1, 5] = 0.25, 0.75
    exact = policy_value(system, pol, n, initial=w)
    a = rollout_agents(system, pol, n, None, None, 100, 3000, seed=15, initial=w)
    c = rollout_counts(system, pol, n, None, None, 100, 3000, seed=16, initial=w.ravel())
    _agree(a, c, exact)
    assert set(np.unique(c.s_g[:, 0])) == {0, 1}
    # a full local-state vector, in a scrambled order
    loc = np.array([1, 0, 1, 1, 0, 1])
    exact = policy_value(system, pol, n, 0, [2, 4])
    a = rollout_agents(system, pol, n, 0, None, 100, 3000, seed=7, local_states=loc)
    assert abs(a.mean() - exact) < 4 * a.sem()


def test_large_k_uses_stamp_deduplication():
    """k above the linear-scan limit of Floyd's sampler: agents still match counts."""
    system = tiny_system(1, 2, 2, 2, gamma=0.7, seed=9)
    n, k = 40, 30
    pol = random_policy(system, k, 9)
    exact = policy_value(system, pol, n, 0, [15, 25])
    a = rollout_agents(system, pol, n, 0, [15, 25], 60, 1500, seed=8)
    c = rollout_counts(system, pol, n, 0, [15, 25], 60, 1500, seed=9)
    _agree(a, c, exact)


def test_traces_and_large_population():
    system = tiny_system(2, 3, 2, 2, gamma=0.9, seed=1)
    pol = random_policy(system, 8, 1)
    n = 10**6
    c = rollout_counts(system, pol, n, 1, [n, 0, 0], 200, 4, seed=0, record_counts=True)
    assert c.counts.shape == (4, 200, 3)
    assert np.all(c.counts.sum(axis=2) == n) and np.all(c.counts[:, 0] == [n, 0, 0])
    assert np.all(c.s_g[:, 0] == 1) and c.a_g.shape == (4, 200)
    np.testing.assert_allclose(c.returns, c.rewards @ (0.9 ** np.arange(200)))
    a = rollout_agents(system, pol, 50, 0, [10, 20, 20], 5, 3, seed=0, record_counts=True)
    assert np.all(a.counts[:, 0] == [10, 20, 20]) and np.all(a.counts.sum(axis=2) == 50)


def test_same_seed_same_numbers_and_progress_does_not_change_them():
    system = tiny_system(2, 2, 2, 2, seed=2)
    pol = random_policy(system, 2, 2)
    for fn in (rollout_agents, rollout_counts):
        r1 = fn(system, pol, 9, 0, [4, 5], 20, 37, seed=11)
        r2 = fn(system, pol, 9, 0, [4, 5], 20, 37, seed=11, progress=True)
        r3 = fn(system, pol, 9, 0, [4, 5], 20, 37, seed=12)
        assert np.array_equal(r1.rewards, r2.rewards)
        assert not np.array_equal(r1.rewards, r3.rewards)
        # a rollout's numbers depend on (seed, rollout) only, not on how many rollouts run
        r4 = fn(system, pol, 9, 0, [4, 5], 20, 5, seed=11)
        assert np.array_equal(r1.rewards[:5], r4.rewards)


def test_validation_errors():
    system = tiny_system(2, 2, 2, 2, seed=0)
    pol = random_policy(system, 3, 0)
    for fn in (rollout_agents, rollout_counts):
        with pytest.raises(ValueError, match="k <= n"):
            fn(system, pol, 2, 0, [1, 1], 10, 2, 0)
        with pytest.raises(ValueError, match="sum to n"):
            fn(system, pol, 4, 0, [1, 1], 10, 2, 0)
        with pytest.raises(ValueError, match="horizon"):
            fn(system, pol, 4, 0, [2, 2], 0, 2, 0)
        with pytest.raises(ValueError, match="rollouts"):
            fn(system, pol, 4, 0, [2, 2], 10, 0, 0)
        with pytest.raises(ValueError, match="seed"):
            fn(system, pol, 4, 0, [2, 2], 10, 2, -1)
        with pytest.raises(ValueError, match="s_g"):
            fn(system, pol, 4, 2, [2, 2], 10, 2, 0)
        with pytest.raises(ValueError, match="not both"):
            fn(system, pol, 4, 0, [2, 2], 10, 2, 0, initial=iid_initial(system))
        with pytest.raises(ValueError, match="local_states"):
            fn(system, pol, 4, 0, None, 10, 2, 0, local_states=[0, 1, 1])
        with pytest.raises(ValueError, match="attribute"):
            fn(system, SimpleNamespace(k=3, pi_g=pol.pi_g), 4, 0, [2, 2], 10, 2, 0)
        with pytest.raises(ValueError, match="system"):
            fn("system", pol, 4, 0, [2, 2], 10, 2, 0)
    with pytest.raises(ValueError, match="sum to 1"):
        iid_initial(system, p_l=[0.5, 0.6])


def test_learned_policy_object():
    """A SubsampledQ from smfq_lib.learn runs as is (Algorithm 1 and 2 tables alike)."""
    from smfq_lib.learning import learn

    system = tiny_system(2, 2, 2, 2, gamma=0.8, seed=12)
    n = 6
    for algorithm in ("tabular", "mean_field"):
        q = learn(system, 3, None, algorithm=algorithm, progress=False)
        exact = policy_value(system, q, n, 0, [3, 3])
        a = rollout_agents(system, q, n, 0, [3, 3], 100, 2000, seed=13)
        c = rollout_counts(system, q, n, 0, [3, 3], 100, 2000, seed=14)
        _agree(a, c, exact)


# -- memory: keep="returns" ------------------------------------------------------------------
def _noisy(system, w_g=0.4, w_l=0.9):
    from smfq_lib import CooperativeSystem, RewardNoise

    s = system
    return CooperativeSystem(
        s.P_g, s.P_l, s.r_g, s.r_l, s.gamma, aggregate=s.aggregate,
        reward_noise=RewardNoise(w_g=w_g, w_l=w_l),
    )  # fmt: skip


@pytest.mark.parametrize("fn", [rollout_agents, rollout_counts])
@pytest.mark.parametrize("kind", ["plain", "aggregate", "noise"])
def test_keep_returns_gives_the_same_returns_and_keeps_nothing_else(fn, kind):
    system = tiny_system(2, 3, 2, 2, gamma=0.9, seed=4, aggregate=kind == "aggregate")
    if kind == "noise":
        system = _noisy(system)
    pol = random_policy(system, 3, 4)
    full = fn(system, pol, 7, 1, [2, 2, 3], 40, 300, seed=9)
    only = fn(system, pol, 7, 1, [2, 2, 3], 40, 300, seed=9, keep="returns")
    np.testing.assert_array_equal(only.returns, full.returns)  # bit for bit
    # the returns are the discounted sums of the kept rewards (eq. 4 truncated at the horizon)
    np.testing.assert_allclose(full.returns, full.rewards @ 0.9 ** np.arange(40), rtol=1e-13)
    assert full.keep == "steps" and only.keep == "returns"
    assert only.rewards is None and only.s_g is None and only.a_g is None and only.counts is None
    assert (only.rollouts, only.horizon) == (300, 40) and only.mean() == full.mean()
    with pytest.raises(ValueError, match=r"mean_rewards needs the per-step rewards.*keep='steps'"):
        only.mean_rewards()
    assert full.mean_rewards().shape == (40,)


def test_keep_returns_runs_what_steps_cannot_fit():
    system = tiny_system(2, 3, 2, 2, gamma=0.9, seed=5)
    pol = random_policy(system, 2, 5)
    R, H, budget = 5000, 40, 2**21  # per-step arrays 3 R H 8 = 4.8 MB > 2 MiB; returns 40 kB
    with pytest.raises(ValueError, match=r"rewards, s_g, a_g: 3 x R x horizon x 8 bytes"):
        rollout_counts(system, pol, 10, 0, [10, 0, 0], H, R, 1, memory_budget=budget)
    run = rollout_counts(system, pol, 10, 0, [10, 0, 0], H, R, 1, keep="returns",
                         memory_budget=budget)  # fmt: skip
    exact = policy_value(system, pol, 10, 0, [10, 0, 0])
    cut = 0.9**H * (np.abs(system.r_g).max() + np.abs(system.r_l).max()) / 0.1
    assert abs(run.mean() - exact) < 4 * run.sem() + cut


# -- seeds and streams ------------------------------------------------------------------------
def test_no_identical_count_level_rollouts():
    """300,000 rollouts of 3 steps at n = 10**6: each trajectory carries dozens of random bits,
    so identical rows mean identical streams. The old 32-bit Mersenne Twister seeds gave 9 pairs
    (birthday bound: 300000**2 / 2**33 = 10.5)."""
    system = tiny_system(2, 3, 2, 2, gamma=0.9, seed=1)
    pol = random_policy(system, 3, 1)
    n, R = 10**6, 300_000
    run = rollout_counts(system, pol, n, 0, [n, 0, 0], 3, R, 0, record_counts=True)
    rows = np.concatenate([run.rewards, run.counts.reshape(R, -1).astype(float)], axis=1)
    assert np.unique(rows, axis=0).shape[0] == R


@pytest.mark.parametrize("fn", [rollout_agents, rollout_counts])
def test_seeds_equal_modulo_2_to_32_differ(fn):
    """The start states drawn with initial= used the low 32 bits of the seed only."""
    system = tiny_system(2, 3, 2, 2, gamma=0.9, seed=6)
    pol = random_policy(system, 2, 6)
    init = iid_initial(system)
    a, b = (fn(system, pol, 30, None, None, 5, 50, s, initial=init, record_counts=True)
            for s in (5, 2**32 + 5))  # fmt: skip
    assert not np.array_equal(a.counts[:, 0], b.counts[:, 0])
    assert not np.array_equal(a.rewards, b.rewards)


@pytest.mark.parametrize("fn", [rollout_agents, rollout_counts])
def test_rollouts_of_different_seeds_are_not_shifted_copies(fn):
    """The old key ``splitmix64(seed G + r D)`` (G, D odd constants) was linear in (seed, r):
    seed 902205198615 = 201889 D / G (mod 2**64) replayed seed 0's rollouts from 201889 on."""
    G, D, M = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03, 2**64
    shift, seed = 201889, 902205198615
    assert shift * D % M == seed * G % M  # the old relation, checked independently
    system = tiny_system(2, 2, 2, 2, gamma=0.9, seed=7)
    pol = random_policy(system, 2, 7)
    a = fn(system, pol, 3, 0, [1, 2], 4, 3, seed)
    b = fn(system, pol, 3, 0, [1, 2], 4, shift + 3, 0, keep="returns")
    assert not np.array_equal(a.returns, b.returns[shift:])


_THREADS_SCRIPT = textwrap.dedent(
    """
    import hashlib, numpy as np, numba
    from brute_force import random_policy, tiny_system
    from smfq_lib import CooperativeSystem, RewardNoise
    from smfq_lib.execute import iid_initial, rollout_agents, rollout_counts
    h = hashlib.sha256()
    for aggregate in (False, True):
        s = tiny_system(2, 3, 2, 2, seed=3, aggregate=aggregate)
        s = CooperativeSystem(s.P_g, s.P_l, s.r_g, s.r_l, s.gamma, aggregate=s.aggregate,
                              reward_noise=RewardNoise(w_g=0.3, w_l=0.7))
        pol = random_policy(s, 3, 3)
        for fn in (rollout_agents, rollout_counts):
            for keep in ("steps", "returns"):
                r = fn(s, pol, 9, None, None, 30, 301, 2**62 + 3, initial=iid_initial(s),
                       keep=keep)
                h.update(r.returns.tobytes())
                if keep == "steps":
                    h.update(r.rewards.tobytes() + r.s_g.tobytes() + r.a_g.tobytes())
    print(numba.get_num_threads(), h.hexdigest())
    """
)
register("execute", _THREADS_SCRIPT)


def test_same_numbers_whatever_the_thread_count_and_chunking():
    """Aggregate term (added per block), reward noise, a drawn start, both keeps, a seed above
    2**32: 1 vs 2 threads in subprocesses; in process, progress=True (20 chunks) vs the default
    chunking, and a prefix of the rollouts."""
    out = outputs_by_thread_count("execute")
    assert len(out["1"]) == 1 and out["1"] == out["2"]
    system = _noisy(tiny_system(2, 3, 2, 2, seed=3, aggregate=True))
    pol = random_policy(system, 3, 3)
    for fn in (rollout_agents, rollout_counts):
        a = fn(system, pol, 9, 1, [3, 3, 3], 700, 90, 5, keep="returns")  # 23 rollouts a block
        b = fn(system, pol, 9, 1, [3, 3, 3], 700, 90, 5, keep="returns", progress=True)
        c = fn(system, pol, 9, 1, [3, 3, 3], 700, 30, 5)
        np.testing.assert_array_equal(a.returns, b.returns)
        np.testing.assert_array_equal(a.returns[:30], c.returns)


# -- the result type and the documentation ----------------------------------------------------
def test_rollouts_data_are_fields_statistics_are_methods():
    from dataclasses import fields

    from scipy import stats

    from smfq_lib.execute import Rollouts

    names = {f.name for f in fields(Rollouts)}
    assert {"rollouts", "horizon", "keep", "n", "k", "seed", "returns", "rewards"} <= names
    assert not any(isinstance(v, property) for v in vars(Rollouts).values())
    system = tiny_system(2, 2, 2, 2, gamma=0.8, seed=2)
    run = rollout_counts(system, random_policy(system, 2, 2), 9, 0, [4, 5], 20, 40, seed=11)
    assert (run.rollouts, run.horizon) == (40, 20)
    # ci: mean +- ci(level) is the t interval: a one-sample t test at its ends has p = 1 - level
    for level in (0.9, 0.95, 0.99):
        half = run.ci(level)
        for end in (run.mean() - half, run.mean() + half):
            p = stats.ttest_1samp(run.returns, end).pvalue
            assert abs(p - (1 - level)) < 1e-9, (level, p)
    with pytest.raises(ValueError, match="level must be a number strictly between 0 and 1"):
        run.ci(95)
    one = rollout_counts(system, random_policy(system, 2, 2), 9, 0, [4, 5], 20, 1, seed=11)
    with pytest.raises(ValueError, match="ci needs at least 2 rollouts"):
        one.ci()


def _public_functions():
    import inspect

    import smfq_lib.execute as ex

    for name in ex.__all__:
        obj = getattr(ex, name)
        if inspect.isclass(obj):
            for meth, fn in vars(obj).items():
                if callable(fn) and not meth.startswith("_"):
                    yield f"{name}.{meth}", fn
        else:
            yield name, obj


@pytest.mark.parametrize("name, fn", list(_public_functions()), ids=lambda x: str(x)[:40])
def test_every_public_function_documents_every_argument(name, fn):
    """Each argument appears as a numpy-style entry ``name : ...`` of the function's own
    docstring (no "Arguments as ..." cross-reference), and the docstring says what it returns."""
    import inspect
    import re

    doc = inspect.getdoc(fn) or ""
    assert not re.search(r"[Aa]rguments as", doc), name
    params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    for p in params:
        assert re.search(rf"^\s*{p}(, \w+)* :", doc, re.M), f"{name}: {p!r} not documented"
    assert "{parameters}" not in doc, f"{name}: unfilled template"


def test_run_chunks_labels_its_bar_with_unit(capsys):
    from smfq_lib.execute import run_chunks

    seen = []
    run_chunks(lambda a, b: seen.extend(range(a, b)), 37, progress=True, what="rows", unit="row")
    run_chunks(lambda a, b: seen.extend(range(a, b)), 10, chunk=3)
    assert sorted(seen) == sorted([*range(37), *range(10)])
    err = capsys.readouterr().err
    assert "row/s" in err or "s/row" in err
    assert "rollout" not in err
