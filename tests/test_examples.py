"""The example systems (Examples 0.1, 0.2, Remark 0.6) and the random test systems."""

import itertools
import pickle

import numpy as np
import pytest
from brute_force import bf_optimal_value

from smfq_lib import CooperativeSystem
from smfq_lib.model.examples import (
    ACTIONS,
    box_cells,
    constrained_exploration,
    gaussian_squeeze,
    hazard_cells,
    majority_mode,
    random_system,
    two_zone_exploration,
    with_types,
)


def _sizes(system):
    return {k: getattr(system, k) for k in ("S_g", "S_l", "A_g", "A_l", "Z_l")}


# defaults, sizes, docstrings ----------------------------------------------------------------
@pytest.mark.parametrize(
    "factory, sizes",
    [
        (gaussian_squeeze, dict(S_g=1, S_l=10, A_g=1, A_l=10, Z_l=100)),
        (constrained_exploration, dict(S_g=4, S_l=9, A_g=5, A_l=5, Z_l=45)),
        (two_zone_exploration, dict(S_g=4, S_l=9, A_g=5, A_l=5, Z_l=45)),
        (majority_mode, dict(S_g=2, S_l=2, A_g=2, A_l=1, Z_l=2)),
    ],
)
def test_examples_default_sizes_and_docstrings(factory, sizes):
    system = factory()
    assert isinstance(system, CooperativeSystem)  # validated on construction
    assert _sizes(system) == sizes
    doc = " ".join(factory.__doc__.split())
    stated = ", ".join(f"{k}={v}" for k, v in sizes.items())
    assert f"Sizes at the default arguments: {stated}" in doc
    assert system.gamma == 0.9
    for key in ("S_g", "A_g", "S_l", "A_l"):
        assert len(system.labels[key]) == getattr(system, key)


def test_examples_pickle():
    for system in (
        gaussian_squeeze(4, mu=2.0),
        constrained_exploration(),
        two_zone_exploration(),
        majority_mode(),
    ):
        clone = pickle.loads(pickle.dumps(system))
        np.testing.assert_array_equal(clone.P_l, system.P_l)
        if system.aggregate is not None:
            assert clone.aggregate.rho == system.aggregate.rho


# Example 0.1 --------------------------------------------------------------------------------
def test_gaussian_squeeze_structure():
    g = gaussian_squeeze(loads=5, mu=2.0, sigma=1.0, p_hold=0.25)
    assert g.r_tilde == 0.0
    assert np.all(g.r_g == 0) and np.all(g.r_l == 0)
    np.testing.assert_array_equal(g.aggregate.phi, np.tile(np.arange(5.0), (5, 1)))
    for s in range(5):
        for a in range(5):
            expect = np.zeros(5)
            expect[a] += 0.75
            expect[s] += 0.25
            np.testing.assert_allclose(g.P_l[s, 0, a], expect)
    deterministic = gaussian_squeeze(loads=5, mu=2.0)
    assert set(np.unique(deterministic.P_l)) == {0.0, 1.0}


def test_gaussian_squeeze_reward_shape():
    mu, sigma = 4.0, 2.0
    g = gaussian_squeeze(mu=mu, sigma=sigma)
    xbar = np.linspace(0.0, 9.0, 90001)
    r = g.aggregate_reward(0, 0, xbar)
    # the Gaussian factor peaks at xbar = mu; rho = xbar * factor peaks at the documented argmax
    factor = r / np.where(xbar > 0, xbar, 1.0)
    assert xbar[np.argmax(factor)] == pytest.approx(mu, abs=1e-3)
    x_star = (mu + np.sqrt(mu**2 + 2 * sigma**2)) / 2
    assert xbar[np.argmax(r)] == pytest.approx(x_star, abs=1e-3)
    assert g.aggregate.rho.argmax == pytest.approx(x_star)
    assert mu < x_star < mu + sigma
    assert g.aggregate.bound == pytest.approx(r.max(), rel=1e-8)
    assert np.all(r >= 0) and r[0] == 0.0
    # scaling vs the paper: x exp(-(x - n mu)^2 / (n sigma)^2) = n * rho(x / n)
    n = 7
    x = np.arange(0, 9 * n + 1, dtype=float)
    paper = x * np.exp(-((x - n * mu) ** 2) / (n * sigma) ** 2)
    np.testing.assert_allclose(paper, n * g.aggregate_reward(0, 0, x / n))


