"""Empirical operators (eq. 8, 9): samplers, fixed points, contraction, Bellman noise vs m.

The next-state samplers are checked against the exact distributions of the brute force
(``bf_next_counts``, eq. 2) by chi-square tests with a fixed seed; the ranks stored by the
samplers are decoded with the brute force's own composition enumeration.
"""

from __future__ import annotations

import numpy as np
import pytest
from brute_force import bf_next_counts, compositions, tiny_system
from scipy.stats import chi2

from smfq_lib.learning import learn
from smfq_lib.learning.mean_field_exact import exact_tables, next_composition_laws
from smfq_lib.learning.mean_field_kernels import sample_mean_field
from smfq_lib.learning.registry import operator_class
from smfq_lib.learning.rewards import mean_field_reward, tabular_reward
from smfq_lib.learning.sampled import cdf_tables
from smfq_lib.learning.tabular_kernels import sample_tabular
from smfq_lib.model.combinatorics import compositions as compositions_nb

P_MIN = 1e-4  # per-entry chi-square p-value floor (fixed seed: deterministic)


def _chi_square_p(observed: dict, expected_p: dict, n: int) -> float:
    """Pearson chi-square p-value; bins with expected count < 5 are pooled into one."""
    for key in observed:
        assert key in expected_p, f"sampled an impossible outcome {key}"
    obs, exp = [], []
    pool_o, pool_e = 0.0, 0.0
    for key, p in expected_p.items():
        o = observed.get(key, 0)
        if n * p >= 5:
            obs.append(o)
            exp.append(n * p)
        else:
            pool_o += o
            pool_e += n * p
    if pool_e > 0:
        obs.append(pool_o)
        exp.append(pool_e)
    obs, exp = np.array(obs), np.array(exp)
    stat = float(((obs - exp) ** 2 / exp).sum())
    return float(chi2.sf(stat, len(obs) - 1))


