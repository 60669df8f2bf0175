"""The standard multi-agent API (docs/design.md §11): a system or a generative oracle as a
PettingZoo ``ParallelEnv`` and a learned policy as every agent's action function.

Independent routes: PettingZoo's own API, seeding and state checks; the environment's next-state
frequencies against ``P_g``, ``P_l`` (or the test oracle's own kernel) by a chi-square test; the
reward against the system's stage reward and a formula written here; the policy's action
frequencies against the laws of eq. (10), (11) computed here by enumerating every sample of
agents (itertools, no hypergeometric code); and the mean discounted return of the environment's
loop against ``rollout_agents`` and the exact ``policy_value``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from brute_force import composition_rank, tiny_system
from brute_force_ties import two_zone_system
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test
from pettingzoo.test.state_test import test_parallel_env as _pettingzoo_state_check
from pettingzoo.utils.conversions import parallel_to_aec
from scipy.stats import chi2

from smfq_lib import CooperativeSystem, RewardNoise, learn, learn_linear
from smfq_lib.envs import AgentPolicy, CooperativeParallelEnv, agent_policy, parallel_env
from smfq_lib.envs.dynamics import PROTOCOL, as_dynamics
from smfq_lib.evaluate import policy_value
from smfq_lib.execute import iid_initial, rollout_agents
from smfq_lib.model.examples import majority_mode, random_system

#: Chi-square tests reject at this level (fixed seeds: a test either always passes or never).
ALPHA = 1e-4


class TableOracle:
    """A generative oracle written for these tests (not a CooperativeSystem): kernels ``Pg``,
    ``Pl`` of Dirichlet rows, sampled entry by entry with ``rng.choice`` (another mechanism than
    the inverse CDF the environment uses for a system)."""

    def __init__(self, S_g=3, S_l=4, A_g=2, A_l=3, gamma=0.7, seed=0):
        rng = np.random.default_rng(seed)
        self.S_g, self.S_l, self.A_g, self.A_l, self.gamma = S_g, S_l, A_g, A_l, gamma
        self.Pg = rng.dirichlet(np.ones(S_g), size=(S_g, A_g))
        self.Pl = rng.dirichlet(np.ones(S_l), size=(S_l, S_g, A_l))
        self.r_g = rng.uniform(size=(S_g, A_g))
        self.r_l = rng.uniform(size=(S_l, S_g, A_l))

    def sample_global(self, s_g, a_g, rng):
        return np.array(
            [rng.choice(self.S_g, p=self.Pg[s, a]) for s, a in zip(s_g, a_g, strict=True)]
        )

    def sample_local(self, s_i, s_g, a_i, rng):
        rows = zip(s_i, s_g, a_i, strict=True)
        return np.array([rng.choice(self.S_l, p=self.Pl[s, g, a]) for s, g, a in rows])


def _chi2_ok(observed, p) -> bool:
    """Pearson's chi-square of ``observed`` counts against probabilities ``p`` (cells with
    ``p = 0`` must be empty) below its ``1 - ALPHA`` quantile."""
    observed, p = np.asarray(observed, float), np.asarray(p, float)
    if observed[p == 0].sum() > 0:
        return False
    N, keep = observed.sum(), p > 0
    stat = ((observed[keep] - N * p[keep]) ** 2 / (N * p[keep])).sum()
    return stat <= chi2.ppf(1 - ALPHA, max(int(keep.sum()) - 1, 1))


def test_chi2_check_can_fail():
    assert _chi2_ok([500, 500], [0.5, 0.5])
    assert not _chi2_ok([580, 420], [0.5, 0.5])
    assert not _chi2_ok([1, 999], [0.0, 1.0])


# -- PettingZoo's own checks ---------------------------------------------------------------------
# The AEC api_test's recommendations, not failures: the global agent's observation is shorter than
# a local agent's, observations are MultiDiscrete, and the agent "global" has no number.
@pytest.mark.filterwarnings("ignore:Agents have different observation space sizes")
@pytest.mark.filterwarnings("ignore:Observations are different shapes")
@pytest.mark.filterwarnings("ignore:Observation space for each agent probably should be")
@pytest.mark.filterwarnings("ignore:We recommend agents to be named in the format")
@pytest.mark.parametrize(
    "make", [lambda: random_system(2, 3, 2, 2, seed=1), TableOracle], ids=["system", "oracle"]
)
def test_pettingzoo_api_seed_and_state(make):
    source = make()
    env = parallel_env(source, 5, horizon=7, seed=3)
    parallel_api_test(env, num_cycles=20)
    parallel_seed_test(lambda: parallel_env(source, 5, horizon=7, seed=3), num_cycles=20)
    _pettingzoo_state_check(env)
    api_test(parallel_to_aec(parallel_env(source, 5, horizon=7, seed=3)), num_cycles=20)  # AEC
    assert env.possible_agents == ["global"] + [f"local_{i}" for i in range(5)]
    assert (
        env.observation_space("local_3").nvec.tolist()
        == [source.S_g, source.S_l] + [6] * source.S_l
    )


def test_episode_shape_and_spaces():
    system = random_system(2, 3, 2, 2, seed=1)
    env = parallel_env(system, 4, horizon=3, seed=0, render_mode="ansi")
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(infos) == set(env.possible_agents) == set(env.agents)
    for step in range(3):
        s = env.state()
        counts = np.bincount(s[1:], minlength=3)
        assert obs["global"].tolist() == [s[0], *counts]
        for i in range(4):
            assert obs[f"local_{i}"].tolist() == [s[0], s[1 + i], *counts]
            assert env.observation_space(f"local_{i}").contains(obs[f"local_{i}"])
        assert env.observation_space("global").contains(obs["global"])
        assert env.state_space.contains(s)
        assert env.render() == f"t={step} s_g={s[0]} counts={counts.tolist()}"
        obs, rew, term, trunc, info = env.step(dict.fromkeys(env.agents, 1))
        assert not any(term.values()) and set(trunc.values()) == {step == 2}
        assert len(set(rew.values())) == 1  # the team reward, to every agent
    assert env.agents == []
    env.close()


# -- determinism ---------------------------------------------------------------------------------
def _trajectory(env, policy, seed, steps, reset_seed=None):
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=reset_seed)
    out = []
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
        obs, rew, *_ = env.step(policy(obs, rng))
        out.append((env.state().tolist(), rew["global"]))
    return out


def test_same_seed_same_trajectories():
    system = random_system(2, 3, 2, 2, gamma=0.7, seed=1)
    q = learn(system, 3, progress=False)
    make = lambda seed: parallel_env(system, 6, horizon=5, seed=seed)  # noqa: E731
    env_a, env_b, env_c = make(11), make(11), make(12)
    pols = [agent_policy(q, env) for env in (env_a, env_b, env_c)]
    a = _trajectory(env_a, pols[0], 0, 23)
    assert a == _trajectory(env_b, pols[1], 0, 23)
    assert a != _trajectory(env_c, pols[2], 0, 23)
    # reset(seed=) restarts the generator: the construction seed no longer matters
    assert _trajectory(env_a, pols[0], 0, 23, 5) == _trajectory(env_c, pols[2], 0, 23, 5)


# -- the dynamics: eq. (1), (2) from a fixed state ----------------------------------------------
def _next_states(env, s_g, local, actions, draws):
    start = {"s_g": s_g, "local_states": np.array(local)}
    out = np.empty((draws, 1 + len(local)), np.int64)
    for j in range(draws):
        env.reset(options=start)
        env.step(actions)
        out[j] = env.state()
    return out


@pytest.mark.parametrize("kind", ["system", "oracle"])
def test_next_state_frequencies_match_the_kernels(kind):
    if kind == "system":
        source = random_system(3, 3, 2, 2, seed=4)
        P_g, P_l = source.P_g, source.P_l
    else:
        source = TableOracle(S_g=3, S_l=3, A_g=2, A_l=2, seed=4)
        P_g, P_l = source.Pg, source.Pl
    local, a = [0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1]
    env = parallel_env(source, 6, horizon=3, seed=9)
    actions = {"global": 1, **{f"local_{i}": a[i] for i in range(6)}}
    nxt = _next_states(env, 1, local, actions, 3000)
    assert _chi2_ok(np.bincount(nxt[:, 0], minlength=3), P_g[1, 1])
    for i in range(6):
        assert _chi2_ok(np.bincount(nxt[:, 1 + i], minlength=3), P_l[local[i], 1, a[i]])
    # agents move independently: the joint law of agents 0 and 1 is the product
    joint = np.bincount(3 * nxt[:, 1] + nxt[:, 2], minlength=9)
    assert _chi2_ok(joint, np.outer(P_l[0, 1, 0], P_l[0, 1, 1]).ravel())
    # and the check sees a wrong kernel
    assert not _chi2_ok(np.bincount(nxt[:, 1], minlength=3), P_l[0, 1, 1])


def test_deterministic_dynamics_exactly():
    """Two-zone system: ``s_g' = a_g``, a local agent stays (action 0) or switches (1)."""
    env = parallel_env(two_zone_system(gamma=0.5), 5, horizon=4, seed=0)
    rng = np.random.default_rng(1)
    env.reset()
    for _ in range(20):
        s = env.state()
        acts = _random_actions(env, rng)
        env.step(acts)
        a = np.array([acts[f"local_{i}"] for i in range(5)])
        assert env.state().tolist() == [acts["global"], *np.where(a == 1, 1 - s[1:], s[1:])]
        if not env.agents:
            env.reset()


