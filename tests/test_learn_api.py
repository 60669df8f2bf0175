"""``learn`` / ``SubsampledQ`` API: validation, memory guard, auto rule, storage, determinism."""

from __future__ import annotations

import json
import math
import re
import textwrap

import numpy as np
import pytest
from brute_force import tiny_system
from threads import outputs_by_thread_count, register

from smfq_lib.learning import SubsampledQ, choose_algorithm, learn, table_bytes


@pytest.fixture(scope="module")
def system():
    return tiny_system(2, 2, 2, 2, gamma=0.9, seed=0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"k": 0}, "k"),
        ({"k": 1.5}, "k"),
        ({"k": True}, "k"),
        ({"k": 2, "m": 0}, "m"),
        ({"k": 2, "m": 2.5}, "m"),
        ({"k": 2, "algorithm": "fast"}, "algorithm"),
        ({"k": 2, "tol": 0.0}, "tol"),
        ({"k": 2, "tol": "1e-8"}, "tol"),
        ({"k": 2, "tol": 5e-324}, "tol"),  # its threshold tol (1 - gamma) / gamma underflowed to 0
        ({"k": 2, "tol": float("inf")}, "tol"),
        ({"k": 2, "max_iter": 0}, "max_iter"),
        ({"k": 2, "seed": -1}, "seed"),
        ({"k": 2, "progress": "no"}, "progress"),
        ({"k": 2, "memory_budget": -5}, "memory_budget"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(system, kwargs, name):
    k = kwargs.pop("k")
    with pytest.raises(ValueError, match=rf"^{name} must"):
        learn(system, k, **kwargs)


def test_system_must_be_a_cooperative_system():
    with pytest.raises(ValueError, match="system must be an smfq_lib.CooperativeSystem"):
        learn({"P_g": 1}, 2)


def test_memory_guard_names_size_and_largest_k():
    system = tiny_system(2, 3, 2, 3, seed=1)
    budget = 50 * 2**20  # 50 MiB
    with pytest.raises(ValueError) as err:
        learn(system, 12, 20, algorithm="mean_field", memory_budget=budget)
    msg = str(err.value)
    need = table_bytes(system, 12, 20, "mean_field")
    assert f"{need / 2**30:.3g} GiB" in msg
    best = int(re.search(r"largest k that would fit with algorithm='mean_field' is (\d+)", msg)[1])
    assert table_bytes(system, best, 20, "mean_field") <= budget
    assert table_bytes(system, best + 1, 20, "mean_field") > budget
    # the stored samples are counted: the exact operator fits at a larger k than m = 20
    with pytest.raises(ValueError, match="GiB"):
        learn(system, 12, None, algorithm="mean_field", memory_budget=1000)


def test_memory_guard_on_paper_tabular_suggests_mean_field():
    system = tiny_system(2, 3, 2, 3, seed=1)  # |Z_l| = 9: the paper picks Algorithm 1 to k = 13
    with pytest.raises(ValueError, match=r"With algorithm='mean_field' the largest k is \d+"):
        learn(system, 8, None, algorithm="paper", memory_budget=2**30)


def test_paper_rule_and_reason():
    # |Z_l| = 4: 4^(k-1) <= k^4 holds for k <= 6 and fails from k = 7 on
    for k in range(1, 7):
        assert choose_algorithm(4, k, "paper")[0] == "tabular"
    for k in range(7, 12):
        assert choose_algorithm(4, k, "paper")[0] == "mean_field"
    alg, reason = choose_algorithm(4, 7, "paper")
    assert "4^6 = 4096 > k^|Z_l| = 7^4 = 2401" in reason and "paper's rule" in reason
    system = tiny_system(1, 2, 1, 2, seed=2)
    res = learn(system, 7, None, algorithm="paper", progress=False)
    assert res.algorithm == "mean_field" and "paper's rule" in res.reason
    res = learn(system, 2, None, algorithm="paper", progress=False)
    assert res.algorithm == "tabular" and "<=" in res.reason
    res = learn(system, 2, None, algorithm="mean_field", progress=False)
    assert res.algorithm == "mean_field" and "requested by the caller" in res.reason


def test_auto_picks_the_smaller_table():
    """``"auto"``: Algorithm 1 iff its Q has no more entries than Algorithm 2's, checked against
    the entry counts written out independently (ties at k <= 2 go to Algorithm 1)."""
    for Z in (1, 2, 4, 9):
        for k in range(1, 30):
            tab = Z**k
            mf = Z * math.comb(k - 1 + Z - 1, Z - 1)
            assert choose_algorithm(Z, k)[0] == ("tabular" if tab <= mf else "mean_field"), (Z, k)
    alg, reason = choose_algorithm(4, 3)
    assert alg == "mean_field" and "smaller table" in reason and "16 > " in reason
    system = tiny_system(1, 2, 1, 2, seed=2)
    assert learn(system, 3, None, progress=False).algorithm == "mean_field"
    assert learn(system, 2, None, progress=False).algorithm == "tabular"


def test_auto_takes_algorithm_2_where_algorithm_1_has_too_many_axes():
    """With |Z_l| = 1 both tables have the same size at every k, a tie that goes to Algorithm 1;
    past k = 31 its 2k + 2 axes exceed NumPy's 64, so "auto" takes Algorithm 2 there."""
    from smfq_lib.model.examples import random_system

    system = random_system(2, 1, 2, 1, seed=0)  # S_l = A_l = 1
    assert learn(system, 31, progress=False).algorithm == "tabular"
    q = learn(system, 33, progress=False)
    assert q.algorithm == "mean_field" and "2k + 2 axes" in q.reason
    np.testing.assert_allclose(q.V, learn(system, 33, algorithm="mean_field", progress=False).V)


def test_huge_k_is_refused_before_any_work():
    """Sizes are compared in logs: k = 10**7 or 10**18 neither hangs on exact powers nor
    overflows a float while formatting the message (no wall time is asserted: a hang would hang
    the suite, and the refusal catalogue checks the memory a refusal takes)."""
    system = tiny_system(2, 3, 2, 3, seed=1)
    for k in (10**6, 10**7, 10**18):
        for algorithm in ("tabular", "mean_field", "auto", "paper"):
            with pytest.raises(ValueError, match="bytes|GiB"):
                learn(system, k, None, algorithm=algorithm, progress=False)
    assert choose_algorithm(9, 10**18)[0] == "mean_field"
    assert choose_algorithm(9, 10**18, "paper")[0] == "mean_field"


@pytest.mark.parametrize("budget", [float("inf"), float("nan"), -1.0])
def test_infinite_or_nan_memory_budget_is_refused_clearly(system, budget):
    """No OverflowError: a ValueError naming the argument, before any work."""
    with pytest.raises(ValueError, match="^memory_budget must be None .* positive finite"):
        learn(system, 2, None, memory_budget=budget, progress=False)


@pytest.mark.parametrize("value", [np.inf, np.nan])
@pytest.mark.parametrize("solver", ["value_iteration", "policy_iteration"])
def test_non_finite_q_is_an_error(solver, value):
    """A NaN or infinite residual raises instead of counting as converged (NaN <= tol is False,
    but so is every later test: the loop used to stop silently). Systems refuse rewards that
    could overflow, so the operator's R is corrupted directly here."""
    from tqdm.auto import tqdm

    from smfq_lib.learning import solvers
    from smfq_lib.learning.registry import operator_class

    op = operator_class("mean_field")(tiny_system(1, 2, 1, 2, gamma=0.9, seed=3), 2, None, 0)
    op.R[3] = value
    with tqdm(disable=True) as bar, pytest.raises(ValueError, match="overflowed or became NaN"):
        getattr(solvers, solver)(op, 1e-9, 50, bar)


@pytest.mark.parametrize("algorithm", ["tabular", "mean_field"])
def test_k_equal_one(system, algorithm):
    res = learn(system, 1, 4, algorithm=algorithm, progress=False)
    assert res.V.shape == res.pi_g.shape == (2, 2, 1)
    assert res.greedy(1, 0, np.zeros(2, dtype=int)) == (res.pi_g[1, 0, 0], res.pi_l[1, 0, 0])
    expected = (2, 2, 2, 2) if algorithm == "tabular" else (2, 2, 1, 2, 2)
    assert res.Q.shape == expected


def test_greedy_and_value_lookups(system):
    res = learn(system, 3, None, algorithm="mean_field", progress=False)
    # counts (1, 1) has rank 1 in (0,2), (1,1), (2,0)
    assert res.value(0, 1, np.array([1, 1])) == res.V[0, 1, 1]
    assert res.greedy(0, 1, [1, 1]) == (res.pi_g[0, 1, 1], res.pi_l[0, 1, 1])
    q = res.Q[0, 1]  # (Cz, A_l, A_g)
    a_g, a_1 = res.greedy(0, 1, [1, 1])
    from smfq_lib.model.combinatorics import marginal_ranks

    mask = marginal_ranks(2, 2, 2) == 1
    assert q[mask].max() == res.value(0, 1, [1, 1])
    assert q[mask][:, a_1, a_g].max() == res.value(0, 1, [1, 1])
    for bad in ([1, 2], [2], [-1, 3], [1.0, 1.0]):
        with pytest.raises(ValueError, match="counts must"):
            res.value(0, 1, bad)
    with pytest.raises(ValueError, match="s_g must"):
        res.greedy(5, 0, [1, 1])
    with pytest.raises(ValueError, match="s_1 must"):
        res.greedy(0, 2, [1, 1])


@pytest.mark.parametrize("m", [None, 3])
def test_save_load_round_trip(system, tmp_path, m):
    res = learn(system, 3, m, algorithm="tabular", progress=False, seed=5)
    path = tmp_path / "q.npz"
    res.save(path)
    with np.load(path, allow_pickle=False) as f:  # no pickle inside
        assert json.loads(str(f["meta"]))["m"] == m
    back = SubsampledQ.load(path)
    fields = ("k", "m", "algorithm", "reason", "seconds", "seed", "system_fingerprint")
    assert res.system_fingerprint == system.fingerprint
    solver_fields = ("solver", "sweeps", "solves", "solve_seconds")
    for name in fields + solver_fields:
        assert getattr(back, name) == getattr(res, name)
    assert res.solver == "policy_iteration" and res.solves >= 1
    for name in ("Q", "V", "pi_g", "pi_l", "residuals"):
        a, b = getattr(back, name), getattr(res, name)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert back.greedy(1, 1, [2, 0]) == res.greedy(1, 1, [2, 0])
    # a file written before the solver fields existed loads with the defaults
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        arrays = {name: f[name] for name in f.files if name != "meta"}
    for name in solver_fields:
        del meta[name]
    old = tmp_path / "old.npz"
    np.savez(old, meta=np.array(json.dumps(meta)), **arrays)
    back = SubsampledQ.load(old)
    assert (back.solver, back.sweeps, back.solves, back.solve_seconds) == (
        "value_iteration",
        0,
        0,
        0,
    )
    meta["solver"] = "newton"
    np.savez(old, meta=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(ValueError, match="metadata solver = 'newton'"):
        SubsampledQ.load(old)
    # a file written before fingerprints: loads, with a warning that nothing can be checked
    del meta["solver"], meta["system_fingerprint"]
    np.savez(old, meta=np.array(json.dumps(meta)), **arrays)
    with pytest.warns(UserWarning, match="records no system fingerprint.*Learn it again"):
        assert SubsampledQ.load(old).system_fingerprint is None
    # tables in another byte order or integer width load as the kernels' native types
    swapped = {name: a.astype(a.dtype.newbyteorder(">")) for name, a in arrays.items()}
    swapped["pi_g"] = arrays["pi_g"].astype(np.int16)
    np.savez(old, meta=np.array(json.dumps(meta | {"system_fingerprint": "0" * 16})), **swapped)
    back = SubsampledQ.load(old)
    for name in ("Q", "V", "pi_g", "pi_l", "residuals"):
        a = getattr(back, name)
        assert a.dtype.isnative and a.dtype.itemsize == 8 and np.array_equal(a, arrays[name])


def test_progress_bar_on_and_off(system, capsys):
    learn(system, 2, 2, progress=False)
    assert capsys.readouterr().err == ""
    learn(system, 2, 2, progress=True)
    assert "residual=" in capsys.readouterr().err


def test_max_iter_cap_warns(system):
    with pytest.warns(RuntimeWarning, match="max_iter=3"):
        res = learn(system, 2, 2, solver="value_iteration", max_iter=3, progress=False)
    assert len(res.residuals) == res.sweeps == 3
    with pytest.warns(RuntimeWarning, match="max_iter=1 sweeps"):
        res = learn(system, 2, 2, solver="policy_iteration", max_iter=1, progress=False)
    assert res.sweeps == 1 and res.solves == 1  # the residuals also hold max|R| (T 0 = R)


_SCRIPT = textwrap.dedent(
    """
    import hashlib, importlib, itertools, sys
    import numba
    from brute_force import tiny_system
    L = importlib.import_module("smfq_lib.learning.learner")  # holds learn
    S = importlib.import_module("smfq_lib.learning.solvers")  # holds SERIAL_WORK
    serial, S.SERIAL_WORK = S.SERIAL_WORK, 0  # force the parallel path even on small tables
    s = tiny_system(2, 3, 2, 2, seed=6, aggregate=True)
    out = [str(numba.get_num_threads())]
    for alg, k, m, solver in itertools.product(
        ("mean_field", "tabular"), (2, 4), (None, 7), ("value_iteration", "policy_iteration")
    ):
        if alg == "mean_field" or k == 2:
            r = L.learn(s, k, m, algorithm=alg, solver=solver, seed=3, progress=False)
            h = hashlib.sha256()
            for a in (r.Q, r.V, r.pi_g, r.pi_l, r.residuals):
                h.update(a.tobytes())
            out.append(h.hexdigest())
    print(" ".join(out))
    S.SERIAL_WORK = serial  # as it was, for the scripts run after this one (tests/threads.py)
    """
)
register("learn_api", _SCRIPT)


def test_same_seed_same_q_on_one_and_two_threads():
    runs = outputs_by_thread_count("learn_api")
    assert runs["1"] == runs["2"]


@pytest.mark.parametrize("solver", ["value_iteration", "policy_iteration"])
def test_progress_bar_ends_at_100_percent_on_convergence(system, solver, capsys):
    """The bar's total is the sweep cap; a run that converges before it ends at 100%, not at
    the fraction of the cap it used."""
    q = learn(system, 2, None, solver=solver, progress=True)
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert f" {q.sweeps}/{q.sweeps} " in final and "100%" in final, final