def test_gaussian_squeeze_stage_reward():
    g = gaussian_squeeze(loads=4, mu=2.0, sigma=1.0)
    s = np.array([0, 3, 1])
    a = np.array([2, 2, 3])
    xbar = 7 / 3
    assert g.stage_reward(0, 0, s, a) == pytest.approx(xbar * np.exp(-((xbar - 2.0) ** 2)))


def test_gaussian_squeeze_bound_when_peak_is_beyond_the_range():
    g = gaussian_squeeze(loads=3, mu=2.0, sigma=3.0)  # argmax > 2 = loads - 1
    assert g.aggregate.rho.argmax > 2
    assert g.aggregate.bound == pytest.approx(2.0)


# Example 0.2 --------------------------------------------------------------------------------
def _dist(cell, box, M):
    r, c = divmod(cell, M)
    rows = {x // M for x in box}
    cols = {x % M for x in box}
    return min(abs(r - rr) for rr in rows) + min(abs(c - cc) for cc in cols)


@pytest.mark.parametrize("M, d", [(3, 2), (4, 2), (5, 3), (4, 1), (3, 3)])
def test_constrained_exploration_box_confines(M, d):
    ce = constrained_exploration(M=M, d=d, slip=0.2)
    assert ce.S_g == (M - d + 1) ** 2 and ce.S_l == M * M
    for b in range(ce.S_g):
        box = box_cells(M, d, b)
        assert len(box) == d * d
        outside = [s for s in range(M * M) if s not in box]
        for s in range(M * M):
            if s in box:
                # once inside, never outside: zero mass outside the box, every action
                assert np.all(ce.P_l[s, b][:, outside] == 0.0), (s, b)
            else:
                # outside: exactly one step closer to the box, every action
                here = _dist(s, box, M)
                for a in range(5):
                    support = np.flatnonzero(ce.P_l[s, b, a])
                    assert all(_dist(t, box, M) == here - 1 for t in support), (s, b, a)


def test_constrained_exploration_moves_and_slip():
    ce = constrained_exploration(slip=0.1)  # M=3, d=2
    M, slip = 3, 0.1
    b = 0  # box at top-left covers r0c0, r0c1, r1c0, r1c1
    assert box_cells(3, 2, b) == {0, 1, 3, 4}
    # from r0c0: right -> r0c1 (inside); up -> blocked (stay)
    right, up = ACTIONS.index("right"), ACTIONS.index("up")
    p = ce.P_l[0, b, right]
    assert p[1] == pytest.approx(1 - slip + slip / 5)  # intended, or a slip to "right"
    assert p.sum() == pytest.approx(1.0)
    # outcomes of the 5 actions from r0c0: stay r0c0, up r0c0, down r1c0, left r0c0, right r0c1
    np.testing.assert_allclose(ce.P_l[0, b, up][[0, 1, 3]], [1 - slip + 3 * slip / 5, 0.02, 0.02])
    # outside agent r2c2 is pulled: action stay still moves it
    stay = ACTIONS.index("stay")
    support = set(np.flatnonzero(ce.P_l[2 * M + 2, b, stay]))
    assert support <= {1 * M + 2, 2 * M + 1}
    # the box moves deterministically and is clipped at the edge
    down = ACTIONS.index("down")
    assert ce.P_g[0, down, 2] == 1.0 and ce.P_g[2, down, 2] == 1.0


def test_constrained_exploration_rewards():
    ce = constrained_exploration(move_cost=0.05, clean_reward=1.0, cover_reward=1.0)
    H = hazard_cells(3)
    assert H == {8}  # bottom-right corner cell r2c2
    # only the box at r1c1 (s_g = 3) covers the hazard
    np.testing.assert_allclose(ce.r_g[:, 0], [0, 0, 0, 1])
    assert ce.r_l[8, 3, 0] == 1.0 and ce.r_l[8, 3, 1] == pytest.approx(0.95)
    assert ce.r_l[8, 0, 0] == 0.0  # on the hazard but outside the box: no cleaning
    assert ce.r_l[4, 3, 0] == 0.0 and ce.r_l[4, 3, 2] == pytest.approx(-0.05)
    assert ce.r_tilde == pytest.approx(2.0)
    custom = constrained_exploration(M=4, d=2, hazard=[(0, 0), (0, 1)])
    assert hazard_cells(4, [(0, 0), (0, 1)]) == {0, 1}
    assert custom.r_g[0, 0] == 1.0 and custom.r_g[1, 0] == pytest.approx(0.5)


def test_two_zone_exploration_rewards_and_transitions():
    tz = two_zone_exploration()  # M=3, d=2, zones (0,0) worth 1.0 and (2,2) worth 0.9
    stay, up, down, left, right = range(5)
    TL, TR, BR = 0, 1, 3  # box positions (top-left corners r0c0, r0c1, r1c1)
    # the dynamics are those of the single-zone example; only the rewards differ
    single = constrained_exploration(M=3, d=2, slip=0.1)
    np.testing.assert_array_equal(tz.P_l, single.P_l)
    np.testing.assert_array_equal(tz.P_g, single.P_g)
    np.testing.assert_allclose(tz.P_l.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(tz.P_g.sum(axis=-1), 1.0, atol=1e-12)
    # no covering reward; box moves cost 0.02 vertically, 0.05 horizontally, wherever the box is
    np.testing.assert_allclose(tz.r_g, np.tile([0.0, -0.02, -0.02, -0.05, -0.05], (4, 1)))
    # cleaning zone A (cell 0) inside the box at TL; agents' moves cost 0.04 / 0.05
    assert tz.r_l[0, TL, stay] == 1.0
    assert tz.r_l[0, TL, up] == pytest.approx(0.96)
    assert tz.r_l[0, TL, left] == pytest.approx(0.95)
    assert tz.r_l[0, BR, stay] == 0.0  # zone A outside the box: no cleaning
    assert tz.r_l[8, BR, stay] == pytest.approx(0.9)
    assert tz.r_l[8, BR, right] == pytest.approx(0.85)
    assert tz.r_l[8, TL, stay] == 0.0
    assert tz.r_l[4, TR, down] == pytest.approx(-0.04)
    assert tz.r_l[4, TR, right] == pytest.approx(-0.05)
    assert tz.r_tilde == pytest.approx(1.05)
    # agent in r0c1 inside the box at TR: "left" targets r0c0, outside the box -> blocked.
    # Outcomes of the 5 actions: stay r0c1, up r0c1, down r1c1, left r0c1, right r0c2.
    expect = np.zeros(9)
    expect[1] = 0.9 + 0.1 * 3 / 5
    expect[4] = expect[2] = 0.1 / 5
    np.testing.assert_allclose(tz.P_l[1, TR, left], expect)
    custom = two_zone_exploration(
        zone_a=[(0, 1), (1, 0)], zone_b=[(2, 2)], value_a=2.0, value_b=0.5, move_cost=(0.0, 0.0)
    )
    assert custom.r_l[1, TL, up] == 2.0 and custom.r_l[3, TL, stay] == 2.0
    assert custom.r_l[1, BR, stay] == 0.0  # r0c1 is not in the box at BR
    assert custom.r_l[8, BR, stay] == 0.5 and custom.r_l[4, BR, stay] == 0.0


def test_two_zone_exploration_has_no_exact_ties():
    """The docstring's claim: perturbing the rewards by up to 1e-5 changes no greedy action (the
    deliberate asymmetries leave no exact tie between different actions), for k = 1, 2."""
    from smfq_lib import learn

    tz = two_zone_exploration()
    rng = np.random.default_rng(0)
    bumped = CooperativeSystem(
        tz.P_g,
        tz.P_l,
        tz.r_g + 1e-5 * rng.uniform(-1, 1, tz.r_g.shape),
        tz.r_l + 1e-5 * rng.uniform(-1, 1, tz.r_l.shape),
        tz.gamma,
    )
    for k in (1, 2):
        a = learn(tz, k, None, algorithm="mean_field", progress=False)
        b = learn(bumped, k, None, algorithm="mean_field", progress=False)
        np.testing.assert_array_equal(a.pi_g, b.pi_g)
        np.testing.assert_array_equal(a.pi_l, b.pi_l)


# majority_mode ------------------------------------------------------------------------------
def test_majority_mode_arrays():
    mm = majority_mode(S=3, flip=0.3, switch_cost=0.2, gamma=0.8)
    assert _sizes(mm) == dict(S_g=3, S_l=3, A_g=3, A_l=1, Z_l=3)
    assert mm.gamma == 0.8 and mm.r_tilde == pytest.approx(1.2)
    for s_g in range(3):
        for a_g in range(3):
            assert mm.P_g[s_g, a_g, a_g] == 1.0  # the action is the next mode
            assert mm.r_g[s_g, a_g] == pytest.approx(0.0 if a_g == s_g else -0.2)
            assert mm.r_l[a_g, s_g, 0] == (1.0 if a_g == s_g else 0.0)  # s_i == s_g
    # sticky local states, whatever the mode: keep with 0.7, each other state with 0.3 / 2
    for s_g in range(3):
        np.testing.assert_allclose(mm.P_l[:, s_g, 0, :], [[0.7, 0.15, 0.15], [0.15, 0.7, 0.15],
                                                          [0.15, 0.15, 0.7]])  # fmt: skip
    np.testing.assert_allclose(mm.P_l.sum(axis=-1), 1.0, atol=1e-12)
    # eq. (3): mode 1, switching to 2, two of four agents match the mode
    assert mm.stage_reward(1, 2, [1, 1, 0, 2], [0, 0, 0, 0]) == pytest.approx(-0.2 + 2 / 4)
    assert mm.labels["A_g"][2] == "set mode 2" and mm.labels["A_l"] == ("none",)
    static = majority_mode(flip=0.0)
    np.testing.assert_array_equal(static.P_l[:, 0, 0, :], np.eye(2))


def _plurality_value(system, n):
    """Value of "next mode = the current plurality state (lowest on ties)" on the joint space,
    by a direct linear solve: the policy the docstring calls optimal."""
    S, gamma = system.S_l, system.gamma
    states = list(itertools.product(range(S), *[range(S)] * n))
    index = {s: i for i, s in enumerate(states)}
    P = np.zeros((len(states), len(states)))
    r = np.zeros(len(states))
    for i, (s_g, *loc) in enumerate(states):
        a_g = int(np.argmax(np.bincount(loc, minlength=S)))
        r[i] = system.stage_reward(s_g, a_g, loc, [0] * n)
        for nxt in itertools.product(range(S), repeat=n):
            p = np.prod([system.P_l[s, s_g, 0, t] for s, t in zip(loc, nxt, strict=True)])
            P[i, index[(a_g, *nxt)]] += p
    return np.linalg.solve(np.eye(len(states)) - gamma * P, r).reshape((S,) * (n + 1))


@pytest.mark.parametrize("S, n, flip", [(2, 4, 0.1), (3, 3, 0.2), (2, 3, 0.0)])
def test_majority_mode_plurality_is_optimal(S, n, flip):
    mm = majority_mode(S=S, flip=flip)
    np.testing.assert_allclose(bf_optimal_value(mm, n), _plurality_value(mm, n), atol=1e-9)


def test_majority_mode_k_matters():
    """With one sampled agent the mode is often wrong; with all n it is optimal (exact values)."""
    from smfq_lib import learn
    from smfq_lib.evaluate import policy_value_table

    mm, n = majority_mode(), 4
    v_star = bf_optimal_value(mm, n)  # joint states (s_g, s_1, ..., s_4)
    # count state (s_g, [c_0, c_1]) in rank order (c_0 ascending) <-> a sorted joint state
    v_star = np.array([[v_star[(s_g,) + (0,) * c0 + (1,) * (n - c0)] for c0 in range(n + 1)]
                       for s_g in range(2)])  # fmt: skip
    gap = {k: v_star - policy_value_table(mm, learn(mm, k, None, progress=False), n)
           for k in (1, n)}  # fmt: skip
    assert gap[1].max() > 0.1
    assert np.all(gap[1] > -1e-9) and np.abs(gap[n]).max() < 1e-8


# random_system ------------------------------------------------------------------------------
def test_random_system_determinism():
    a = random_system(2, 3, 2, 4, seed=5)
    b = random_system(2, 3, 2, 4, seed=5)
    c = random_system(2, 3, 2, 4, seed=6)
    for name in ("P_g", "P_l", "r_g", "r_l"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name))
    assert _sizes(a) == dict(S_g=2, S_l=3, A_g=2, A_l=4, Z_l=12)
    assert 0 <= a.r_l.min() and a.r_l.max() <= 1
    one = random_system(1, 1, 1, 1)
    assert one.P_l.shape == (1, 1, 1, 1) and one.P_l[0, 0, 0, 0] == 1.0


# with_types ---------------------------------------------------------------------------------
def test_with_types_block_structure():
    base = random_system(2, 3, 2, 2, seed=1)
    other = random_system(2, 3, 2, 2, seed=2)
    other = CooperativeSystem(base.P_g, other.P_l, base.r_g, other.r_l, base.gamma)
    sys_ = with_types([base, other], type_names=["slow", "fast"])
    assert _sizes(sys_) == dict(S_g=2, S_l=6, A_g=2, A_l=2, Z_l=12)
    np.testing.assert_array_equal(sys_.P_l[:3, :, :, :3], base.P_l)
    np.testing.assert_array_equal(sys_.P_l[3:, :, :, 3:], other.P_l)
    assert np.all(sys_.P_l[:3, :, :, 3:] == 0) and np.all(sys_.P_l[3:, :, :, :3] == 0)
    np.testing.assert_array_equal(sys_.r_l[:3], base.r_l)
    np.testing.assert_array_equal(sys_.r_l[3:], other.r_l)
    np.testing.assert_array_equal(sys_.P_g, base.P_g)
    np.testing.assert_array_equal(sys_.r_g, base.r_g)
    assert sys_.labels["S_l"][4] == "fast:1"
    # eq. (3) on a typed population: each type's reward weighted by its share
    s = np.array([0, 4, 5])  # one slow agent in state 0, two fast agents in states 1, 2
    a = np.array([1, 0, 1])
    expect = base.r_g[1, 0] + (base.r_l[0, 1, 1] + other.r_l[1, 1, 0] + other.r_l[2, 1, 1]) / 3
    assert sys_.stage_reward(1, 0, s, a) == pytest.approx(expect)


def test_with_types_aggregate():
    g1 = gaussian_squeeze(loads=3, mu=1.0, sigma=1.0)
    g2 = gaussian_squeeze(loads=3, mu=1.0, sigma=1.0, p_hold=0.5)
    sys_ = with_types([g1, g2])
    assert sys_.aggregate.phi.shape == (6, 3)
    np.testing.assert_array_equal(sys_.aggregate.phi[3:], g2.aggregate.phi)
    with pytest.raises(ValueError, match="aggregate"):
        with_types([g1, gaussian_squeeze(loads=3, mu=1.0, sigma=2.0)])


@pytest.mark.parametrize(
    "systems, match",
    [
        ([], "systems"),
        ("not a list", "systems"),
        ([random_system(2, 3, 2, 2), "x"], r"systems\[1\]"),
        ([random_system(2, 3, 2, 2), random_system(3, 3, 2, 2)], "S_g"),
        ([random_system(2, 3, 2, 2), random_system(2, 3, 3, 2)], "A_g"),
        ([random_system(2, 3, 2, 2), random_system(2, 3, 2, 3)], "A_l"),
        ([random_system(2, 3, 2, 2), random_system(2, 4, 2, 2)], "S_l"),
        ([random_system(2, 3, 2, 2), random_system(2, 3, 2, 2, gamma=0.5)], "gamma"),
        ([random_system(2, 3, 2, 2, seed=0), random_system(2, 3, 2, 2, seed=1)], "P_g"),
    ],
)
def test_with_types_rejects(systems, match):
    with pytest.raises(ValueError, match=match):
        with_types(systems)


def test_with_types_rejects_different_r_g_and_names():
    a = random_system(2, 3, 2, 2, seed=0)
    b = CooperativeSystem(a.P_g, a.P_l, a.r_g + 1, a.r_l, a.gamma)
    with pytest.raises(ValueError, match="r_g"):
        with_types([a, b])
    with pytest.raises(ValueError, match="type_names"):
        with_types([a, a], type_names=["one"])


# argument validation ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (gaussian_squeeze, dict(loads=1), "loads"),
        (gaussian_squeeze, dict(loads=2.5), "loads"),
        (gaussian_squeeze, dict(loads=True), "loads"),
        (gaussian_squeeze, dict(mu=-1.0), "mu"),
        (gaussian_squeeze, dict(mu=40.0), "PER AGENT"),
        (gaussian_squeeze, dict(mu=float("nan")), "mu"),
        (gaussian_squeeze, dict(sigma=0.0), "sigma"),
        (gaussian_squeeze, dict(sigma=float("inf")), "sigma"),
        (gaussian_squeeze, dict(gamma=1.0), "gamma"),
        (gaussian_squeeze, dict(p_hold=1.0), "p_hold"),
        (gaussian_squeeze, dict(p_hold=-0.1), "p_hold"),
        (constrained_exploration, dict(M=1), "M"),
        (constrained_exploration, dict(d=0), "d"),
        (constrained_exploration, dict(d=4), "d must be <= M"),
        (constrained_exploration, dict(slip=1.5), "slip"),
        (constrained_exploration, dict(gamma=0.0), "gamma"),
        (constrained_exploration, dict(hazard=[]), "hazard"),
        (constrained_exploration, dict(hazard=[(3, 0)]), "hazard"),
        (constrained_exploration, dict(hazard=[(0, 0, 1)]), "hazard"),
        (constrained_exploration, dict(hazard=["ab"]), "hazard"),
        (constrained_exploration, dict(move_cost=float("nan")), "move_cost"),
        (constrained_exploration, dict(cover_reward="1"), "cover_reward"),
        (two_zone_exploration, dict(M=1), "M"),
        (two_zone_exploration, dict(d=4), "d must be <= M"),
        (two_zone_exploration, dict(slip=-0.1), "slip"),
        (two_zone_exploration, dict(gamma=1.0), "gamma"),
        (two_zone_exploration, dict(zone_a=[]), "zone_a"),
        (two_zone_exploration, dict(zone_b=[(3, 3)]), "zone_b"),
        (two_zone_exploration, dict(zone_a=[(0, 0), (1, 1)], zone_b=[(1, 1)]), "share"),
        (two_zone_exploration, dict(value_a=float("inf")), "value_a"),
        (two_zone_exploration, dict(value_b="0.9"), "value_b"),
        (two_zone_exploration, dict(move_cost=0.05), "move_cost"),
        (two_zone_exploration, dict(move_cost=(0.05,)), "move_cost"),
        (two_zone_exploration, dict(box_move_cost=(0.1, float("nan"))), r"box_move_cost\[1\]"),
        (majority_mode, dict(S=1), "S"),
        (majority_mode, dict(S=2.0), "S"),
        (majority_mode, dict(flip=-0.1), "flip"),
        (majority_mode, dict(flip=0.5), "uniform"),
        (majority_mode, dict(S=3, flip=0.7), "flip"),
        (majority_mode, dict(gamma=0.0), "gamma"),
        (majority_mode, dict(switch_cost=-0.1), "switch_cost"),
        (random_system, dict(S_g=0, S_l=2, A_g=2, A_l=2), "S_g"),
        (random_system, dict(S_g=2, S_l=2.0, A_g=2, A_l=2), "S_l"),
        (random_system, dict(S_g=2, S_l=2, A_g=-1, A_l=2), "A_g"),
        (random_system, dict(S_g=2, S_l=2, A_g=2, A_l=0), "A_l"),
        (random_system, dict(S_g=2, S_l=2, A_g=2, A_l=2, gamma=1.5), "gamma"),
        (random_system, dict(S_g=2, S_l=2, A_g=2, A_l=2, seed=-1), "seed"),
    ],
)
def test_example_arguments_validated(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)