def test_reset_draws_the_initial_law():
    system = random_system(2, 3, 1, 1, seed=2)
    law = iid_initial(system, [0.25, 0.75], [0.5, 0.3, 0.2])
    env = parallel_env(system, 4, horizon=1, seed=5, initial=law)
    states = np.array([(env.reset(), env.state())[1] for _ in range(2000)])
    assert _chi2_ok(np.bincount(states[:, 0], minlength=2), law.p_g)
    assert _chi2_ok(np.bincount(states[:, 1:].ravel(), minlength=3), law.p_l)
    uniform = parallel_env(system, 4, horizon=1, seed=5)
    states = np.array([(uniform.reset(), uniform.state())[1] for _ in range(2000)])
    assert _chi2_ok(np.bincount(states[:, 1:].ravel(), minlength=3), np.full(3, 1 / 3))
    other = iid_initial(system, [1.0, 0.0], [0.0, 0.0, 1.0])
    env.reset(options={"initial": other})
    assert env.state().tolist() == [0, 2, 2, 2, 2]


# -- the reward: eq. (3), to every agent ---------------------------------------------------------
def _random_actions(env, rng):
    d = env.dynamics
    return {"global": int(rng.integers(d.A_g)), **{
        f"local_{i}": int(rng.integers(d.A_l)) for i in range(env.n)}}  # fmt: skip


