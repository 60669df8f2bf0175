"""smfq_lib.execute: the agent-level (literal Algorithm 3) and count-level executors agree with
each other and with the exact value of smfq_lib.evaluate; seeding is thread-count independent."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from brute_force import random_policy, tiny_system

from smfq_lib.evaluate import policy_value
from smfq_lib.execute import iid_initial, rollout_agents, rollout_counts

REPO = Path(__file__).resolve().parents[1]


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


_DETERMINISM_SCRIPT = textwrap.dedent(
    """
    import hashlib, math, numpy as np, numba
    from types import SimpleNamespace
    from brute_force import tiny_system
    from smfq_lib.execute import rollout_agents, rollout_counts
    s = tiny_system(2, 2, 2, 2, seed=0)
    rng = np.random.default_rng(0)
    tables = rng.integers(0, 2, (2, 2, 2, 3))
    pol = SimpleNamespace(k=3, pi_g=tables[0], pi_l=tables[1])
    h = hashlib.sha256()
    for fn in (rollout_agents, rollout_counts):
        h.update(fn(s, pol, 12, 1, [5, 7], 30, 64, seed=3).rewards.tobytes())
    print(numba.get_num_threads(), h.hexdigest())
    """
)


def test_results_independent_of_thread_count():
    out = {}
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO)])
        res = subprocess.run(
            [sys.executable, "-c", _DETERMINISM_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        n_threads, digest = res.stdout.split()
        assert n_threads == threads
        out[threads] = digest
    assert out["1"] == out["2"]


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
