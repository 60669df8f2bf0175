"""Policy iteration vs value iteration (smfq_lib.learning.solvers), the exact mean-field sweep,
the compressed samples, and the policy-evaluation solve.

Policy iteration must reach the fixed point of the SAME operator as the paper's value iteration:
on random systems, both operators (exact, sampled) and both algorithms, the two solvers run to a
tight tolerance give the same Q to 1e-9 and identical greedy tables, and the same exact gap
curves. The exact sweep and the compressed samples are checked against independent
computations written the obvious way.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from brute_force import bf_next_counts, compositions, tiny_system
from scipy.sparse.linalg import LinearOperator

from smfq_lib import CooperativeSystem
from smfq_lib.evaluate import policy_value_table
from smfq_lib.learning import learn
from smfq_lib.learning.mean_field import MeanFieldOperator
from smfq_lib.learning.mean_field_kernels import sample_mean_field
from smfq_lib.learning.registry import operator_class
from smfq_lib.learning.sampled import cdf_tables
from smfq_lib.learning.solvers import DENSE_MAX, evaluate_policy
from smfq_lib.model.combinatorics import compositions as compositions_nb

TOL = 1e-12  # both solvers: ||Q - Q_fix||_inf <= TOL


def _tol(gamma):
    """TOL, or 1e-10 at gamma = 0.99, where the stopping threshold TOL (1 - gamma) / gamma would
    fall below the round-off of a sweep (both Qs are then still within 1e-10 of the fixed point)."""
    return 1e-10 if gamma > 0.95 else TOL


# (S_g, S_l, A_g, A_l, k, seed): several sizes, Algorithm 1 needs small k
SIZES = [(2, 2, 2, 2, 3, 0), (1, 3, 2, 2, 2, 1), (3, 2, 1, 3, 2, 2), (2, 3, 3, 2, 3, 3)]


def _both(system, k, m, algorithm):
    kw = dict(algorithm=algorithm, tol=_tol(system.gamma), progress=False, seed=7)
    vi = learn(system, k, m, solver="value_iteration", **kw)
    pi = learn(system, k, m, solver="policy_iteration", **kw)
    return vi, pi


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "Sg{}Sl{}Ag{}Al{}-k{}-s{}".format(*s))
@pytest.mark.parametrize("m", [None, 6], ids=["exact", "m6"])
@pytest.mark.parametrize("algorithm", ["tabular", "mean_field"])
def test_policy_iteration_reaches_value_iterations_fixed_point(algorithm, m, size, gamma):
    S_g, S_l, A_g, A_l, k, seed = size
    system = tiny_system(S_g, S_l, A_g, A_l, gamma=gamma, seed=seed, aggregate=seed % 2 == 1)
    vi, pi = _both(system, k, m, algorithm)
    assert (vi.solver, pi.solver) == ("value_iteration", "policy_iteration")
    np.testing.assert_allclose(pi.Q, vi.Q, rtol=0, atol=1e-9)
    np.testing.assert_allclose(pi.V, vi.V, rtol=0, atol=1e-9)
    assert np.array_equal(pi.pi_g, vi.pi_g) and np.array_equal(pi.pi_l, vi.pi_l)
    assert pi.solves >= 1 and pi.sweeps < vi.sweeps
    assert pi.residuals[-1] <= _tol(gamma) * (1 - gamma) / gamma
    assert vi.solves == 0 and vi.sweeps == len(vi.residuals)


def test_policy_iteration_on_exact_ties_terminates_and_agrees():
    """Two identical local actions and two identical global actions: every state has tied
    maximizers by construction. Policy iteration keeps its current entry on a tie, so it cannot
    cycle; it reaches value iteration's Q and (first-maximizer) tables."""
    base = tiny_system(2, 2, 1, 1, gamma=0.9, seed=5)
    P_g = np.repeat(base.P_g, 2, axis=1)
    P_l = np.repeat(base.P_l, 2, axis=2)
    system = CooperativeSystem(P_g, P_l, np.repeat(base.r_g, 2, 1), np.repeat(base.r_l, 2, 2), 0.9)
    for algorithm, m in itertools.product(["tabular", "mean_field"], [None, 5]):
        vi, pi = _both(system, 3, m, algorithm)
        np.testing.assert_allclose(pi.Q, vi.Q, rtol=0, atol=1e-9)
        assert np.array_equal(pi.pi_g, vi.pi_g) and np.array_equal(pi.pi_l, vi.pi_l)
        assert pi.solves <= 3, (algorithm, m, pi.solves)


@pytest.mark.parametrize(("S_l", "n", "gamma"), [(2, 5, 0.9), (3, 4, 0.5), (2, 4, 0.99)])
def test_same_exact_gap_curves(S_l, n, gamma):
    """V* (Algorithm 2 at k = n) and V^{pi_k^est} for every k = 1..n: the same gap curve with
    either solver (the learned tables are identical, so the policy values are too)."""
    system = tiny_system(2, S_l, 2, 2, gamma=gamma, seed=11 + n)
    kw = dict(algorithm="mean_field", tol=_tol(gamma), progress=False)
    star = {
        s: learn(system, n, None, solver=s, **kw) for s in ("value_iteration", "policy_iteration")
    }
    np.testing.assert_allclose(star["policy_iteration"].V, star["value_iteration"].V, atol=1e-9)
    for k in range(1, n + 1):
        vi, pi = _both(system, k, None, "auto")
        v_vi = policy_value_table(system, vi, n)
        v_pi = policy_value_table(system, pi, n)
        np.testing.assert_allclose(v_pi, v_vi, rtol=0, atol=1e-12)


