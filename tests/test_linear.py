"""smfq_lib.linear.learn_linear: fitted value iteration with a linear model (Theorem 0.15).

* One-hot composition features with every composition as the design are Algorithm 2 itself: the
  exact operator reproduces ``Q_k*`` (of ``learn(..., algorithm="mean_field")`` and of the joint-
  space brute force), the sampled operator reproduces ``Q_{k,m}^est`` with the same seed (same
  samples), and the greedy policies agree under every tie rule on a tie-rich system.
* ``[1, F]`` features on random systems: the exact gap of the linear policy (``policy_value``,
  ``optimal_value`` on count states) next to the tabular one, with the projection error.
* Same numbers whatever the thread count; every bad input refused with a ValueError.
"""

from __future__ import annotations

import numpy as np
import pytest
from brute_force import bf_subsystem_Q, tiny_system
from threads import outputs_by_thread_count, register

from smfq_lib import learn
from smfq_lib.evaluate import optimal_value, policy_value
from smfq_lib.execute import iid_initial
from smfq_lib.learning.policy import RULES
from smfq_lib.linear import (
    learn_linear,
    linear_features,
    mean_features,
    one_hot_features,
)
from smfq_lib.model.examples import gaussian_squeeze, random_system


def _fold(Q, k, system):
    """Algorithm 1's brute-force table read at (agent 1, others ascending): Algorithm 2's shape."""
    from smfq_lib.model.combinatorics import compositions

    S_g, S_l, A_g, A_l = system.S_g, system.S_l, system.A_g, system.A_l
    Zt = compositions(k - 1, system.Z_l)
    out = np.empty((S_g, S_l, len(Zt), A_l, A_g))
    for r, zc in enumerate(Zt):
        cells = [z for z in range(system.Z_l) for _ in range(zc[z])]
        st, ac = [z // A_l for z in cells], [z % A_l for z in cells]
        for s_g in range(S_g):
            for s_1 in range(S_l):
                for a_1 in range(A_l):
                    for a_g in range(A_g):
                        out[s_g, s_1, r, a_1, a_g] = Q[(s_g, s_1, *st, a_g, a_1, *ac)]
    return out


@pytest.mark.parametrize("k", [1, 2, 3])
def test_one_hot_exact_operator_is_Q_k_star(k):
    system = tiny_system(2, 2, 2, 2, seed=k, aggregate=True)
    lq = learn_linear(system, k, one_hot_features(k, system.Z_l), M=None, m=None, tol=1e-12)
    tab = learn(system, k, None, algorithm="mean_field", tol=1e-12, progress=False)
    assert lq.converged
    np.testing.assert_allclose(lq.q_table(), tab.Q, rtol=0, atol=1e-9)
    np.testing.assert_allclose(lq.q_table(), _fold(bf_subsystem_Q(system, k), k, system), atol=1e-9)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_one_hot_sampled_operator_uses_the_tabular_samples(k):
    system = random_system(2, 2, 2, 2, seed=5)
    for seed in (0, 2**40 + 3):
        lq = learn_linear(system, k, one_hot_features(k, 4), M=None, m=3, seed=seed, tol=1e-12)
        tab = learn(system, k, 3, algorithm="mean_field", seed=seed, tol=1e-12, progress=False)
        np.testing.assert_allclose(lq.q_table(), tab.Q, rtol=0, atol=1e-9)
    other = learn(system, k, 3, algorithm="mean_field", seed=1, tol=1e-12, progress=False)
    if k > 1:  # another seed: other samples (the comparison above can fail)
        assert np.abs(lq.q_table() - other.Q).max() > 1e-6


@pytest.mark.parametrize("k", [1, 2, 3])
def test_one_hot_greedy_policies_equal_the_tabular_ones_under_every_rule(k):
    """The Gaussian squeeze on 3 loads: the reward depends on the total load only, so ties are
    everywhere and exact; both routes break them by the same tolerance."""
    system = gaussian_squeeze(loads=3, mu=1.0, sigma=1.0)
    lq = learn_linear(system, k, one_hot_features(k, system.Z_l), M=None, m=None, tol=1e-12)
    tab = learn(system, k, None, algorithm="mean_field", tol=1e-12, progress=False)
    for rule in RULES:
        a, b = lq.action_laws(rule), tab.action_laws(rule)
        np.testing.assert_array_equal(a.prob_g, b.prob_g, err_msg=rule)
        np.testing.assert_array_equal(a.prob_l, b.prob_l, err_msg=rule)
        assert a.rule == rule


def test_linear_features_gap_next_to_the_tabular_gap():
    """[1, F] on random systems, exact values on count states: the linear policy's gap is a gap
    (>= 0, below V*), it equals the tabular one where the fit is exact (the projection error is
    zero: the decomposed reward is affine in F), and it is larger where the fit is poor (mean
    features, d = 2, cannot represent a Q that depends on each cell)."""
    n, k = 4, 2
    seen_poor = False
    for seed in range(4):
        system = random_system(2, 2, 2, 2, seed=seed)
        s0 = iid_initial(system)
        v_star = optimal_value(system, n, initial=s0)
        tab = learn(system, k, None, algorithm="mean_field", progress=False)
        gap_tab = v_star - policy_value(system, tab, n, initial=s0)
        lin = learn_linear(system, k, linear_features(4), M=None, m=None)
        gap_lin = v_star - policy_value(system, lin, n, initial=s0)
        assert gap_lin >= -1e-9 and gap_tab >= -1e-9
        if lin.fit_rmse < 1e-12:
            assert gap_lin == pytest.approx(gap_tab, abs=1e-9)
        poor = learn_linear(system, k, mean_features(np.arange(4)), M=None, m=None, max_iter=300)
        gap_poor = v_star - policy_value(system, poor, n, initial=s0)
        assert gap_poor >= -1e-9
        seen_poor |= poor.fit_rmse > 1e-3 and gap_poor > gap_tab + 1e-6
    assert seen_poor, "the approximation error shows in some gap"


def test_sampled_design_fits_and_is_reproducible():
    system = gaussian_squeeze(loads=4, mu=1.5, sigma=1.0)
    feats = mean_features(system.aggregate.phi)
    a = learn_linear(system, 6, feats, M=200, m=1, seed=3)
    b = learn_linear(system, 6, feats, M=200, m=1, seed=3)
    c = learn_linear(system, 6, feats, M=200, m=1, seed=4)
    assert a.converged and np.array_equal(a.theta, b.theta) and not np.array_equal(a.theta, c.theta)
    assert a.design.shape == (200, 16) and np.all(a.design.sum(axis=1) == 5)
    assert len(np.unique(a.design, axis=0)) > 50  # the design spreads over many compositions


@pytest.mark.parametrize(
    "case",
    ["affine", "one-hot", "noise", "M=None"],
)
def test_stored_samples_equal_redrawn_ones_bit_for_bit(case, monkeypatch):
    """The fixed samples drawn once and stored (the default) and redrawn every iteration from
    their keys (where the store would not fit) give the same theta, bit for bit: the closed-form
    value (affine features) and the tabulated one (one-hot), with reward noise, and with every
    composition as the design."""
    import dataclasses

    import smfq_lib.linear.learner as learner
    from smfq_lib import RewardNoise

    system = tiny_system(2, 3, 2, 2, seed=5, aggregate=True)
    k, kw = 4, dict(M=40, m=3, seed=7, max_iter=60)
    if case == "one-hot":
        kw = dict(M=None, m=2, seed=7, max_iter=60, features=one_hot_features(k, system.Z_l))
    elif case == "noise":
        system = dataclasses.replace(system, reward_noise=RewardNoise(w_g=0.3, w_l=0.5))
    elif case == "M=None":
        kw = dict(M=None, m=2, seed=7, max_iter=60)
    stored = learn_linear(system, k, **kw)
    monkeypatch.setattr(learner, "_store_samples", lambda *args: None)
    redrawn = learn_linear(system, k, **kw)
    assert np.array_equal(stored.theta, redrawn.theta)
    assert np.array_equal(stored.residuals, redrawn.residuals)


@pytest.mark.parametrize("size", [7, 50, 10_000])
def test_unique_by_marks_equals_numpy_unique(size):
    """The learner's distinct sample states: the mark table (size <= 4 samples) and the sort
    (larger ranges) both give np.unique's sorted values and inverse, repeats included."""
    from smfq_lib.linear.fitted import unique_bounded

    flat = np.random.default_rng(size).integers(0, size, 300) // 3 * 3
    flat[:5] = size - 1
    ref_uniq, ref_inv = np.unique(flat, return_inverse=True)
    uniq, inv = unique_bounded(flat, size)
    assert np.array_equal(uniq, ref_uniq) and uniq.dtype == ref_uniq.dtype
    assert np.array_equal(inv.reshape(-1), ref_inv.reshape(-1))


@pytest.mark.parametrize("special", [None, np.inf, np.nan])
def test_max_change_is_the_max_absolute_difference(special):
    from smfq_lib.linear.fitted import max_change

    rng = np.random.default_rng(3)
    fit, old = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    old[2, 3] = fit[2, 3] - 9.5  # the largest change, an exact one
    if special is not None:
        fit[4, 1] = special
    ref = np.max(np.abs(fit - old))
    got = max_change(fit, old)
    assert (np.isnan(got) and np.isnan(ref)) if special is np.nan else got == ref
    assert special is not None or got == 9.5
    assert max_change(fit, fit) == 0.0 or special is not None


@pytest.mark.parametrize("alpha", [5e-324, 1e-100, 0.1, 1e100])
def test_design_urn_stays_in_its_cells_at_every_alpha(alpha):
    """Agent 0 of every design row takes a uniform cell (it has no earlier agent to copy), even
    where ``u (Z_l alpha) < Z_l alpha`` fails in rounding (a subnormal ``Z_l alpha``): it read
    an unset slot before. At the tiny end every row is one cell; at the huge end cells spread."""
    from smfq_lib._utils.rng import stream_key, uniform
    from smfq_lib.linear.fitted import polya_design

    M, t, Z_l, key_seed = 400, 3, 4, np.uint64(12345)
    out = np.zeros((M, Z_l), np.int64)
    polya_design(M, t, Z_l, alpha, key_seed, out)
    assert np.all(out >= 0) and np.all(out.sum(axis=1) == t)
    keys = [np.uint64(stream_key(key_seed, i)) for i in range(M)]
    first = [min(int(uniform(key, 1) * Z_l), Z_l - 1) for key in keys]
    assert np.all(out[np.arange(M), first] >= 1)
    if alpha <= 1e-100:
        assert np.array_equal(out[np.arange(M), first], np.full(M, t))
    if alpha >= 1e100:
        assert np.mean(out.max(axis=1) == t) < 0.2  # i.i.d. uniform cells: 1/16 of rows


_THREADS_SCRIPT = """
import hashlib, numba
import numpy as np
from brute_force import tiny_system
from smfq_lib.linear import learn_linear, rollout_linear
system = tiny_system(2, 3, 2, 2, seed=3, aggregate=True)
q = learn_linear(system, 5, M=64, m=3, seed=2**40 + 1)
r = rollout_linear(system, q, 9, 1, [3, 3, 3], 40, 30, 7)
h = hashlib.sha256(q.theta.tobytes() + r.returns.tobytes() + r.rewards.tobytes()).hexdigest()
print(numba.get_num_threads(), h)
"""
register("linear", _THREADS_SCRIPT)


def test_same_numbers_whatever_the_thread_count():
    out = outputs_by_thread_count("linear")
    assert len(out["1"]) == 1 and out["1"] == out["2"]


SYSTEM = random_system(1, 2, 1, 2, seed=0)
REFUSALS = [  # (kwargs of learn_linear, the argument the message names)
    (dict(system="x"), "system"),
    (dict(k=0), "k"),
    (dict(k=2.5), "k"),
    (dict(features="[1, F]"), "features"),
    (dict(features=linear_features(5)), "Z_l"),
    (dict(features=one_hot_features(3, 4)), "k = 3"),
    (dict(M=0), "M"),
    (dict(m=0), "m"),
    (dict(m=None), "m=None"),
    (dict(alpha=0.0), "alpha"),
    (dict(alpha=float("nan")), "alpha"),
    (dict(alpha=1e308), "alpha"),  # Z_l alpha overflowed: the urn wrote out of bounds
    (dict(alpha=1e-300), "alpha"),
    (dict(ridge=-1.0), "ridge"),
    (dict(tol=0), "tol"),
    (dict(max_iter=0), "max_iter"),
    (dict(seed=-1), "seed"),
    (dict(memory_budget=0), "memory_budget"),
    (dict(M=10**9, memory_budget=2**20), "M"),
    (dict(k=10**12, M=10, memory_budget=2**30), "k - 1 = 999999999999 agents"),
    (dict(k=40, features=one_hot_features(1, 4)), "k = 1"),
]


@pytest.mark.parametrize(("kwargs", "name"), REFUSALS, ids=[n for _, n in REFUSALS])
def test_bad_input_is_refused_naming_it(kwargs, name):
    args = dict(system=SYSTEM, k=2) | kwargs
    with pytest.raises(ValueError, match=name.replace("[", r"\[")):
        learn_linear(args.pop("system"), args.pop("k"), **args)


def test_a_fraction_is_a_real_number():
    """Python real numbers of any type are converted (``Fraction(1, 3)`` is ``1/3``); they gave
    a raw TypeError in the ridge solve before."""
    from fractions import Fraction

    a = learn_linear(SYSTEM, 2, M=30, ridge=Fraction(1, 3), alpha=Fraction(1, 10), max_iter=20)
    b = learn_linear(SYSTEM, 2, M=30, ridge=1 / 3, alpha=0.1, max_iter=20)
    assert a.ridge == 1 / 3 and np.array_equal(a.theta, b.theta)


def test_tabulating_non_affine_features_is_refused_with_the_size():
    from smfq_lib.linear import custom_features

    system = gaussian_squeeze()  # Z_l = 100
    square = custom_features(lambda F: np.c_[np.ones(len(F)), (F @ np.arange(100)) ** 2], 2, 100)
    with pytest.raises(ValueError, match="not affine in F.*affine features"):
        learn_linear(system, 8, square, M=10, memory_budget=2**30)


def test_theorem_015_terms_as_printed():
    from smfq_lib.chapters.linear_experiments import theorem_015_terms

    t = theorem_015_terms(4, 100, 2**0.5, 0.9, 1.0)
    assert t["sampling"] == pytest.approx(0.5)
    assert t["fit"] == pytest.approx(np.log(32) * 2**2.5 / 10)
    assert t["spectral"] == pytest.approx(1.0 * 0.9 * 1.0 / 0.1 * 2**0.5)
    assert t["probability"] == pytest.approx((1 - 1 / 200) * 0.0)
    assert t["total"] == pytest.approx(t["sampling"] + t["fit"] + t["spectral"])