def test_reward_is_the_stage_reward_with_its_aggregate_term():
    system = tiny_system(2, 3, 2, 2, seed=6, aggregate=True)
    env = parallel_env(system, 7, horizon=50, seed=1)
    rng = np.random.default_rng(2)
    env.reset()
    for _ in range(50):
        s = env.state()
        acts = _random_actions(env, rng)
        a = np.array([acts[f"local_{i}"] for i in range(7)])
        _, rew, *_ = env.step(acts)
        s_g, a_g, s_l = s[0], acts["global"], s[1:]
        by_hand = (
            system.r_g[s_g, a_g]
            + np.mean([system.r_l[s_l[i], s_g, a[i]] for i in range(7)])
            + np.exp(-((np.mean([system.aggregate.phi[s_l[i], a[i]] for i in range(7)]) - 1) ** 2))
        )
        assert rew == dict.fromkeys(env.possible_agents, rew["global"])
        assert rew["global"] == system.stage_reward(s_g, a_g, s_l, a)
        assert rew["global"] == pytest.approx(by_hand, rel=1e-12)


def test_reward_noise_is_theorem_013s():
    base = random_system(2, 2, 2, 2, seed=3)
    w_g, w_l, n = 0.3, 0.2, 4
    system = CooperativeSystem(
        base.P_g, base.P_l, base.r_g, base.r_l, base.gamma, reward_noise=RewardNoise(w_g, w_l)
    )
    env = parallel_env(system, n, horizon=10**6, seed=4)
    rng = np.random.default_rng(5)
    env.reset()
    diffs = []
    for _ in range(3000):
        s = env.state()
        acts = _random_actions(env, rng)
        a = np.array([acts[f"local_{i}"] for i in range(n)])
        _, rew, *_ = env.step(acts)
        diffs.append(rew["global"] - system.stage_reward(s[0], acts["global"], s[1:], a))
    diffs = np.array(diffs)
    # w_g xi + (w_l / n) (2 B - n), B ~ Binomial(n, 1/2): the support, each sign of xi half the time
    support = np.array([sg * w_g + w_l * (2 * b - n) / n for sg in (-1, 1) for b in range(n + 1)])
    assert np.abs(diffs[:, None] - support[None, :]).min(axis=1).max() < 1e-12
    assert abs(diffs.mean()) < 4 * np.sqrt((w_g**2 + w_l**2 / n) / len(diffs))
    assert _chi2_ok([(diffs > 0).sum(), (diffs < 0).sum()], [0.5, 0.5])


