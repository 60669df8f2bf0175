"""Stochastic rewards (Theorem 0.13): RewardNoise validation, the sampled learners' noisy reward
tables (eq. 8, 9 with m reward draws per entry), and the executors' realised rewards.

Statistical checks use the exact law of the noise, computed here by hand: a sum
``S = sum_j a_j xi_j`` of independent signs has mean 0, variance ``sum a_j^2`` and fourth moment
``3 (sum a_j^2)^2 - 2 sum a_j^4``; its standardised moments are at most the Gaussian ones (3, 15,
105 for the 4th, 6th, 8th), so the mean of N standardised squares has standard deviation at most
sqrt(2/N), and that of N standardised fourth powers at most sqrt(105/N). Every tolerance is 4
such standard deviations (fixed seeds: the tests are deterministic). The fourth moment tells
apart implementations with the right variance but the wrong agents (e.g. agent 1's sign reused
for every agent).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from brute_force import random_policy, tiny_system

from smfq_lib.evaluate import policy_value
from smfq_lib.execute import rollout_agents, rollout_counts
from smfq_lib.learning import learn
from smfq_lib.learning.registry import operator_class
from smfq_lib.model.combinatorics import compositions
from smfq_lib.model.system import CooperativeSystem, RewardNoise


def _noisy(system, w_g, w_l):
    s = system
    return CooperativeSystem(
        s.P_g, s.P_l, s.r_g, s.r_l, s.gamma, reward_noise=RewardNoise(w_g=w_g, w_l=w_l)
    )


def _z_checks(d, var, s4=None):
    """Standardised noise ``d / sd``: mean 0, mean square 1 and (given ``s4 = sum a_j^4``) mean
    fourth power ``3 - 2 s4 / var^2``, each within 4 standard deviations."""
    pos = var > 0
    assert np.all(d[~pos] == 0.0), "entries with zero noise variance must be noiseless"
    z = d[pos] / np.sqrt(var[pos])
    N = z.size
    assert abs(z.mean()) < 4 / math.sqrt(N), (z.mean(), N)
    assert abs((z**2).mean() - 1) < 4 * math.sqrt(2 / N), ((z**2).mean(), N)
    if s4 is not None:
        kurt = (3 - 2 * s4[pos] / var[pos] ** 2).mean()
        assert abs((z**4).mean() - kurt) < 4 * math.sqrt(105 / N), ((z**4).mean(), kurt, N)
    return N


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------
def test_reward_noise_validation_names_the_argument():
    s = tiny_system(2, 3, 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"reward_noise\.w_g .*shape"):
        _noisy(s, np.ones((3, 3)), 0.0)
    with pytest.raises(ValueError, match=r"reward_noise\.w_l .*shape"):
        _noisy(s, 0.0, np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match=r"reward_noise\.w_l\[0, 1, 0\] = -0\.5"):
        w_l = np.zeros((3, 2, 2))
        w_l[0, 1, 0] = -0.5
        _noisy(s, 0.0, w_l)
    with pytest.raises(ValueError, match=r"reward_noise\.w_g.*finite"):
        _noisy(s, np.nan, 0.0)
    with pytest.raises(ValueError, match="reward_noise must be"):
        CooperativeSystem(s.P_g, s.P_l, s.r_g, s.r_l, s.gamma, reward_noise=(0.1, 0.1))
    ok = _noisy(s, 0.5, np.full((3, 1, 1), 0.25))  # broadcasting
    assert ok.reward_noise.w_l.shape == (3, 2, 2) and ok.reward_noise.w_g.shape == (2, 2)
    assert ok.r_tilde == pytest.approx(np.abs(s.r_g).max() + 0.5 + np.abs(s.r_l).max() + 0.25)


# ------------------------------------------------------------------------------------------
# learners
# ------------------------------------------------------------------------------------------
def _widths(case, S_g, S_l, A_g, A_l, rng):
    if case == "global":
        return rng.uniform(0.2, 2.0, (S_g, A_g)), 0.0
    if case == "one_cell":  # only cell z0 = (s=1, a=0), with a width depending on s_g
        w_l = np.zeros((S_l, S_g, A_l))
        w_l[1, :, 0] = rng.uniform(0.5, 2.0, S_g)
        return 0.0, w_l
    return rng.uniform(0.2, 2.0, (S_g, A_g)), rng.uniform(0.2, 2.0, (S_l, S_g, A_l))


def _moments(w_glob, w_agents, k, m):
    """``(sum a^2, sum a^4)`` of the averaged noise of one entry: m signs of weight w_g/m, and m
    signs of weight w_l/(k m) per agent (variance (w_g^2 + sum_i w_l,i^2 / k^2) / m)."""
    a_g, a_l = w_glob / m, np.asarray(w_agents) / (k * m)
    return m * (a_g**2 + (a_l**2).sum()), m * (a_g**4 + (a_l**4).sum())


def _mf_moments(w_g, w_l, k, m, Zt, shape):
    """Per-entry moments for Algorithm 2: agent 1 in (s_1, a_1), zc[z] others in each cell z."""
    S_g, S_l, Cz, A_l, A_g = shape
    var, s4 = np.zeros(shape), np.zeros(shape)
    for sg, s1, r, a1, ag in np.ndindex(*shape):
        agents = [w_l[s1, sg, a1]]
        for z in range(Zt.shape[1]):
            agents += [w_l[z // A_l, sg, z % A_l]] * int(Zt[r, z])
        var[sg, s1, r, a1, ag], s4[sg, s1, r, a1, ag] = _moments(w_g[sg, ag], agents, k, m)
    return var, s4


def _tab_moments(w_g, w_l, k, m, shape):
    """Per-entry moments for Algorithm 1: agents i = 1..k at (s_i, a_i)."""
    var, s4 = np.zeros(shape), np.zeros(shape)
    for idx in np.ndindex(*shape):
        sg, ag = idx[0], idx[k + 1]
        agents = [w_l[idx[1 + i], sg, idx[k + 2 + i]] for i in range(k)]
        var[idx], s4[idx] = _moments(w_g[sg, ag], agents, k, m)
    return var, s4


@pytest.mark.parametrize("case", ["global", "one_cell", "random"])
@pytest.mark.parametrize("algorithm, k, S_l", [("mean_field", 5, 3), ("tabular", 4, 2)])
def test_sampled_reward_table_has_the_noise_law(algorithm, k, S_l, case):
    """R of the sampled operator minus R of the means: mean 0, the per-entry variance computed
    by hand (so a missing 1/k, 1/m, cell or agent fails), and exactly 0 where no noise enters."""
    S_g, A_g, A_l, m = 2, 2, 2, 3
    base = tiny_system(S_g, S_l, A_g, A_l, gamma=0.8, seed=4)
    rng = np.random.default_rng(0)
    w_g, w_l = _widths(case, S_g, S_l, A_g, A_l, rng)
    system = _noisy(base, w_g, w_l)
    W_g, W_l = system.reward_noise.w_g, system.reward_noise.w_l
    total = 0
    for seed in range(6):
        op = operator_class(algorithm)(system, k, m, seed)
        op0 = operator_class(algorithm)(base, k, m, seed)
        d = (op.R - op0.R).reshape(op.shape)
        if algorithm == "mean_field":
            var, s4 = _mf_moments(W_g, W_l, k, m, compositions(k - 1, S_l * A_l), op.shape)
        else:
            var, s4 = _tab_moments(W_g, W_l, k, m, op.shape)
        total += _z_checks(d.ravel(), var.ravel(), s4.ravel())
        # the next-state samples are the noiseless ones: the noise has its own stream
        for name in ("ptr", "idx", "mult"):
            assert np.array_equal(getattr(op.samples, name), getattr(op0.samples, name))
    assert total >= 4000  # entries with noise, over the seeds


@pytest.mark.parametrize("algorithm", ["mean_field", "tabular"])
def test_fixed_point_same_seed_and_exact_operator_uses_means(algorithm):
    base = tiny_system(2, 2, 2, 2, gamma=0.8, seed=6)
    system = _noisy(base, 0.7, np.full((2, 2, 2), 1.3))
    k, m = 3, 4
    q1 = learn(system, k, m, algorithm=algorithm, seed=5, progress=False)
    q2 = learn(system, k, m, algorithm=algorithm, seed=5, progress=False)
    q3 = learn(system, k, m, algorithm=algorithm, seed=6, progress=False)
    q0 = learn(base, k, m, algorithm=algorithm, seed=5, progress=False)
    assert np.array_equal(q1.Q, q2.Q) and np.array_equal(q1.pi_g, q2.pi_g)
    assert not np.array_equal(q1.Q, q3.Q)
    assert np.abs(q1.Q - q0.Q).max() > 0.05  # the noise is really used
    # fixed point of the (fixed-sample, fixed-noise) empirical operator: T Q = Q to the tolerance
    op = operator_class(algorithm)(system, k, m, 5)
    Q = np.ascontiguousarray(q1.Q).ravel()
    res = op.step(Q, np.empty_like(Q))
    assert res < 1e-8, res
    assert q1.residuals[-1] <= 1e-8 * (1 - system.gamma) / system.gamma
    # the exact operator is the expectation: it uses the means
    e1 = learn(system, k, None, algorithm=algorithm, progress=False)
    e0 = learn(base, k, None, algorithm=algorithm, progress=False)
    assert np.array_equal(e1.Q, e0.Q)


@pytest.mark.parametrize("algorithm", ["mean_field", "tabular"])
def test_zero_widths_reproduce_the_noiseless_learner_bit_for_bit(algorithm):
    base = tiny_system(2, 2, 2, 2, gamma=0.8, seed=7)
    zero = _noisy(base, 0.0, 0.0)
    q0 = learn(base, 3, 5, algorithm=algorithm, seed=2, progress=False)
    qz = learn(zero, 3, 5, algorithm=algorithm, seed=2, progress=False)
    assert np.array_equal(q0.Q, qz.Q) and np.array_equal(q0.residuals, qz.residuals)


# ------------------------------------------------------------------------------------------
# executors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", [rollout_agents, rollout_counts])
def test_executor_noise_mean_and_variance(executor):
    S_g, S_l, A_g, A_l, n, k = 2, 3, 2, 2, 7, 3
    base = tiny_system(S_g, S_l, A_g, A_l, gamma=0.8, seed=11)
    w_g = np.array([[0.3, 1.1], [0.6, 0.0]])  # per (s_g, a_g)
    w_ls = np.array([0.5, 1.5, 2.5])  # per local state, same for every s_g, a_i
    system = _noisy(base, w_g, w_ls[:, None, None])
    pol = random_policy(system, k, 3)
    counts0 = (2, 2, 3)
    R, H = 3000, 60
    noisy = executor(system, pol, n, 1, counts0, H, R, seed=21, record_counts=True)
    plain = executor(base, pol, n, 1, counts0, H, R, seed=21, record_counts=True)
    # the noise never changes the trajectory
    assert np.array_equal(noisy.s_g, plain.s_g) and np.array_equal(noisy.a_g, plain.a_g)
    assert np.array_equal(noisy.counts, plain.counts)
    # mean return: the exact value under the MEAN rewards (linearity of expectation)
    exact = policy_value(system, pol, n, 1, counts0)
    assert exact == policy_value(base, pol, n, 1, counts0)
    assert abs(noisy.mean() - exact) < 4 * noisy.sem(), (noisy, exact)
    # realised step noise: variance w_g[s_g, a_g]^2 + (1/n^2) sum_i w_l[s_i]^2, by hand
    d = noisy.rewards - plain.rewards
    v = w_g[noisy.s_g, noisy.a_g] ** 2 + (noisy.counts * w_ls**2).sum(axis=2) / n**2
    _z_checks(d.ravel(), v.ravel())
    # the per-step reward variance grows by E[v]: Var(X + N) = Var(X) + E[N^2] (N independent,
    # mean 0 given the trajectory); per-sample terms of the difference and their standard error
    xc = plain.rewards - plain.rewards.mean(axis=0)
    u = d**2 + 2 * xc * d - v
    se = u.std() / math.sqrt(u.size)
    increase = (noisy.rewards.var(axis=0) - plain.rewards.var(axis=0)).mean()
    assert abs(increase - v.mean()) < 4 * se + 1e-12, (increase, v.mean(), se)
    assert v.mean() > 0.2  # the check has something to detect


@pytest.mark.parametrize("executor", [rollout_agents, rollout_counts])
def test_executor_zero_widths_bit_for_bit_and_seeding(executor):
    base = tiny_system(2, 2, 2, 2, gamma=0.8, seed=12)
    pol = random_policy(base, 2, 4)
    zero = _noisy(base, 0.0, 0.0)
    a = executor(base, pol, 9, 0, [4, 5], 30, 50, seed=7)
    b = executor(zero, pol, 9, 0, [4, 5], 30, 50, seed=7)
    assert np.array_equal(a.rewards, b.rewards) and np.array_equal(a.returns, b.returns)
    noisy = _noisy(base, 0.4, 0.9)
    c1 = executor(noisy, pol, 9, 0, [4, 5], 30, 50, seed=7)
    c2 = executor(noisy, pol, 9, 0, [4, 5], 30, 50, seed=7)
    c3 = executor(noisy, pol, 9, 0, [4, 5], 30, 50, seed=8)
    c4 = executor(noisy, pol, 9, 0, [4, 5], 30, 5, seed=7)
    assert np.array_equal(c1.rewards, c2.rewards)
    assert not np.array_equal(c1.rewards, c3.rewards)
    assert not np.array_equal(c1.rewards, a.rewards)
    assert np.array_equal(c1.rewards[:5], c4.rewards)  # depends on (seed, rollout) only
    before = numba.get_num_threads()
    try:  # the rollouts are split into chunks per thread: the numbers must not change
        numba.set_num_threads(1)
        c5 = executor(noisy, pol, 9, 0, [4, 5], 30, 50, seed=7)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(c1.rewards, c5.rewards)
