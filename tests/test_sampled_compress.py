"""smfq_lib.learning.sampled._compress: every entry's samples become their distinct values,
ascending, with multiplicities, as numpy's unique counts them (the brute-force reference)."""

from __future__ import annotations

import numpy as np
import pytest

from smfq_lib.learning.sampled import _compress


@pytest.mark.parametrize("m, n_targets", [(1, 5), (2, 1), (7, 3), (300, 40), (4096, 18)])
def test_compress_equals_unique_counts_per_entry(m, n_targets):
    rng = np.random.default_rng(m)
    entries = 5
    raw = rng.integers(0, n_targets, entries * m).astype(np.int64)
    cnt = np.empty(entries, np.int64)
    idx = np.empty(entries * m, np.int64)
    mult = np.empty(entries * m, np.int64)
    used = _compress(raw, m, cnt, idx, mult)
    o = 0
    for e in range(entries):
        values, counts = np.unique(raw[e * m : (e + 1) * m], return_counts=True)
        assert cnt[e] == values.size
        np.testing.assert_array_equal(idx[o : o + values.size], values)
        np.testing.assert_array_equal(mult[o : o + values.size], counts)
        o += values.size
    assert used == o