def test_an_oracles_reward_is_r_g_plus_the_mean_of_r_l():
    oracle = TableOracle(seed=7)
    env = parallel_env(oracle, 5, horizon=20, seed=1)
    rng = np.random.default_rng(3)
    env.reset()
    for _ in range(20):
        s = env.state()
        acts = _random_actions(env, rng)
        _, rew, *_ = env.step(acts)
        by_hand = oracle.r_g[s[0], acts["global"]] + np.mean(
            [oracle.r_l[s[1 + i], s[0], acts[f"local_{i}"]] for i in range(5)]
        )
        assert rew["global"] == pytest.approx(by_hand, rel=1e-12)


# -- the policy in the loop: Algorithm 3's laws (eq. 10, 11) -------------------------------------
def _enumerated_laws(laws, s_g, local, k):
    """``p_g`` and every agent's ``p_l`` by enumerating its samples: ``k`` of all agents for the
    global agent (read at the lowest state present), ``k - 1`` of the others for agent ``i``."""
    S_l = laws.prob_l.shape[1]
    ranks = composition_rank(k - 1, S_l)
    n = len(local)

    def counts(members):
        return np.bincount([local[j] for j in members], minlength=S_l)

    p_g = np.zeros(laws.prob_g.shape[3])
    samples = list(itertools.combinations(range(n), k))
    for sample in samples:
        c = counts(sample)
        s1 = min(local[j] for j in sample)
        c[s1] -= 1
        p_g += laws.prob_g[s_g, s1, ranks[tuple(c)]] / len(samples)
    p_l = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        samples = list(itertools.combinations(others, k - 1))
        p = sum(laws.prob_l[s_g, local[i], ranks[tuple(counts(x))]] for x in samples)
        p_l.append(p / len(samples))
    return p_g, p_l


@pytest.mark.parametrize(
    "rule, k",
    [("first", 3), ("uniform", 3), ("coordinated", 3), ("uniform", 1), ("coordinated", 5)],
)
def test_policy_actions_follow_algorithm_3s_laws(rule, k):
    """Every k, from no other agent sampled (k = 1) to all of them (k = n = 5)."""
    system = two_zone_system(gamma=0.5)
    q = learn(system, k, progress=False)
    local = [0, 0, 1, 1, 1]
    env = parallel_env(system, 5, horizon=1, seed=0)
    obs, _ = env.reset(options={"s_g": 1, "local_states": np.array(local)})
    pol = agent_policy(q, env, rule=rule)
    p_g, p_l = _enumerated_laws(pol.laws, 1, local, k)
    rng = np.random.default_rng(8)
    draws = np.array([[acts[a] for a in env.possible_agents] for acts in
                      (pol(obs, rng) for _ in range(4000))])  # fmt: skip
    assert _chi2_ok(np.bincount(draws[:, 0], minlength=2), p_g)
    for i in range(5):
        assert _chi2_ok(np.bincount(draws[:, 1 + i], minlength=2), p_l[i])
    if k == 3:  # mixed laws: the test sees the draws
        assert max(p.min() for p in p_l) > 0.05
    # the package's own mixture laws (eq. 10, 11) agree with the enumeration
    m_g, m_l = pol.laws.distributions(1, [2, 3])
    np.testing.assert_allclose(m_g, p_g, atol=1e-12)
    for i in range(5):
        np.testing.assert_allclose(m_l[local[i]], p_l[i], atol=1e-12)
    # one agent's action from its own observation is the same draw as in the dict
    for agent in ("global", "local_2"):
        r1, r2 = np.random.default_rng(4), np.random.default_rng(4)
        assert pol.action(agent, obs[agent], r1) == pol({agent: obs[agent]}, r2)[agent]


