"""The executors' fast paths give the slow paths' numbers bit for bit, on small systems with ties,
reward noise, aggregate rewards and drawn starts. Agent level (smfq_lib.execute.agents): samples
ranked through the code table (``_code_ranks``) equal samples counted and ranked (``_draw_counts``,
``_rank_table``), and transition draws from a row's bounds (``_next_local``) equal the plain
inverse CDF (``_inverse_cdf``). Count level (smfq_lib.execute.counts): laws memoised per count
state equal laws computed every step."""

from __future__ import annotations

import numpy as np
import pytest
from brute_force import random_policy, tiny_system

from smfq_lib.execute import agents, counts, iid_initial, rollout_agents, rollout_counts
from smfq_lib.learning import learn
from smfq_lib.learning.policy import RULES
from smfq_lib.model.combinatorics import compositions
from smfq_lib.model.examples import gaussian_squeeze
from smfq_lib.model.system import CooperativeSystem, RewardNoise


def _fields(r):
    return r.returns, r.rewards, r.s_g, r.a_g, r.counts


@pytest.mark.parametrize("S_l, K", [(1, 0), (1, 3), (2, 0), (3, 1), (3, 4), (4, 3)])
def test_code_table_ranks_every_ordered_sample(S_l, K):
    """Entry ``code`` is the index, in the enumeration of compositions, of the counts of the
    code's base-S_l digits (written out digit by digit here)."""
    comps = [tuple(c) for c in compositions(K, S_l)]
    table = agents._code_ranks(S_l, K)
    assert table.shape == (S_l**K,)
    for code in range(S_l**K):
        counts, rest = [0] * S_l, code
        for _ in range(K):
            counts[rest % S_l] += 1
            rest //= S_l
        assert table[code] == comps.index(tuple(counts))


def test_code_table_is_empty_beyond_its_limits():
    assert agents._code_ranks(2, agents._SCAN_MAX + 1).size == 0
    assert agents._code_ranks(300, 2).size == 0  # 90,000 codes > _CODES_MAX


def test_row_bounds_draw_equals_the_inverse_cdf_at_every_edge():
    rng = np.random.default_rng(3)
    P = rng.random((6, 5, 7)) * (rng.random((6, 5, 7)) < 0.5)  # zeros before, inside, after
    P[..., 3] += 0.1
    cdf = np.cumsum(P, axis=-1)
    cdf /= cdf[..., -1:]
    lo, hi = agents._row_bounds(cdf)
    cdf4, lo3, hi3 = cdf[:, :, None], lo[:, :, None], hi[:, :, None]  # rows [si, s_g, a]
    for i in range(6):
        for j in range(5):
            row = cdf[i, j]
            us = [0.0, np.nextafter(1.0, 0.0), *row[:-1], *np.nextafter(row[:-1], 0.0)]
            for u in [u for u in [*us, *rng.random(20)] if u < 1.0]:  # uniforms are < 1
                want = agents._inverse_cdf(row, u)
                got = agents._next_local(cdf4, lo3, hi3, i, j, 0, u)
                assert got == want, (i, j, u)


def _noisy(system, seed):
    rng = np.random.default_rng(seed)
    noise = RewardNoise(w_g=rng.random(system.r_g.shape), w_l=rng.random(system.r_l.shape))
    return CooperativeSystem(
        system.P_g, system.P_l, system.r_g, system.r_l, system.gamma, reward_noise=noise
    )


def _cases():
    gs = gaussian_squeeze(loads=3, mu=1.0, sigma=1.0, gamma=0.9)  # ties under every rule
    for k in (1, 2, 3):
        q = learn(gs, k, None, algorithm="mean_field", progress=False)
        for rule in RULES:
            yield gs, q, rule, 7, [3, 2, 2]
    for agg in (False, True):
        system = tiny_system(2, 3, 2, 2, seed=4, aggregate=agg)
        for k in (1, 2, 4):
            yield _noisy(system, k), random_policy(system, k, k), None, 9, [3, 3, 3]


def test_code_table_path_equals_the_counting_path(monkeypatch):
    """The same rollouts with the code table and with it switched off (counts and ranks)."""
    fast = [
        _fields(rollout_agents(s, q, n, 0, c, 25, 5, 11, rule=rule, record_counts=True))
        for s, q, rule, n, c in _cases()
    ]
    monkeypatch.setattr(agents, "_CODES_MAX", 0)
    assert agents._code_ranks(3, 0).size == 0
    slow = [
        _fields(rollout_agents(s, q, n, 0, c, 25, 5, 11, rule=rule, record_counts=True))
        for s, q, rule, n, c in _cases()
    ]
    for f, s in zip(fast, slow, strict=True):
        for a, b in zip(f, s, strict=True):
            np.testing.assert_array_equal(a, b)


def _count_cases():
    gs = gaussian_squeeze(loads=3, mu=1.0, sigma=1.0, gamma=0.9)
    for k in (1, 3):
        q = learn(gs, k, None, algorithm="mean_field", progress=False)
        for rule in RULES:
            yield gs, q, rule, 7, [3, 2, 2], None
    for agg in (False, True):
        system = tiny_system(3, 3, 2, 2, seed=5, aggregate=agg)
        for k in (1, 2, 4):
            pol = random_policy(system, k, k)
            yield _noisy(system, k), pol, None, 9, [3, 3, 3], None
            start = iid_initial(system, [0.2, 0.3, 0.5], [0.5, 0.2, 0.3])
            yield system, pol, None, 6, None, start


@pytest.mark.parametrize("memo_max", [0, 40])
def test_memoised_laws_equal_laws_computed_every_step(monkeypatch, memo_max):
    """The count-level executor with its laws memoised (all states, or a table that fills up)
    and computed every step (memo switched off): the same rollouts bit for bit."""

    def runs():
        out = []
        for s, q, rule, n, c, init in _count_cases():
            s_g = None if c is None else 0
            kw = dict(rule=rule, initial=init, record_counts=True)
            out.append(_fields(rollout_counts(s, q, n, s_g, c, 30, 6, 11, **kw)))
        return out

    fast = runs()
    monkeypatch.setattr(counts, "_MEMO_MAX", memo_max)
    assert counts._memo(tiny_system(1, 3, 1, 2), 6)[0] == memo_max // 7  # 1 + 3 x 2 per state
    for f, s in zip(fast, runs(), strict=True):
        for a, b in zip(f, s, strict=True):
            np.testing.assert_array_equal(a, b)


def test_no_memo_where_the_keys_would_overflow():
    assert counts._memo(tiny_system(1, 3, 1, 2), 10**9)[0] == 0  # B table too large
    assert counts._memo(tiny_system(1, 40, 1, 2), 10**6)[0] == 0  # C(n + 39, 39) > 2**62