def _expectation_by_laws(op, V):
    """The exact backup written the obvious way: for every row (s_g, zc), the others' next
    composition law from the brute force's enumeration of their joint moves (bf_next_counts),
    then the sum over (s_g', s_1', c')."""
    s = op.system
    S_g, S_l, Cz, A_l, A_g = op.mf_shape
    comps = compositions(op.k - 1, S_l)
    R = op.R.reshape(op.mf_shape)
    out = np.empty(op.mf_shape)
    for sg, r in itertools.product(range(S_g), range(Cz)):
        cells = [(z // A_l, z % A_l) for z in range(S_l * A_l) for _ in range(op.Zt[r, z])]
        law = bf_next_counts(s, sg, cells)
        W = sum(p * V[:, :, comps.index(c)] for c, p in law.items())  # (S_g', S_l')
        for s1, a1, ag in itertools.product(range(S_l), range(A_l), range(A_g)):
            ev = s.P_g[sg, ag] @ W @ s.P_l[s1, sg, a1]
            out[sg, s1, r, a1, ag] = R[sg, s1, r, a1, ag] + s.gamma * ev
    return out


@pytest.mark.parametrize(
    ("S_g", "S_l", "A_g", "A_l", "k"),
    [(2, 2, 2, 2, 4), (2, 3, 2, 2, 3), (1, 1, 1, 1, 3), (2, 1, 2, 3, 3), (1, 3, 1, 1, 4),
     (2, 2, 1, 2, 1), (1, 2, 2, 1, 5)],
)  # fmt: skip
def test_exact_sweep_equals_expectation_over_enumerated_laws(S_g, S_l, A_g, A_l, k):
    """The sum-factorised sweep (one agent added per step, multinomial leaf) against the
    expectation over each row's enumerated next-composition law; includes |Z_l| = 1 and 2."""
    system = tiny_system(S_g, S_l, A_g, A_l, seed=k + 10 * S_l)
    op = MeanFieldOperator(system, k, None, 0)
    V = np.random.default_rng(k).random((S_g, S_l, op.Cs))
    Q_old = np.zeros(op.size)
    Q_new = np.empty(op.size)
    res = op.backup(V.ravel(), Q_old, Q_new)
    want = _expectation_by_laws(op, V)
    np.testing.assert_allclose(Q_new.reshape(op.mf_shape), want, rtol=0, atol=1e-13)
    assert res == np.abs(Q_new).max()


def test_compressed_samples_are_the_raw_draws():
    """Every entry's (index, multiplicity) pairs are the multiset of its m raw draws (drawn again
    here at full width by the sampling kernel), and the sampled backup is their plain mean."""
    system = tiny_system(2, 3, 2, 2, seed=3)
    k, m, seed = 3, 9, 4
    op = operator_class("mean_field")(system, k, m, seed)
    rows = op.size // (system.A_l * system.A_g)
    raw = np.empty(op.size * m, dtype=np.int64)
    cdf = cdf_tables(system.P_g, system.P_l)
    sample_mean_field(*cdf, compositions_nb(k - 1, system.Z_l), 2, m, seed, 0, rows, raw)
    s = op.samples
    assert s.ptr[-1] == s.idx.size < op.size * m  # repeats were merged
    V = np.random.default_rng(0).random(op.n_values)
    Q_new = np.empty(op.size)
    op.backup(V, np.zeros(op.size), Q_new)
    for e in range(op.size):
        vals, cnt = np.unique(raw[e * m : (e + 1) * m], return_counts=True)
        lo, hi = s.ptr[e], s.ptr[e + 1]
        assert np.array_equal(s.idx[lo:hi], vals) and np.array_equal(s.mult[lo:hi], cnt)
        mean = V[raw[e * m : (e + 1) * m]].mean()
        assert abs(Q_new[e] - (op.R[e] + system.gamma * mean)) <= 1e-14


def _random_chain(n, density, seed):
    rng = np.random.default_rng(seed)
    P = sp.random_array((n, n), density=density, rng=rng, format="csr") + sp.eye_array(n)
    P = sp.csr_array(P.multiply(1.0 / P.sum(axis=1)[:, None]))
    return P, rng.random(n)


@pytest.mark.parametrize("gamma", [0.5, 0.99])
def test_evaluation_solves_agree_with_a_dense_solve(gamma):
    """The three paths of evaluate_policy (sparse LU, dense LU, GMRES on a LinearOperator above
    DENSE_MAX states) against numpy's dense solve of (I - gamma P) V = r."""
    n = DENSE_MAX + 300
    P, r = _random_chain(n, 4.0 / n, 0)
    dense = P.toarray()
    want = np.linalg.solve(np.eye(n) - gamma * dense, r)

    class Op(LinearOperator):
        def __init__(self):
            super().__init__(float, (n, n))

        def _matvec(self, x):
            return dense @ np.ravel(x)

        def toarray(self):
            return dense

    atol = 1e-11
    for chain in (P, Op()):
        got = evaluate_policy(chain, r, gamma, np.zeros(n), atol)
        assert np.abs(got - want).max() <= 1e-9 / (1 - gamma)
    small = 200
    Ps, rs = _random_chain(small, 0.05, 1)
    got = evaluate_policy(Ps.toarray(), rs, gamma, None, atol)
    want = np.linalg.solve(np.eye(small) - gamma * Ps.toarray(), rs)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
