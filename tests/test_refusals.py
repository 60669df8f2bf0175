"""The catalogue of refusals: every bad input the package refuses, as ONE table.

Each row is ``(id, call, error type, regex the message must match)``; read :data:`CASES` to see
at a glance what is refused and how the message reads (``python tests/test_refusals.py`` prints
every final message). Each refusal must come before any work: every call runs under
``tracemalloc`` and its peak must stay below :data:`PEAK_MAX` (a few MiB, while the refused
work would need GiB), and the calls that take a ``memory_budget`` get a small one, so that a
refusal that came too late would hit the budget instead and fail its regex. No timing.

Expected sizes in the messages are computed here by an independent route (``math.comb``),
never copied from the package's output. The cheap bad-input cases of other test modules are
imported from their ``parametrize`` tables (not copied), so that both stay one list.
"""

# ruff: noqa: E501 (the table keeps one case per line)
from __future__ import annotations

import json
import math
import re
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np
import pytest
import test_examples
import test_learn_api
import test_linear
import test_policy
import test_reproduce
import test_theory
from brute_force import random_policy, tiny_system

from smfq_lib import Aggregate, CooperativeSystem, RewardNoise, SubsampledQ, learn
from smfq_lib.chapters.reproduce import check_injected, settings
from smfq_lib.evaluate import gap, optimal_value, optimal_value_table, policy_value
from smfq_lib.evaluate.worst_case import worst_case_gap
from smfq_lib.execute import iid_initial, rollout_agents, rollout_counts
from smfq_lib.learning.policy import action_distributions
from smfq_lib.linear import (
    affine_features,
    custom_features,
    learn_linear,
    mean_features,
    rollout_linear,
)
from smfq_lib.model.examples import constrained_exploration, random_system
from smfq_lib.theory import gap_bound, gap_bound_log_argument, m_star, rule_choice, table_sizes

THREADS = numba.get_num_threads()  # the agent-level executor's working vectors, per thread
PEAK_MAX = 4 * 2**20  # bytes traced by tracemalloc during one refusal
SMALL = 2**22  # memory_budget of the calls that take one (4 MiB)
GAMMA_MSG = (
    r"^gamma must be a real number strictly between 0 and 1 \(the discount factor of eq\. 4\); "
    r"got 1\.5\. Pass e\.g\. gamma=0\.9\.$"
)


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable  # call(fx), fx: the fixtures of :func:`fx`
    error: type
    match: str


def f_sys() -> str:
    """The fingerprint of the fixture's system, computed independently of the package."""
    return _fingerprint(random_system(2, 3, 2, 2))


def f_other() -> str:
    return _fingerprint(random_system(2, 3, 2, 2, seed=1))


def _fingerprint(system) -> str:
    import hashlib

    h = hashlib.sha256(b"smfq.CooperativeSystem/1")
    for name in ("P_g", "P_l", "r_g", "r_l", "gamma"):
        arr = np.ascontiguousarray(np.atleast_1d(getattr(system, name)), dtype="<f8")
        h.update(f"{name}{arr.shape}".encode() + arr.tobytes())
    return h.hexdigest()[:16]


def _g(nbytes: int) -> str:
    """A size in GiB as the messages print it (three digits), independently computed."""
    return re.escape(f"{nbytes / 2**30:.3g}")


def _e(x: int) -> str:
    """A count as the messages print it past 10^15 (three digits), independently computed."""
    return re.escape(f"{x:.2e}")


# -- fixtures ---------------------------------------------------------------------------------
def _system(r_g=None, r_l=None, gamma=0.9, **kw):
    base = tiny_system(1, 2, 1, 2, seed=0)
    return CooperativeSystem(
        base.P_g,
        base.P_l,
        base.r_g if r_g is None else r_g,
        base.r_l if r_l is None else r_l,
        gamma,
        **kw,
    )


def _good_q() -> SubsampledQ:
    """A consistent SubsampledQ for S_g = 2, S_l = 3, A_g = A_l = 2, k = 2 (mean field), made by
    hand (no learning): Cs = C(1 + 2, 2) = 3, Cz = C(1 + 5, 5) = 6."""
    return SubsampledQ(
        k=2,
        m=None,
        algorithm="mean_field",
        reason="test",
        Q=np.zeros((2, 3, 6, 2, 2)),
        V=np.zeros((2, 3, 3)),
        pi_g=np.zeros((2, 3, 3), np.int64),
        pi_l=np.zeros((2, 3, 3), np.int64),
        residuals=np.zeros(4),
        seconds=0.5,
        seed=0,
        system_fingerprint="0123456789abcdef",
    )


