"""Exact learners (m=None) against the brute-force fixed point of eq. (12) (tests/brute_force.py).

Algorithm 1 must equal ``bf_subsystem_Q`` entrywise; Algorithm 2 must equal it at every
corresponding entry: for every joint state and action of the k agents,
``Q2[s_g, s_1, rank(zc of agents 2..k), a_1, a_g] == bf[s_g, s_1..s_k, a_g, a_1..a_k]``
(permutation invariance, Definition 0.8). The value and greedy tables must agree with the brute
force's maximum at the canonical representative.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from brute_force import bf_subsystem_Q, composition_rank, tiny_system

from smfq_lib.learning import learn

ATOL = 1e-9

# (seed, S_g, S_l, A_g, A_l, k, aggregate, gamma): 24 seeded tiny systems
CASES = [
    (0, 2, 2, 2, 2, 1, False, 0.9),
    (1, 2, 2, 2, 2, 2, False, 0.9),
    (2, 2, 2, 2, 2, 3, False, 0.9),
    (3, 1, 2, 1, 2, 3, False, 0.8),
    (4, 2, 3, 2, 2, 2, False, 0.9),
    (5, 3, 2, 2, 2, 2, False, 0.95),
    (6, 2, 2, 3, 2, 2, False, 0.7),
    (7, 2, 2, 2, 3, 2, False, 0.9),
    (8, 1, 3, 2, 2, 2, False, 0.9),
    (9, 2, 1, 2, 2, 3, False, 0.9),
    (10, 2, 2, 2, 1, 3, False, 0.9),
    (11, 1, 2, 1, 2, 4, False, 0.9),
    (12, 3, 3, 2, 2, 1, False, 0.9),
    (13, 2, 2, 2, 2, 1, True, 0.9),
    (14, 2, 2, 2, 2, 2, True, 0.9),
    (15, 2, 2, 2, 2, 3, True, 0.9),
    (16, 1, 3, 2, 2, 2, True, 0.85),
    (17, 2, 3, 2, 2, 2, True, 0.9),
    (18, 2, 2, 1, 3, 2, True, 0.9),
    (19, 1, 2, 2, 2, 4, True, 0.9),
    (20, 2, 2, 3, 2, 2, True, 0.6),
    (21, 3, 2, 2, 2, 3, False, 0.9),
    (22, 2, 3, 1, 2, 2, False, 0.99),
    (23, 1, 1, 1, 1, 2, True, 0.9),
]


def _ids(case):
    seed, S_g, S_l, A_g, A_l, k, agg, gamma = case
    return f"s{seed}-Sg{S_g}Sl{S_l}Ag{A_g}Al{A_l}-k{k}{'-agg' if agg else ''}-g{gamma}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_exact_learners_equal_brute_force(case):
    seed, S_g, S_l, A_g, A_l, k, agg, gamma = case
    system = tiny_system(S_g, S_l, A_g, A_l, gamma=gamma, seed=seed, aggregate=agg)
    bf = bf_subsystem_Q(system, k, tol=1e-12)

    tab = learn(system, k, None, algorithm="tabular", tol=1e-12, progress=False)
    mf = learn(system, k, None, algorithm="mean_field", tol=1e-12, progress=False)
    assert tab.algorithm == "tabular" and mf.algorithm == "mean_field"
    assert tab.Q.shape == bf.shape
    np.testing.assert_allclose(tab.Q, bf, rtol=0, atol=ATOL)

    # Algorithm 2 at every corresponding entry of the joint space
    Z_l = S_l * A_l
    zrank = composition_rank(k - 1, Z_l)
    crank = composition_rank(k - 1, S_l)
    assert mf.Q.shape == (S_g, S_l, len(zrank), A_l, A_g)
    n_checked = 0
    for s in itertools.product(range(S_g), *[range(S_l)] * k):
        for a in itertools.product(range(A_g), *[range(A_l)] * k):
            zc = [0] * Z_l
            for s_i, a_i in zip(s[2:], a[2:], strict=True):
                zc[s_i * A_l + a_i] += 1
            got = mf.Q[s[0], s[1], zrank[tuple(zc)], a[1], a[0]]
            assert abs(got - bf[s + a]) <= ATOL, (s, a, got, bf[s + a])
            n_checked += 1
    assert n_checked == bf.size

    # value and greedy tables: V is the brute-force max at the canonical representative, and
    # the greedy actions attain it (both learners)
    for res in (tab, mf):
        assert res.V.shape == res.pi_g.shape == res.pi_l.shape == (S_g, S_l, len(crank))
        for c, r in crank.items():
            others = [x for x in range(S_l) for _ in range(c[x])]
            for s_g in range(S_g):
                for s_1 in range(S_l):
                    block = bf[(s_g, s_1, *others)]
                    assert abs(res.V[s_g, s_1, r] - block.max()) <= ATOL
                    assert res.value(s_g, s_1, np.array(c)) == res.V[s_g, s_1, r]
                    a_g, a_1 = res.greedy(s_g, s_1, np.array(c))
                    # best completion of the others' actions given (a_g, a_1)
                    attained = block[a_g, a_1].max()
                    assert abs(attained - block.max()) <= ATOL


def test_exact_tabular_and_mean_field_tables_agree():
    """Both exact learners give the same V (to round-off) on a system where ties are unlikely."""
    system = tiny_system(2, 3, 2, 2, gamma=0.9, seed=42)
    tab = learn(system, 3, None, algorithm="tabular", tol=1e-12, progress=False)
    mf = learn(system, 3, None, algorithm="mean_field", tol=1e-12, progress=False)
    np.testing.assert_allclose(tab.V, mf.V, rtol=0, atol=ATOL)
    assert np.array_equal(tab.pi_g, mf.pi_g) and np.array_equal(tab.pi_l, mf.pi_l)