def test_mean_field_sampler_matches_exact_convolution():
    """Joint law of (s_g', s_1', next counts of the others) of every entry of one composition."""
    system = tiny_system(2, 3, 2, 2, seed=5)
    S_g, S_l, A_g, A_l = 2, 3, 2, 2
    others = [(0, 0), (0, 0), (1, 1), (2, 0), (2, 1)]  # k - 1 = 5 other agents
    zc = np.zeros(S_l * A_l, dtype=np.int64)
    for s, a in others:
        zc[s * A_l + a] += 1
    m = 20_000
    out = np.empty(S_g * S_l * A_l * A_g * m, dtype=np.int32)
    rows = S_g * S_l
    sample_mean_field(*cdf_tables(system.P_g, system.P_l), zc[None, :], A_l, m, 11, 0, rows, out)
    comps = compositions(len(others), S_l)
    Cs = len(comps)
    p_values = []
    for sg in range(S_g):
        nxt_others = bf_next_counts(system, sg, others)
        for s1 in range(S_l):
            for a1 in range(A_l):
                for ag in range(A_g):
                    e = ((sg * S_l + s1) * A_l + a1) * A_g + ag
                    v = out[e * m : (e + 1) * m]
                    keys, cnt = np.unique(v, return_counts=True)
                    observed = {}
                    for key, c in zip(keys, cnt, strict=True):
                        observed[(key // (S_l * Cs), (key // Cs) % S_l, comps[key % Cs])] = c
                    expected = {
                        (g, s, c): system.P_g[sg, ag, g] * system.P_l[s1, sg, a1, s] * p
                        for g in range(S_g)
                        for s in range(S_l)
                        for c, p in nxt_others.items()
                    }
                    p_values.append(_chi_square_p(observed, expected, m))
    assert min(p_values) > P_MIN, p_values


def test_mean_field_sampler_single_cell_multinomial():
    """Many agents in one cell: the next counts are Multinomial(k-1, P_l[s, s_g, a])."""
    system = tiny_system(1, 3, 1, 2, seed=8)
    zc = np.array([0, 0, 0, 6, 0, 0], dtype=np.int64)  # six agents in (s=1, a=1)
    m = 40_000
    out = np.empty(3 * 2 * m, dtype=np.int32)
    sample_mean_field(*cdf_tables(system.P_g, system.P_l), zc[None, :], 2, m, 3, 0, 3, out)
    comps = compositions(6, 3)
    Cs = len(comps)
    expected = bf_next_counts(system, 0, [(1, 1)] * 6)
    v = out[:m]  # entry (s_g=0, s_1=0, a_1=0, a_g=0)
    keys, cnt = np.unique(v % Cs, return_counts=True)
    observed = {comps[key]: c for key, c in zip(keys, cnt, strict=True)}
    assert _chi_square_p(observed, expected, m) > P_MIN


def test_tabular_sampler_matches_product_kernel():
    system = tiny_system(2, 2, 2, 2, seed=9)
    k, m = 2, 20_000
    S_g, S_l, A_g, A_l = 2, 2, 2, 2
    Ns, Na = S_g * S_l**k, A_g * A_l**k
    out = np.empty(Ns * Na * m, dtype=np.int32)
    sample_tabular(*cdf_tables(system.P_g, system.P_l), k, m, 4, 0, Ns, out)
    p_values = []
    for row in range(Ns):
        sg, *s = np.unravel_index(row, (S_g,) + (S_l,) * k)
        for col in range(Na):
            a = np.unravel_index(col, (A_g,) + (A_l,) * k)
            e = row * Na + col
            keys, cnt = np.unique(out[e * m : (e + 1) * m], return_counts=True)
            observed = dict(zip(keys.tolist(), cnt, strict=True))
            expected = {}
            for nxt in range(Ns):
                d = np.unravel_index(nxt, (S_g,) + (S_l,) * k)
                p = system.P_g[sg, a[0], d[0]]
                for i in range(k):
                    p *= system.P_l[s[i], sg, a[1 + i], d[1 + i]]
                expected[nxt] = p
            p_values.append(_chi_square_p(observed, expected, m))
    assert min(p_values) > P_MIN, p_values


def test_exact_distributions_equal_brute_force():
    """The exact next-composition laws (policy iteration's chain rows) are bf_next_counts of
    the others' cells."""
    system = tiny_system(2, 3, 2, 2, seed=1)
    t, Z_l = 3, 6
    Zt = compositions_nb(t, Z_l)
    tables = exact_tables(np.ascontiguousarray(system.P_l), 2, 2, t)
    comps = compositions(t, 3)
    sgs = np.repeat(np.arange(2), len(Zt))
    rows = np.tile(np.arange(len(Zt)), 2)
    laws = np.empty((rows.size, len(comps)))
    next_composition_laws(
        np.ascontiguousarray(system.P_l),
        2,
        Zt,
        sgs,
        rows,
        tables.tab,
        tables.off,
        tables.law2,
        tables.loff,
        laws,
    )
    for sg in range(2):
        for r, zc in enumerate(Zt):
            cells = [(z // 2, z % 2) for z in range(Z_l) for _ in range(zc[z])]
            want = bf_next_counts(system, sg, cells)
            got = laws[sg * len(Zt) + r]
            assert {comps[c] for c in np.flatnonzero(got)} == want.keys()
            for key, p in want.items():
                assert abs(got[comps.index(key)] - p) < 1e-14


@pytest.mark.parametrize("algorithm", ["mean_field", "tabular"])
def test_bellman_noise_shrinks_with_m(algorithm):
    """||Q_{k,m}^est - Q_k*||_inf (Lemma 0.9) falls like 1/sqrt(m), averaged over 3 seeds.

    A biased sampler would plateau at its bias instead: the m=1000 error must be at least 4x
    below the m=10 one (1/sqrt(m) predicts 10x) and 8x below m=1 (predicted ~30x).
    """
    system = tiny_system(2, 2, 2, 2, gamma=0.9, seed=3)
    k = 3
    exact = learn(system, k, None, algorithm=algorithm, tol=1e-10, progress=False).Q
    eps = {}
    for m in (1, 10, 100, 1000):
        eps[m] = np.mean(
            [
                np.abs(
                    learn(system, k, m, algorithm=algorithm, seed=s, tol=1e-10, progress=False).Q
                    - exact
                ).max()
                for s in range(3)
            ]
        )
    assert eps[1] > eps[10] > eps[100] > eps[1000], eps
    assert eps[1000] < eps[10] / 4, eps
    assert eps[1000] < eps[1] / 8, eps
    assert eps[1000] * np.sqrt(1000) < 3 * eps[10] * np.sqrt(10), eps


@pytest.mark.parametrize("algorithm", ["mean_field", "tabular"])
def test_fixed_samples_give_a_fixed_point(algorithm):
    """The learned table satisfies its own empirical operator (same seed, same samples)."""
    system = tiny_system(2, 2, 2, 2, gamma=0.8, seed=4)
    k, m = 3, 30
    res = learn(system, k, m, algorithm=algorithm, seed=7, tol=1e-12, progress=False)
    Q = res.Q.ravel().copy()
    out = np.empty_like(Q)
    assert operator_class(algorithm)(system, k, m, 7).step(Q, out) <= 1e-10
    np.testing.assert_allclose(out, Q, rtol=0, atol=1e-10)
    # other samples: another operator, another fixed point
    assert operator_class(algorithm)(system, k, m, 8).step(Q, out) > 1e-3


@pytest.mark.parametrize("m", [None, 5])
@pytest.mark.parametrize("algorithm", ["mean_field", "tabular"])
def test_residuals_contract_at_rate_gamma(algorithm, m):
    system = tiny_system(2, 2, 2, 2, gamma=0.85, seed=2, aggregate=True)
    res = learn(
        system, 3, m, algorithm=algorithm, solver="value_iteration", tol=1e-10, progress=False
    )
    r = res.residuals
    g = system.gamma
    assert len(r) > 50
    slack = 1e-12 * r[0]
    # Q^0 = 0, so the first residual is max |R| (the surrogate reward, eq. 6)
    if algorithm == "mean_field":
        R = mean_field_reward(system, 3, compositions_nb(2, system.Z_l))
    else:
        R = tabular_reward(system, 3)
    assert r[0] == np.abs(R).max()
    assert np.all(r[1:] <= g * r[:-1] + slack)
    t = np.arange(len(r))
    assert np.all(r <= g**t * r[0] * (1 + 1e-9) + slack)
    assert r[-1] <= 1e-10 * (1 - g) / g