def _write(path: Path, meta=None, drop=(), **arrays) -> str:
    """An npz like SubsampledQ.save writes, with metadata fields and arrays replaced."""
    q = _good_q()
    content = {n: getattr(q, n) for n in ("Q", "V", "pi_g", "pi_l", "residuals")}
    base = {"format": "smfq.SubsampledQ/1", "k": 2, "m": None, "algorithm": "mean_field"}
    base |= {"reason": "test", "seconds": 0.5, "seed": 0} | (meta or {})
    content["meta"] = np.array(json.dumps({k: v for k, v in base.items() if v != "DROP"}))
    content |= arrays
    for name in drop:
        del content[name]
    np.savez(path, **content)
    return str(path)


def _damaged_files(tmp: Path) -> dict[str, str]:
    """One file per kind of damage (names are the keys used by the cases)."""
    good = tmp / "good.npz"
    _good_q().save(good)
    raw = good.read_bytes()
    with np.load(good) as f:
        arrays = {n: f[n] for n in f.files}
    files = {"npy": str(tmp / "single.npy"), "missing": str(tmp / "nothing_here")}
    for name, data in (
        ("text", b"not a zip file\n"),
        ("empty", b""),
        ("cut", raw[: len(raw) // 2]),
    ):
        files[name] = str(tmp / f"{name}.npz")
        Path(files[name]).write_bytes(data)
    np.save(files["npy"], np.zeros(3))
    for name, changed in (
        ("bad_json", {"meta": np.array("{not json")}),
        ("meta_num", {"meta": np.array(3.0)}),
        ("object", {"Q": np.array([None, 1], dtype=object)}),  # np.savez pickles it
    ):
        files[name] = str(tmp / f"{name}.npz")
        np.savez(files[name], **(arrays | changed))
    files["no_V"] = _write(tmp / "no_V.npz", drop=("V",))
    files["format"] = _write(tmp / "format.npz", meta={"format": "other/1"})
    files["k_str"] = _write(tmp / "k_str.npz", meta={"k": "3"})
    files["seed_neg"] = _write(tmp / "seed_neg.npz", meta={"seed": -1})
    files["no_seed"] = _write(tmp / "no_seed.npz", meta={"seed": "DROP"})
    files["algorithm"] = _write(tmp / "algorithm.npz", meta={"algorithm": "fast"})
    files["k_3"] = _write(tmp / "k_3.npz", meta={"k": 3})  # tables are k = 2's
    files["tabular"] = _write(tmp / "tabular.npz", meta={"algorithm": "tabular"})
    files["pi_code"] = _write(tmp / "pi_code.npz", pi_l=np.full((2, 3, 3), 2))
    files["Q_int"] = _write(tmp / "Q_int.npz", Q=np.zeros((2, 3, 6, 2, 2), np.int64))
    nan_q = np.zeros((2, 3, 6, 2, 2))
    nan_q[0, 0, 0, 0, 0] = np.nan  # at a maximizer: policy_value silently read the others
    files["Q_nan"] = _write(tmp / "Q_nan.npz", Q=nan_q)
    files["Q_f16"] = _write(tmp / "Q_f16.npz", Q=np.zeros((2, 3, 6, 2, 2), np.float16))
    files["V_long"] = _write(tmp / "V_long.npz", V=np.zeros((2, 3, 3), np.longdouble))
    files["deep"] = str(tmp / "deep.npz")
    np.savez(files["deep"], **(arrays | {"meta": np.array("[" * 10**5 + "]" * 10**5)}))
    files["bomb"] = str(tmp / "bomb.npz")  # 80 MB of residuals in a file of about 80 kB
    np.savez_compressed(files["bomb"], **(arrays | {"residuals": np.zeros(10**7)}))
    files["liar"] = str(tmp / "liar.npz")  # Q's header declares 8 TB, its member holds none
    with zipfile.ZipFile(files["liar"], "w") as z:
        for name, a in arrays.items():
            with z.open(f"{name}.npy", "w") as fh:
                if name == "Q":
                    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
                    np.lib.format.write_array_header_1_0(fh, header)
                else:
                    np.lib.format.write_array(fh, a)
    return files


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    """Everything the calls need, built before tracing."""
    sys = random_system(2, 3, 2, 2)
    ones = np.ones((2, 2))
    learn(tiny_system(1, 2, 1, 2), 3, progress=False)  # load the kernels before any tracing
    return SimpleNamespace(
        sys=sys,
        sys4=tiny_system(1, 4, 1, 1, seed=0),
        pol=random_policy(sys, 2, 0),
        pol4=random_policy(tiny_system(1, 4, 1, 1, seed=0), 1, 0),
        iid=iid_initial(sys),
        ce=constrained_exploration(),
        wide=random_system(2, 2, 2, 10),  # few count states, a big count MDP (Z_l = 20)
        z1=random_system(2, 1, 2, 1),  # Z_l = 1: both algorithms' tables are tiny at any k
        base=tiny_system(1, 2, 1, 2, seed=0),
        ones=ones,
        # finite on the 1025-point grid of [0, 1], NaN at xbar = 1/3 (first seen by learn, k = 3)
        third=_system(
            aggregate=Aggregate(np.eye(2), lambda s, a, x: np.where(x == 1 / 3, np.nan, x))
        ),
        files=_damaged_files(tmp_path_factory.mktemp("npz")),
        agg=tiny_system(1, 2, 1, 2, seed=0, aggregate=True),
        run=rollout_counts(sys, random_policy(sys, 2, 0), 3, 0, [3, 0, 0], 2, 2, 0, keep="returns"),
        learned=learn(sys, 2, progress=False),
        linear=learn_linear(sys, 2, M=20, max_iter=5),
        same_sizes=random_system(2, 3, 2, 2, seed=1),  # another system of sys's sizes
        p02=test_reproduce._parameters_cell("02_table_sizes")[1]["PROFILES"],
    )


# -- the table --------------------------------------------------------------------------------
C_BIG = math.comb(2**63 - 2 + 2, 2)  # C(n + S_l - 1, S_l - 1) at n = 2**63 - 2, S_l = 3
C_CE = math.comb(10**4 + 8, 8)  # constrained exploration (S_l = 9) at n = 10**4
INT64 = r"must be at most 2\*\*63 - 1 = 9223372036854775807"
NOT_VALID = r" is not a valid SubsampledQ file: "

OWN = [
    # 1. int64 overflow: exact sizes, refused before any kernel
    Case("policy_value n=2**63-2 initial", lambda f: policy_value(f.sys, f.pol, 2**63 - 2, initial=f.iid, memory_budget=SMALL), ValueError, rf"N = {_e(2 * C_BIG)} count states \(S_g = 2 x C\(n \+ S_l - 1, S_l - 1\) = {_e(C_BIG)}\)"),
    Case("policy_value n=2**63-2 counts", lambda f: policy_value(f.sys, f.pol, 2**63 - 2, 0, [2**63 - 2, 0, 0], memory_budget=SMALL), ValueError, rf"N = {_e(2 * C_BIG)} count states"),
    Case("optimal_value size message n=10**4", lambda f: optimal_value(f.ce, 10**4, 0, [10**4] + [0] * 8, memory_budget=SMALL), ValueError, rf"4 x {_e(C_CE)} count states"),
    Case("policy_value n=2**63", lambda f: policy_value(f.sys, f.pol, 2**63, 0, [2**63, 0, 0]), ValueError, rf"^n {INT64} \(the kernels count in int64\); got 9\.22e\+18"),
    Case("policy_value n=2**70", lambda f: policy_value(f.sys, f.pol, 2**70, 0, [2**70, 0, 0]), ValueError, rf"^n {INT64}"),
    Case("rollout_counts n=2**70", lambda f: rollout_counts(f.sys, f.pol, 2**70, None, None, 2, 2, 0, initial=f.iid), ValueError, rf"^n {INT64}"),
    Case("rollout_agents n=2**70", lambda f: rollout_agents(f.sys, f.pol, 2**70, 0, [2**70, 0, 0], 2, 2, 0), ValueError, rf"^n {INT64}"),
    Case("table_sizes n=2**63", lambda f: table_sizes(2, 3, 2, 2, 2**63, 1), ValueError, rf"^n {INT64}"),
    Case("rule_choice k=2**64", lambda f: rule_choice(45, 2**64), ValueError, rf"^k {INT64}"),
    # 3. the count MDP behind V* obeys memory_budget
    Case("optimal_value 6 MB budget", lambda f: optimal_value(f.wide, 5, 0, [5, 0], memory_budget=6e6), ValueError, r"^V\* \(policy iteration on the count MDP\) for n = 5 agents .* = 2 x 2 x 42504 = 170016 entries .* over the memory budget of 0\.00559 GiB\. Use fewer agents, or pass memory_budget= \(bytes\) to optimal_value, optimal_value_table or gap"),
    Case("optimal_value_table 6 MB budget", lambda f: optimal_value_table(f.wide, 5, memory_budget=6e6), ValueError, r"^V\* .* memory budget of 0\.00559 GiB"),
    Case("gap 6 MB budget", lambda f: gap(f.wide, random_policy(f.wide, 2, 0), 5, 0, [5, 0], memory_budget=6e6), ValueError, r"^V\* .* memory budget of 0\.00559 GiB"),
    Case("policy_value budget 1000 bytes", lambda f: policy_value(f.sys, f.pol, 10, 0, [10, 0, 0], memory_budget=1000), ValueError, r"N = 132 count states .* pass memory_budget= \(bytes\) to raise the budget"),
    Case("optimal_value progress='yes'", lambda f: optimal_value(f.sys, 3, 0, [3, 0, 0], progress="yes"), ValueError, r"^progress must be True, False or None"),
    # sizes at the edges: the layout's axes, the drawing threads' agents
    Case("learn Z_l=1 k=40 tabular", lambda f: learn(f.z1, 40, algorithm="tabular", progress=False, memory_budget=SMALL), ValueError, r"^k = 40 is too large for Algorithm 1 \(requested by the caller \(algorithm='tabular'\)\): its Q has 2k \+ 2 axes \(S_g, S_l\^k, A_g, A_l\^k\) and NumPy arrays hold at most 64, so k <= 31\. Pass algorithm='mean_field' \(Algorithm 2, the same fixed point\) or 'auto'\.$"),
    Case("learn Z_l=1 k=40 paper", lambda f: learn(f.z1, 40, algorithm="paper", progress=False, memory_budget=SMALL), ValueError, r"^k = 40 is too large for Algorithm 1 \(paper \(paper's rule\)"),
    Case("learn Z_l=1 k=10**18", lambda f: learn(f.z1, 10**18, progress=False, memory_budget=SMALL), ValueError, r"^learn\(k=1000000000000000000, m=None, mean_field, .* over the memory budget of 0\.00391 GiB\. The largest k that would fit with algorithm='auto' is \d+\. \(auto: k = 1000000000000000000 > 31, Algorithm 1's Q would have 2k \+ 2 axes, more than NumPy's 64 -> Algorithm 2 \(mean-field\)\.\)"),
    Case("learn Z_l=1 k=10**12 m=1 mean_field", lambda f: learn(f.z1, 10**12, 1, algorithm="mean_field", progress=False, memory_budget=SMALL), ValueError, r"^learn\(k=1000000000000, m=1, mean_field, .*the stored samples needs .* GiB, over the memory budget of 0\.00391 GiB"),
    # 4. values that would overflow, aggregate terms that are not finite
    Case("system rewards 1e308", lambda f: _system(r_g=np.full((1, 1), 1e308), r_l=np.full((2, 1, 2), 1e308)), ValueError, r"^rewards too large for gamma = 0\.9: .* = inf exceeds 1e\+300"),
    Case("system rewards 2e299 gamma 0.9", lambda f: _system(r_g=np.full((1, 1), 2e299)), ValueError, r"^rewards too large .* = \(2e\+299 \+ 0\) / 0\.1 = 2e\+300 exceeds 1e\+300"),
    Case("system noise width 1e308", lambda f: _system(reward_noise=RewardNoise(w_g=1e308, w_l=1e308)), ValueError, r"^rewards too large .* noise widths included"),
    Case("system rho -inf on its grid", lambda f: _system(aggregate=Aggregate(f.ones, lambda s, a, x: np.where(x < 1, x, -np.inf))), ValueError, r"^aggregate\.rho returned -inf at s_g=0, a_g=0, xbar=1\.0; rho must be finite"),
    Case("system rho NaN on its grid", lambda f: _system(aggregate=Aggregate(np.eye(2), lambda s, a, x: np.where(x < 0.5, np.nan, x))), ValueError, r"^aggregate\.rho returned nan at s_g=0, a_g=0, xbar=0\.0; rho must be finite .* \[0\.0, 1\.0\]"),
    Case("rho NaN off the grid, first seen by learn", lambda f: learn(f.third, 3, progress=False, memory_budget=SMALL), ValueError, r"^aggregate\.rho returned nan at s_g=0, a_g=0, xbar=0\.333"),
    # coercion: what is not a real finite number is refused, never converted with a loss
    Case("system r_l object array of strings", lambda f: _system(r_l=np.array([[["1", "2"]], [["3", "4"]]], dtype=object)), ValueError, r"^r_l must hold real numbers; got str values \(dtype object\)\. Pass real numbers"),
    Case("system r_g masked array", lambda f: _system(r_g=np.ma.masked_array(np.zeros((1, 1)), mask=[[True]])), ValueError, r"^r_g must be a plain array of real numbers; got a masked array, whose mask would be lost\. Pass np\.ma\.filled"),
    Case("system r_g of bools", lambda f: _system(r_g=np.ones((1, 1), bool)), ValueError, r"^r_g must hold real numbers; got bool values"),
    Case("noise width as a string", lambda f: _system(reward_noise=RewardNoise(w_g=np.array(["0.1"], dtype=object))), ValueError, r"^reward_noise\.w_g must hold real numbers; got str values"),
    Case("affine_features complex W", lambda f: affine_features(np.eye(4) + 0j), ValueError, r"^W must hold real numbers; got complex values \(dtype complex128\)"),
    Case("mean_features object strings", lambda f: mean_features(np.array(["1", "2"], dtype=object)), ValueError, r"^v must hold real numbers; got str values"),
    Case("custom features returning complex", lambda f: learn_linear(f.sys, 2, custom_features(lambda F: np.c_[np.ones(len(F)), F] + 0j, 7, 6), M=None, memory_budget=SMALL), ValueError, r"^features 'custom': fn\(F\) must hold real numbers; got complex values"),
    Case("iid_initial p_l of strings", lambda f: iid_initial(f.sys, p_l=np.array(["0.5", "0.5", "0"], dtype=object)), ValueError, r"^p_l must hold real numbers; got str values"),
    Case("learn_linear ridge=True", lambda f: learn_linear(f.sys, 2, ridge=True), ValueError, r"^ridge must be a finite float >= 0 \(0: least squares\); got True\.$"),
    Case("rollout_linear rule=['first']", lambda f: rollout_linear(f.sys, f.linear, 3, 0, [3, 0, 0], 2, 2, 0, rule=["first"]), ValueError, r"^rule=\['first'\] with features '\[1, F\]': rollout_linear reads the policy in closed form"),
    # 5. SubsampledQ.load: one message per kind of damage
    Case("load: text file", lambda f: SubsampledQ.load(f.files["text"]), ValueError, NOT_VALID + r"not an npz archive"),
    Case("load: empty file", lambda f: SubsampledQ.load(f.files["empty"]), ValueError, NOT_VALID + r"not an npz archive"),
    Case("load: truncated zip", lambda f: SubsampledQ.load(f.files["cut"]), ValueError, NOT_VALID + r"not an npz archive"),
    Case("load: a .npy file", lambda f: SubsampledQ.load(f.files["npy"]), ValueError, NOT_VALID + r"it holds a single \.npy array"),
    Case("load: missing array", lambda f: SubsampledQ.load(f.files["no_V"]), ValueError, NOT_VALID + r"array 'V' is missing"),
    Case("load: pickled array", lambda f: SubsampledQ.load(f.files["object"]), ValueError, NOT_VALID + r"array 'Q' is unreadable"),
    Case("load: meta not JSON", lambda f: SubsampledQ.load(f.files["bad_json"]), ValueError, NOT_VALID + r"'meta' is not valid JSON"),
    Case("load: meta not a string", lambda f: SubsampledQ.load(f.files["meta_num"]), ValueError, NOT_VALID + r"'meta' must be one JSON string"),
    Case("load: format tag", lambda f: SubsampledQ.load(f.files["format"]), ValueError, NOT_VALID + r"format tag 'other/1'"),
    Case("load: k='3'", lambda f: SubsampledQ.load(f.files["k_str"]), ValueError, NOT_VALID + r"metadata k = '3', expected an int >= 1"),
    Case("load: seed=-1", lambda f: SubsampledQ.load(f.files["seed_neg"]), ValueError, NOT_VALID + r"metadata seed = -1"),
    Case("load: field missing", lambda f: SubsampledQ.load(f.files["no_seed"]), ValueError, NOT_VALID + r"metadata fields missing \['seed'\]"),
    Case("load: algorithm", lambda f: SubsampledQ.load(f.files["algorithm"]), ValueError, NOT_VALID + r"metadata algorithm = 'fast'"),
    Case("load: k disagrees with V", lambda f: SubsampledQ.load(f.files["k_3"]), ValueError, NOT_VALID + r"V, pi_g, pi_l must have shape \(S_g, S_l, C\(k-1, S_l\)\) = \(2, 3, 6\) for k = 3"),
    Case("load: Q disagrees with algorithm", lambda f: SubsampledQ.load(f.files["tabular"]), ValueError, NOT_VALID + r"Q of shape \(2, 3, 6, 2, 2\) does not match tabular with k = 2"),
    Case("load: action code out of range", lambda f: SubsampledQ.load(f.files["pi_code"]), ValueError, NOT_VALID + r"pi_l holds action codes outside \[0, 2\)"),
    Case("load: Q of integers", lambda f: SubsampledQ.load(f.files["Q_int"]), ValueError, NOT_VALID + r"Q has dtype int64, expected float"),
    Case("load: NaN in Q", lambda f: SubsampledQ.load(f.files["Q_nan"]), ValueError, NOT_VALID + r"Q holds 1 NaN or infinite values"),
    Case("load: float16 Q", lambda f: SubsampledQ.load(f.files["Q_f16"]), ValueError, NOT_VALID + r"Q has dtype float16, expected float64"),
    Case("load: longdouble V", lambda f: SubsampledQ.load(f.files["V_long"]), ValueError, NOT_VALID + r"V has dtype float128, expected float64"),
    Case("load: meta nested 10**5 deep", lambda f: SubsampledQ.load(f.files["deep"]), ValueError, NOT_VALID + r"'meta' is nested too deeply"),
    Case("load: 80 MB unpacked, 4 MiB budget", lambda f: SubsampledQ.load(f.files["bomb"], memory_budget=SMALL), ValueError, r"^\S*bomb\.npz unpacked needs 0\.0745 GiB, over the memory budget of 0\.00391 GiB\. Pass memory_budget="),
    Case("load: header declares 8 TB", lambda f: SubsampledQ.load(f.files["liar"]), ValueError, NOT_VALID + r"array 'Q' declares shape \(1000000000000,\) of float64 \(8000000000000 bytes\) but its member holds \d+ bytes"),
    Case("load: no such file", lambda f: SubsampledQ.load(f.files["missing"]), FileNotFoundError, r"neither .*nothing_here nor .*nothing_here\.npz exists"),
    # a policy used on a system other than the one it was learned on
    Case("policy_value on another system", lambda f: policy_value(f.same_sizes, f.learned, 3, 0, [3, 0, 0], memory_budget=SMALL), ValueError, rf"^this policy was learned on another system \(fingerprint {f_sys()}; this system's is {f_other()}\): its Q describes other dynamics or rewards\. Use it on the system it was learned on, or, to transfer it on purpose, pass smfq_lib\.learning\.policy\.transfer\(policy, system\)\.$"),
    Case("gap on another system", lambda f: gap(f.same_sizes, f.learned, 3, 0, [3, 0, 0], memory_budget=SMALL), ValueError, r"^this policy was learned on another system"),
    Case("worst_case_gap on another system", lambda f: worst_case_gap(f.same_sizes, 3, f.learned, memory_budget=SMALL), ValueError, r"^this policy was learned on another system"),
    Case("rollout_counts on another system", lambda f: rollout_counts(f.same_sizes, f.learned, 3, 0, [3, 0, 0], 2, 2, 0), ValueError, r"^this policy was learned on another system"),
    Case("rollout_agents on another system", lambda f: rollout_agents(f.same_sizes, f.learned, 3, 0, [3, 0, 0], 2, 2, 0), ValueError, r"^this policy was learned on another system"),
    Case("rollout_linear on another system", lambda f: rollout_linear(f.same_sizes, f.linear, 3, 0, [3, 0, 0], 2, 2, 0), ValueError, r"^this policy was learned on another system"),
    # 6. a papermill parameter the notebook does not have
    Case("papermill -p profil full", lambda f: check_injected({"n"}, ["profile = 'quick'\nn = None\nseed = 0", "# Parameters\nprofil = 'full'\n"]), ValueError, r"^papermill was given parameter\(s\) \['profil'\] that this notebook does not have; its parameters are \['n', 'profile', 'seed'\]"),
    Case("papermill -p n_max True (chapter 02)", lambda f: settings("quick", f.p02, chapter="02_table_sizes", **(dict.fromkeys(f.p02["quick"]) | {"n_max": True})), ValueError, r"^parameter n_max of chapter 02_table_sizes must be an int >= 1; got True \(bool\)\. Fix it in the parameters cell, or pass e\.g\. papermill -p n_max <value> with such a value\.$"),
    Case("papermill -p k_max -3 (chapter 02)", lambda f: settings("quick", f.p02, chapter="02_table_sizes", **(dict.fromkeys(f.p02["quick"]) | {"k_max": -3})), ValueError, r"^parameter k_max of chapter 02_table_sizes must be an int >= 1; got -3 \(int\)"),
    # 7. smaller ones
    Case("policy_value string counts", lambda f: policy_value(f.sys, f.pol, 3, 0, ["1", "1", "1"], memory_budget=SMALL), ValueError, r"^counts must hold whole numbers of agents; got \['1', '1', '1'\]"),
    Case("rollout_counts string counts", lambda f: rollout_counts(f.sys, f.pol, 3, 0, ["1", "1", "1"], 2, 2, 0), ValueError, r"^counts must hold whole numbers"),
    Case("policy_value counts wrap in int64", lambda f: policy_value(f.sys4, f.pol4, 3, 0, [2**62] * 3 + [2**62 + 3], memory_budget=SMALL), ValueError, r"^counts must be non-negative and sum to n = 3; .* \(sum 1\.84e\+19\)"),
    Case("action_distributions counts over int64", lambda f: action_distributions(*test_policy._tables(1, 2, 2, 2, 1, 0), 1, 0, [2**62, 2**62]), ValueError, rf"^the number of agents sum\(counts\) {INT64}"),
    Case("gap_bound_log_argument k=0", lambda f: gap_bound_log_argument(1.0, 0.9, 0, 2, 2, 2), ValueError, r"^k must be an integer >= 1; got 0"),
    Case("gap_bound r_tilde=0 huge sizes", lambda f: gap_bound(0.0, 0.9, *(2**63 - 1,) * 5), ValueError, r"^r_tilde=0\.0 puts the log argument .* below 1"),
    Case("optimal_value memory_budget='x'", lambda f: optimal_value(f.sys, 3, 0, [3, 0, 0], memory_budget="x"), ValueError, r"^memory_budget must be None \(half the available memory\) or a positive finite number of bytes; got 'x'"),
    Case("policy_value memory_budget=inf", lambda f: policy_value(f.sys, f.pol, 3, 0, [3, 0, 0], memory_budget=math.inf), ValueError, r"^memory_budget must be None"),
    Case("gamma: system", lambda f: _system(gamma=1.5), ValueError, GAMMA_MSG),
    Case("gamma: examples", lambda f: random_system(2, 2, 2, 2, gamma=1.5), ValueError, GAMMA_MSG),
    Case("gamma: theory", lambda f: m_star(2, 2, 2, 2, 3, 1.5), ValueError, GAMMA_MSG),
    # 8. the executors: every run is sized before it allocates; seeds, keep
    Case("rollout_counts 10**9 rollouts x 1000 steps", lambda f: rollout_counts(f.sys, f.pol, 10, 0, [4, 3, 3], 1000, 10**9, 0), ValueError, rf"^rollout_counts with R = 1000000000 rollouts x horizon = 1000 steps \(keep='steps'; rewards, s_g, a_g: 3 x R x horizon x 8 bytes = {_g(3 * 10**12 * 8)} GiB; returns: R x 8 bytes = {_g(8 * 10**9)} GiB; discount factors: .*\) needs {_g(3 * 10**12 * 8 + 8 * 10**9 + 8000)} GiB, over the memory budget of .* GiB\. Pass keep='returns' to keep only the returns \(8 bytes per rollout\)"),
    Case("rollout_agents 10**9 rollouts x 1000 steps", lambda f: rollout_agents(f.sys, f.pol, 10, 0, [4, 3, 3], 1000, 10**9, 0, memory_budget=SMALL), ValueError, rf"^rollout_agents with R = 1000000000 rollouts .* needs {_g(3 * 10**12 * 8 + 8 * 10**9 + 8000 + 2 * THREADS * 10 * 8)} GiB, over the memory budget of 0\.00391 GiB\. Pass keep='returns'"),
    Case("rollout_counts keep='returns' 10**9 rollouts", lambda f: rollout_counts(f.sys, f.pol, 10, 0, [4, 3, 3], 1000, 10**9, 0, keep="returns", memory_budget=SMALL), ValueError, rf"^rollout_counts .*\(keep='returns'; returns: R x 8 bytes = {_g(8 * 10**9)} GiB; discount factors: horizon x 8 bytes = {_g(8000)} GiB\) needs .* Run fewer rollouts per call \(calls with different seeds are independent\)"),
    Case("rollout_counts record_counts 10**6 x 1000", lambda f: rollout_counts(f.sys, f.pol, 10, 0, [4, 3, 3], 1000, 10**6, 0, record_counts=True, memory_budget=SMALL), ValueError, rf"counts: R x horizon x S_l x 8 bytes = {_g(3 * 10**9 * 8)} GiB.* Pass record_counts=False and keep='returns' to keep only the returns"),
    Case("rollout_counts 10**8 drawn starts", lambda f: rollout_counts(f.sys, f.pol, 10, None, None, 10, 10**8, 0, initial=f.iid, keep="returns", memory_budget=SMALL), ValueError, rf"start states: R x \(S_l \+ 4\) x 8 bytes = {_g(10**8 * 7 * 8)} GiB\) needs .* Run fewer rollouts per call"),
    Case("rollout_agents n=10**10 agent vectors", lambda f: rollout_agents(f.sys, f.pol, 10**10, 0, [10**10, 0, 0], 10, 1, 0, memory_budget=SMALL), ValueError, rf"agent vectors: 2 x 1 threads x n = 10000000000 x 8 bytes = {_g(2 * 10**10 * 8)} GiB\) needs .* use fewer agents, or rollout_counts \(the same process at a cost independent of n\)"),
    Case("rollout_counts aggregate horizon 10**10", lambda f: rollout_counts(f.agg, random_policy(f.agg, 2, 0), 5, 0, [2, 3], 10**10, 1, 0, keep="returns", memory_budget=SMALL), ValueError, r"aggregate-term blocks: 7 x 1 threads x 1 rollouts x horizon x 8 bytes = .* Use a shorter horizon"),
    Case("rollout_counts seed=2**63", lambda f: rollout_counts(f.sys, f.pol, 3, 0, [3, 0, 0], 2, 2, 2**63), ValueError, r"^seed must be an int in \[0, 2\*\*63\); got 9\.22e\+18\. Seeds are keys of the random streams"),
    Case("rollout_agents seed=2**64+5", lambda f: rollout_agents(f.sys, f.pol, 3, 0, [3, 0, 0], 2, 2, 2**64 + 5), ValueError, r"^seed must be an int in \[0, 2\*\*63\); got 1\.84e\+19"),
    Case("rollout_counts seed=-1", lambda f: rollout_counts(f.sys, f.pol, 3, 0, [3, 0, 0], 2, 2, -1), ValueError, r"^seed must be an int in \[0, 2\*\*63\); got -1\."),
    Case("rollout_counts seed=True", lambda f: rollout_counts(f.sys, f.pol, 3, 0, [3, 0, 0], 2, 2, True), ValueError, r"^seed must be an int in \[0, 2\*\*63\); got True\."),
    Case("rollout_agents seed=1.5", lambda f: rollout_agents(f.sys, f.pol, 3, 0, [3, 0, 0], 2, 2, 1.5), ValueError, r"^seed must be an int in \[0, 2\*\*63\); got 1\.5\."),
    Case("rollout_counts keep='return'", lambda f: rollout_counts(f.sys, f.pol, 3, 0, [3, 0, 0], 2, 2, 0, keep="return"), ValueError, r"^keep must be 'steps' \(per-step arrays and returns\) or 'returns' \(returns only\); got 'return'\."),
    Case("rollout_agents keep='returns' record_counts", lambda f: rollout_agents(f.sys, f.pol, 3, 0, [3, 0, 0], 2, 2, 0, keep="returns", record_counts=True), ValueError, r"^record_counts=True keeps per-step counts, but keep='returns' keeps no per-step array: pass keep='steps' or record_counts=False\."),
    Case("rollout_counts horizon=2**63", lambda f: rollout_counts(f.sys, f.pol, 3, 0, [3, 0, 0], 2**63, 2, 0), ValueError, rf"^horizon {INT64}"),
    Case("rollout_counts memory_budget=-1", lambda f: rollout_counts(f.sys, f.pol, 3, 0, [3, 0, 0], 2, 2, 0, memory_budget=-1), ValueError, r"^memory_budget must be None"),
    Case("Rollouts.mean_rewards keep='returns'", lambda f: f.run.mean_rewards(), ValueError, r"^mean_rewards needs the per-step rewards, which this run did not keep \(keep='returns'\); run the executor with keep='steps' \(the default\)\."),
    Case("Rollouts.ci level=95", lambda f: f.run.ci(95), ValueError, r"^level must be a number strictly between 0 and 1; got 95\."),
]  # fmt: skip


def _imported() -> list[Case]:
    """Cheap bad-input cases of other test modules, read from their parametrize tables."""

    def table(test):
        (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
        return mark.args[1]

    out = []
    for i, (factory, kwargs, match) in enumerate(
        table(test_examples.test_example_arguments_validated)
    ):
        call = lambda f, fa=factory, kw=kwargs: fa(**kw)  # noqa: E731
        out.append(Case(f"examples[{i}] {factory.__name__} {kwargs}", call, ValueError, match))
    for i, (systems, match) in enumerate(table(test_examples.test_with_types_rejects)):
        from smfq_lib.model.examples import with_types

        out.append(Case(f"with_types[{i}]", lambda f, s=systems: with_types(s), ValueError, match))
    for i, (kwargs, match) in enumerate(table(test_policy.test_validation)):
        args = dict(zip(("pi_g", "pi_l"), test_policy._tables(2, 2, 2, 2, 3, 0), strict=True))
        args |= dict(k=3, s_g=0, counts=[3, 3]) | kwargs
        call = lambda f, a=args: action_distributions(**a)  # noqa: E731
        out.append(Case(f"action_distributions[{i}] {kwargs}", call, ValueError, match))
    for i, (kwargs, name) in enumerate(table(test_theory.test_gap_bound_validation)):
        args = dict(r_tilde=1.0, gamma=0.9, n=10, k=3, S_l=2, A_l=2, A_g=2) | kwargs
        call = lambda f, a=args: gap_bound(**a)  # noqa: E731
        out.append(Case(f"gap_bound[{i}] {kwargs}", call, ValueError, name))
    for i, (kwargs, name) in enumerate(
        table(test_learn_api.test_bad_arguments_raise_value_error_naming_them)
    ):
        kw = {"memory_budget": SMALL, "progress": False} | kwargs
        call = lambda f, kw=kw: learn(f.base, **kw)  # noqa: E731
        out.append(Case(f"learn[{i}] {kwargs}", call, ValueError, rf"^{name} must"))
    for i, (kwargs, name) in enumerate(test_linear.REFUSALS):
        a = dict(system=test_linear.SYSTEM, k=2) | kwargs
        call = lambda f, a=a: learn_linear(**a)  # noqa: E731
        out.append(Case(f"learn_linear[{i}] {name}", call, ValueError, re.escape(name)))
    return out


CASES = OWN + _imported()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refusal(case, fx):
    tracemalloc.start()
    try:
        with pytest.raises(case.error, match=case.match):
            case.call(fx)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_MAX, f"{case.id}: {peak / 2**20:.1f} MiB traced before the refusal"


def test_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)


def test_load_finds_the_file_save_wrote(tmp_path):
    q = _good_q()
    q.save(tmp_path / "x")  # np.savez appends .npz
    assert (tmp_path / "x.npz").is_file() and not (tmp_path / "x").exists()
    for path in (tmp_path / "x", str(tmp_path / "x"), tmp_path / "x.npz"):
        back = SubsampledQ.load(path)
        assert (back.k, back.m, back.algorithm, back.seed) == (2, None, "mean_field", 0)
        np.testing.assert_array_equal(back.Q, q.Q)


if __name__ == "__main__":  # print the catalogue: id, error type, final message
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        fixtures = fx.__wrapped__(SimpleNamespace(mktemp=lambda name: Path(tmp)))
        for case in CASES:
            try:
                case.call(fixtures)
                message = "NOT REFUSED"
            except Exception as exc:  # noqa: BLE001 - printing whatever was raised
                message = f"{type(exc).__name__}: {exc}"
            print(f"- {case.id}\n    {message}", file=sys.stdout)