def _env_returns(env, pol, start, episodes, seed):
    """Discounted returns of ``episodes`` episodes of the environment's loop from ``start``."""
    rng = np.random.default_rng(seed)
    gamma = env.dynamics.gamma
    env.reset(seed=seed)
    out = np.empty(episodes)
    for e in range(episodes):
        obs, _ = env.reset(options=start)
        ret, disc = 0.0, 1.0
        while env.agents:
            obs, rew, *_ = env.step(pol(obs, rng))
            ret += disc * rew["global"]
            disc *= gamma
        out[e] = ret
    return out


def two_zone():
    return two_zone_system(gamma=0.5)


RETURN_CASES = {
    # Two-zone ties (docs/design.md §9): the rules' values differ by 0.06 to 0.35 here.
    "two_zone-q-default": (two_zone, "q", None, [0, 0, 1, 1, 1]),
    "two_zone-q-first": (two_zone, "q", "first", [0, 0, 1, 1, 1]),
    "two_zone-linear-default": (two_zone, "linear", None, [0, 0, 1, 1, 1]),
    "random-linear-first": (
        lambda: random_system(2, 3, 2, 2, gamma=0.5, seed=5), "linear", "first", [0, 1, 2, 2, 1, 0]
    ),
    "majority-q-uniform": (
        lambda: majority_mode(S=3, flip=0.1, gamma=0.5), "q", "uniform", [0, 0, 1, 1, 2, 2, 2, 0]
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(RETURN_CASES))
def test_returns_in_the_loop_match_rollout_agents_and_the_exact_value(case):
    make, kind, rule, local = RETURN_CASES[case]
    system = make()
    n, k, horizon, episodes = len(local), 3, 20, 1000  # gamma^H = 1e-6: truncation negligible
    policy = learn(system, k, progress=False) if kind == "q" else learn_linear(system, k, M=None)
    env = parallel_env(system, n, horizon=horizon, seed=0)
    pol = agent_policy(policy, env, rule=rule)
    start = {"s_g": 0, "local_states": np.array(local)}
    ours = _env_returns(env, pol, start, episodes, seed=1)
    counts = np.bincount(local, minlength=system.S_l)
    ref = rollout_agents(system, policy, n, 0, counts, horizon, 4000, 2, rule=rule, keep="returns")
    se = np.sqrt(ours.var(ddof=1) / episodes + ref.returns.var(ddof=1) / 4000)
    assert abs(ours.mean() - ref.mean()) <= 4 * se
    exact = policy_value(system, policy, n, 0, counts, rule=rule)
    assert abs(ours.mean() - exact) <= 4 * ours.std(ddof=1) / np.sqrt(episodes)
    if case.startswith("two_zone"):  # the test tells the rules apart
        others = [r for r in ("first", "uniform", "coordinated") if r != (rule or "coordinated")]
        for r in others:
            assert abs(policy_value(system, policy, n, 0, counts, rule=r) - exact) > 8 * se


class CountingOracle:
    """A system's view as an oracle (the environment's own), counting the local sampler's calls."""

    def __init__(self, system):
        self._view = as_dynamics(system)
        for name in PROTOCOL[:-2]:
            setattr(self, name, getattr(self._view, name))
        self.uniforms = self._view.uniforms  # the view's samplers take uniforms
        self.calls = []

    def sample_global(self, s_g, a_g, rng):
        return self._view.sample_global(s_g, a_g, rng)

    def sample_local(self, s_i, s_g, a_i, rng):
        self.calls.append(len(s_i))
        return self._view.sample_local(s_i, s_g, a_i, rng)


def test_large_n_steps_in_one_sampler_call():
    system = random_system(2, 3, 2, 2, seed=1)
    oracle, n = CountingOracle(system), 50_000
    env = parallel_env(oracle, n, horizon=2, seed=0)
    pol = agent_policy(learn(system, 4, progress=False), env)
    obs, _ = env.reset()
    obs, *_ = env.step(pol(obs, np.random.default_rng(0)))
    assert oracle.calls == [n]
    assert obs["global"][1:].sum() == n
    np.testing.assert_array_equal(obs["global"][1:], np.bincount(env.state()[1:], minlength=3))


# -- refusals ------------------------------------------------------------------------------------
class Garbage(TableOracle):
    def __init__(self, returns):
        super().__init__(S_g=2, S_l=2, A_g=2, A_l=2)
        self.returns = returns

    def sample_local(self, s_i, s_g, a_i, rng):
        return self.returns(len(s_i))


def test_refusals_of_the_constructor():
    system = random_system(2, 2, 2, 2, seed=0)
    for bad in (0, -1, 1.5, True, "3", None):
        with pytest.raises(ValueError, match="n must be an integer"):
            parallel_env(system, bad, horizon=3)
    for bad in (0, 2.0, None):
        with pytest.raises(ValueError, match="horizon must be an integer"):
            parallel_env(system, 3, horizon=bad)
    with pytest.raises(TypeError):
        parallel_env(system, 3)  # horizon is required
    for bad in (-1, 2**63, 1.0):
        with pytest.raises(ValueError, match="seed must be an int"):
            parallel_env(system, 3, horizon=3, seed=bad)
    with pytest.raises(
        ValueError, match="'object', which lacks S_g, S_l, A_g, A_l, gamma, r_g, r_l, sample_gl"
    ):
        parallel_env(object(), 3, horizon=3)
    with pytest.raises(ValueError, match="'dict', which lacks S_g"):
        parallel_env({"P_g": system.P_g}, 3, horizon=3)
    oracle = TableOracle()
    oracle.r_g = oracle.r_g.T
    with pytest.raises(ValueError, match=r"oracle.r_g must have shape \(3, 2\)"):
        parallel_env(oracle, 3, horizon=3)
    oracle = TableOracle()
    oracle.r_l = np.full((4, 3, 3), np.nan)
    with pytest.raises(ValueError, match="not finite"):
        parallel_env(oracle, 3, horizon=3)
    oracle = TableOracle()
    oracle.gamma = 1.0
    with pytest.raises(ValueError, match="gamma"):
        parallel_env(oracle, 3, horizon=3)
    oracle = TableOracle()
    oracle.sample_local = "not a function"
    with pytest.raises(ValueError, match="sample_local must be callable"):
        parallel_env(oracle, 3, horizon=3)
    with pytest.raises(ValueError, match="initial must be None"):
        parallel_env(system, 3, horizon=3, initial=[0.5, 0.5])
    with pytest.raises(ValueError, match="render_mode"):
        parallel_env(system, 3, horizon=3, render_mode="human")


@pytest.mark.parametrize(
    "returns, what",
    [
        (lambda m: np.zeros(m + 1, np.int64), r"shape \(4,\) for 3 queries"),
        (lambda m: np.full(m, 2), r"the state 2 at query 0, outside \[0, 2\)"),
        (lambda m: np.full(m, 0.5), "the non-integral value 0.5 at query 0"),
        (lambda m: None, "NoneType of dtype object"),
    ],
)
def test_a_sampler_returning_garbage_is_refused(returns, what):
    """The environment checks every draw as the learner does (``model.oracle.check_draws``)."""
    env = parallel_env(Garbage(returns), 3, horizon=3)
    env.reset()
    with pytest.raises(ValueError, match="sample_local returned (an array of |the |)" + what):
        env.step(dict.fromkeys(env.agents, 0))


def test_refusals_of_reset_and_step():
    system = random_system(2, 2, 2, 2, seed=0)
    env = parallel_env(system, 3, horizon=2)
    acts = dict.fromkeys(env.possible_agents, 0)
    with pytest.raises(ValueError, match="call reset"):
        env.step(acts)
    with pytest.raises(ValueError, match="seed must be"):
        env.reset(seed=-2)
    with pytest.raises(ValueError, match="options must be None or a dict"):
        env.reset(options=[1])
    with pytest.raises(ValueError, match="needs both 's_g' and 'local_states'"):
        env.reset(options={"s_g": 0})
    with pytest.raises(ValueError, match=r"options\['s_g'\]"):
        env.reset(options={"s_g": 2, "local_states": np.zeros(3, int)})
    for bad in (np.zeros(2, int), np.full(3, 2), np.zeros(3)):
        with pytest.raises(ValueError, match=r"options\['local_states'\]"):
            env.reset(options={"s_g": 0, "local_states": bad})
    with pytest.raises(ValueError, match=r"options\['initial'\]"):
        env.reset(options={"initial": "uniform"})
    env.reset()
    for bad, match in [
        ({**acts, "global": 2}, r"actions\['global'\]"),
        ({**acts, "local_1": -1}, "local agents' actions"),
        ({**acts, "local_1": 1.0}, "local agents' actions"),
        ({**acts, "local_1": True}, "local agents' actions"),
        ({k: v for k, v in acts.items() if k != "local_2"}, r"missing \['local_2'\]"),
        ({**acts, "local_9": 0}, r"unknown \['local_9'\]"),
        ([0, 0, 0, 0], "must be a dict"),
    ]:
        with pytest.raises(ValueError, match=match):
            env.step(bad)
    env.step(acts)
    env.step(acts)
    with pytest.raises(ValueError, match="call reset"):
        env.step(acts)
    with pytest.raises(ValueError, match="unknown agent 'local_3'"):
        env.observation_space("local_3")


def test_refusals_of_the_policy():
    system = two_zone_system(gamma=0.5)
    q = learn(system, 3, progress=False)
    env = parallel_env(system, 3, horizon=2)
    with pytest.raises(ValueError, match="exceeds the number of agents n = 2"):
        agent_policy(q, parallel_env(system, 2, horizon=2))
    with pytest.raises(ValueError, match="learned on another system"):
        agent_policy(q, parallel_env(two_zone_system(gamma=0.6), 3, horizon=2))
    with pytest.raises(ValueError, match="env must come from"):
        agent_policy(q, system)
    with pytest.raises(ValueError, match="rule must be"):
        agent_policy(q, env, rule="best")
    pol = agent_policy(q, env)
    assert isinstance(pol, AgentPolicy) and isinstance(env, CooperativeParallelEnv)
    obs, _ = env.reset()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        pol(obs, 0)
    with pytest.raises(ValueError, match="observations must be the dict"):
        pol(list(obs.values()), rng)
    with pytest.raises(ValueError, match="unknown agent"):
        pol({"local_7": obs["local_0"]}, rng)
    wrong_sum = obs["local_0"].copy()
    wrong_sum[2] += 1
    not_own = np.array([0, 0, 0, 3])  # s_i = 0 but no agent in state 0
    for bad in (wrong_sum, not_own, obs["global"], obs["local_0"].astype(float)):
        with pytest.raises(ValueError, match=r"observations\['local_1'\]"):
            pol({"local_0": obs["local_0"], "local_1": bad}, rng)
    with pytest.raises(ValueError, match=r"observations\['global'\]"):
        pol({"global": obs["local_0"]}, rng)
    # an oracle's environment checks the sizes only
    oracle = TableOracle(S_g=2, S_l=2, A_g=2, A_l=3)
    with pytest.raises(ValueError, match="shape"):
        agent_policy(q, parallel_env(oracle, 3, horizon=2))


def test_readme_bring_your_own_simulator_runs_end_to_end():
    """README's "Bring your own simulator": the oracle block then the environment-loop block,
    executed as written: the policy learned from the oracle acts in the oracle's environment
    (its fingerprint is accepted) for exactly ``horizon`` steps."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Bring your own simulator", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) == 2
    namespace = {}
    for code in blocks:
        exec(compile(code.replace("print(", "_ = ("), "README", "exec"), namespace)
    env = namespace["env"]
    assert env.agents == [] and env.t == 50
    assert np.isfinite(namespace["ret"]) and namespace["disc"] == pytest.approx(0.9**50)
