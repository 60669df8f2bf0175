"""The fast paths of the empirical operators' sampling (eq. 8, 9) against their slow, obvious
definitions: the branch-free inverse-CDF draw, the counters' precomputed hashes, Algorithm 2's
hoisted sampling kernel against :func:`draw_next` sample by sample, Algorithm 1's against its
documented uniforms, the three ways of compressing an entry's samples against ``numpy.unique``,
and the exact sweep's two-cell laws kept for ``T = t`` only against the full table and an
enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from brute_force import tiny_system

from smfq_lib._utils.rng import (
    categorical,
    counter_hash,
    counter_hashes,
    stream_key,
    uniform,
    uniform_hashed,
)
from smfq_lib.learning.mean_field_exact import ExactTables, _index_tables, _two_cell_laws
from smfq_lib.learning.mean_field_kernels import draw_next, sample_base, sample_mean_field
from smfq_lib.learning.sampled import _COUNTED_MAX, _INSERTION_MAX, _compress, cdf_tables
from smfq_lib.learning.tabular_kernels import sample_tabular
from smfq_lib.model.combinatorics import compositions, expand_cells, rank


def _first_above(cdf, last, u):
    """The inverse-CDF draw written the obvious way: the first s with u < cdf[s], else last."""
    for s, c in enumerate(cdf):
        if u < c:
            return s
    return last


def test_categorical_is_the_first_cdf_value_above_u():
    """Zero-probability outcomes (repeated CDF values), u exactly at a CDF value, u = 0 and u
    beyond a CDF whose rounding fell short of 1 (the last outcome of positive mass)."""
    cdfs = [
        (np.array([0.25, 0.25, 0.75, 1.0]), 3),
        (np.array([0.0, 0.5, 0.5, 1.0]), 3),
        (np.array([0.3, 1.0 - 2**-53, 1.0 - 2**-53]), 1),
        (np.array([1.0]), 0),
        (np.array([0.0, 0.0, 1.0]), 2),
    ]
    rng = np.random.default_rng(1)
    for cdf, last in cdfs:
        us = np.concatenate([cdf, np.nextafter(cdf, 0), [0.0, 1.0 - 2**-53], rng.random(200)])
        for u in us:
            u = float(min(u, 1.0 - 2**-53))  # uniforms lie in [0, 1)
            assert categorical(cdf, last, u) == _first_above(cdf, last, u), (cdf, u)


def test_hashed_uniforms_are_the_uniforms():
    h = counter_hashes(50)
    for seed, stream in ((0, 0), (3, 17), (2**40, 12345)):
        key = np.uint64(stream_key(seed, stream))
        for c in range(50):
            assert h[c] == counter_hash(c)
            assert uniform_hashed(key, h[c]) == uniform(key, c)


@pytest.mark.parametrize(
    ("S_g", "S_l", "A_g", "A_l", "k", "m"),
    [(2, 2, 2, 2, 4, 5), (1, 3, 2, 2, 3, 3), (2, 1, 1, 2, 3, 2), (2, 3, 1, 1, 1, 4)],
)
def test_sample_mean_field_draws_what_draw_next_draws(S_g, S_l, A_g, A_l, k, m):
    """Every stored sample index is the one built from draw_next's sample (next global state,
    agent 1's, the others' counts ranked), on systems with zero-probability transitions."""
    system = tiny_system(S_g, S_l, A_g, A_l, seed=k + m)
    P_l = system.P_l.copy()
    if S_l > 1:  # state 0 unreachable: the CDF repeats its first value
        P_l[..., 0] = 0.0
        P_l /= P_l.sum(axis=-1, keepdims=True)
    cdf_g, last_g, cdf_l, last_l = cdf_tables(system.P_g, P_l)
    Zt = compositions(k - 1, S_l * A_l)
    rows = S_g * S_l * Zt.shape[0]
    out = np.empty(rows * A_l * A_g * m, dtype=np.int64)
    seed = 11
    sample_mean_field(cdf_g, last_g, cdf_l, last_l, Zt, A_l, m, seed, 0, rows, out)
    Cs = compositions(k - 1, S_l).shape[0]
    ag_s, ag_a = np.empty(k - 1, np.int64), np.empty(k - 1, np.int64)
    cnt = np.zeros(S_l, np.int64)
    for row in range(rows):
        sg, s1, r = row // (S_l * Zt.shape[0]), (row // Zt.shape[0]) % S_l, row % Zt.shape[0]
        expand_cells(Zt[r], A_l, ag_s, ag_a)
        for a1 in range(A_l):
            for ag in range(A_g):
                e = (row * A_l + a1) * A_g + ag
                key = np.uint64(stream_key(seed, e))
                for j in range(m):
                    args = (sg, s1, a1, ag, ag_s, ag_a, key, j, cnt)
                    sgn, s1n = draw_next(cdf_g, last_g, cdf_l, last_l, *args)
                    want = (sgn * S_l + s1n) * Cs + rank(cnt)
                    assert out[e * m + j] == want, (row, a1, ag, j)
    assert sample_base(1, k - 1) == k + 1


@pytest.mark.parametrize(
    ("m", "n_targets"),
    [
        (1, 5),
        (7, 3),
        (_INSERTION_MAX, 40),  # insertion sort
        (_INSERTION_MAX + 1, 6),  # counted
        (300, 1000),  # counted, most values once
        (4096, 18),  # counted, chapter 4's m
        (_INSERTION_MAX + 5, _COUNTED_MAX + 1),  # sorted
    ],
)
def test_compress_is_numpy_unique(m, n_targets):
    rng = np.random.default_rng(m)
    entries = 40
    raw = rng.integers(0, n_targets, size=entries * m)
    raw[:m] = n_targets - 1  # one entry a single repeated value
    cnt = np.empty(entries, np.int64)
    idx = np.empty(raw.size, np.int64)
    mult = np.empty(raw.size, np.int64)
    used = _compress(raw, m, n_targets, cnt, idx, mult)
    assert used == cnt.sum()
    o = 0
    for e in range(entries):
        vals, counts = np.unique(raw[e * m : (e + 1) * m], return_counts=True)
        assert cnt[e] == vals.size
        assert np.array_equal(idx[o : o + cnt[e]], vals)
        assert np.array_equal(mult[o : o + cnt[e]], counts)
        o += cnt[e]


@pytest.mark.parametrize(
    ("S_l", "A_l", "t"), [(2, 1, 0), (2, 1, 1), (2, 1, 9), (1, 2, 6), (1, 1, 5)]
)
def test_two_cell_tables_keep_the_full_tables_last_laws(S_l, A_l, t):
    """With two cells or fewer, ExactTables keeps only the laws of T = t, built without storing
    the smaller T: the same numbers, bit for bit, as that block of the full table; and that
    block is the law of the agents' next states (a multinomial sum, enumerated here)."""
    system = tiny_system(2, S_l, 2, A_l, seed=t)
    tables = ExactTables(system.P_l, 2, A_l, t)
    tab, off, _, loff = _index_tables(t, S_l, A_l)
    full = np.zeros((2, loff[-1]))
    _two_cell_laws(system.P_l, A_l, t, tab, off, loff, full, False)
    assert tables.law2.shape == (2, loff[t + 1] - loff[t])
    assert np.array_equal(tables.law2, full[:, loff[t] :])
    comps = compositions(t, S_l)
    Z = S_l * A_l
    for sg in range(2):
        for j in range(t + 1 if Z > 1 else 1):
            # j agents of cell Z - 2 and t - j of cell Z - 1 (cell z = s A_l + a), by enumeration
            cells = [max(Z - 2, 0)] * j + [Z - 1] * (t - j)
            want = np.zeros(len(comps))
            for moves in itertools.product(range(S_l), repeat=t):
                p = 1.0
                for z, s2 in zip(cells, moves, strict=True):
                    p *= system.P_l[z // A_l, sg, z % A_l, s2]
                want[rank(np.bincount(np.array(moves, dtype=np.int64), minlength=S_l))] += p
            got = tables.law2[sg, tables.loff[t] + j * len(comps) :][: len(comps)]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    ("S_g", "S_l", "A_g", "A_l", "k", "m"), [(2, 2, 2, 2, 2, 3), (1, 3, 2, 1, 3, 2)]
)
def test_sample_tabular_draws_the_documented_uniforms(S_g, S_l, A_g, A_l, k, m):
    """Algorithm 1's stored samples (eq. 8), against the obvious loop: sample j of entry e is
    the global agent's inverse-CDF draw at uniform(key, j (k + 1)), then agent i's at
    + 1 + i, the next joint state flattened (zero-probability transitions included)."""
    system = tiny_system(S_g, S_l, A_g, A_l, seed=k + m)
    P_l = system.P_l.copy()
    P_l[..., 0] = 0.0  # state 0 unreachable: the CDF repeats its first value
    P_l /= P_l.sum(axis=-1, keepdims=True)
    cdf_g, last_g, cdf_l, last_l = cdf_tables(system.P_g, P_l)
    Ns, Na = S_g * S_l**k, A_g * A_l**k
    out = np.empty(Ns * Na * m, dtype=np.int64)
    seed = 3
    sample_tabular(cdf_g, last_g, cdf_l, last_l, k, m, seed, 0, Ns, out)
    for row in range(Ns):
        sg, *s = np.unravel_index(row, (S_g,) + (S_l,) * k)
        for col in range(Na):
            ag, *a = np.unravel_index(col, (A_g,) + (A_l,) * k)
            e = row * Na + col
            key = np.uint64(stream_key(seed, e))
            for j in range(m):
                base = j * (k + 1)
                nxt = _first_above(cdf_g[sg, ag], last_g[sg, ag], uniform(key, base))
                for i in range(k):
                    u = uniform(key, base + 1 + i)
                    nxt = nxt * S_l + _first_above(cdf_l[s[i], sg, a[i]], last_l[s[i], sg, a[i]], u)
                assert out[e * m + j] == nxt, (row, col, j)
