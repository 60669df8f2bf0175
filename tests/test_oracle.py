"""Learning from a black-box generative oracle (``smfq_lib.GenerativeOracle``, docs/design.md §3,
"Learning from a generative oracle").

* Two paths: a system and its oracle (``GenerativeOracle.from_system``, inverse CDF in NumPy in
  uniforms mode) give the same ``Q``, ``V``, greedy tables bit for bit, both algorithms, also
  with reward noise and with blocks of a few rows.
* An independent sampler written here (NumPy Generator, its own inverse CDF): ``Q_{k,m}``
  converges to ``Q_k*`` like ``1/sqrt(m)``, within a factor 2 of the built-in sampler's error.
* Oracle calls: recorded = ``theory.oracle_calls`` = what a counting sampler received.
* Refusals, callable rewards, fingerprints and the results' use, determinism over threads.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from brute_force import tiny_system
from threads import outputs_by_thread_count, register

import smfq_lib
import smfq_lib.learning as L
from smfq_lib import CooperativeSystem, GenerativeOracle, RewardNoise, SubsampledQ, learn
from smfq_lib.evaluate import policy_value
from smfq_lib.learning import oracle_samples
from smfq_lib.learning.policy import transfer
from smfq_lib.model.examples import random_system
from smfq_lib.theory import oracle_calls


def _same(a: SubsampledQ, b: SubsampledQ) -> bool:
    return all(
        np.array_equal(getattr(a, name), getattr(b, name)) for name in ("Q", "V", "pi_g", "pi_l")
    )


def numpy_sampler(P):
    """An inverse CDF written here (not the package's): ``next = #{s < S - 1: u >= cdf[s]}``,
    ``u = rng.random(n)``; the queries index the leading axes of ``P``."""

    def sample(*args):
        *query, rng = args
        cdf = np.cumsum(P[tuple(query)], axis=1)
        u = rng.random(query[0].shape[0])
        return (u[:, None] >= cdf[:, :-1]).sum(axis=1)

    return sample


def numpy_oracle(system: CooperativeSystem, **kw) -> GenerativeOracle:
    return GenerativeOracle(
        S_g=system.S_g,
        S_l=system.S_l,
        A_g=system.A_g,
        A_l=system.A_l,
        gamma=system.gamma,
        r_g=system.r_g,
        r_l=system.r_l,
        sample_global=numpy_sampler(system.P_g),
        sample_local=numpy_sampler(system.P_l),
        **kw,
    )


# -- two paths ------------------------------------------------------------------------------------
CASES = [
    ((2, 3, 2, 2), "tabular", 2, 5, 0),
    ((2, 3, 2, 2), "tabular", 3, 2, 7),
    ((2, 3, 2, 2), "mean_field", 1, 3, 1),
    ((2, 3, 2, 2), "mean_field", 3, 6, 2),
    ((3, 3, 2, 3), "mean_field", 4, 4, 5),
    ((2, 2, 3, 2), "tabular", 1, 9, 3),
    ((1, 2, 1, 2), "mean_field", 5, 3, 11),
]


@pytest.mark.parametrize(("sizes", "algorithm", "k", "m", "seed"), CASES)
def test_a_system_and_its_oracle_learn_the_same_q_bit_for_bit(sizes, algorithm, k, m, seed):
    system = random_system(*sizes, seed=seed + 1)
    oracle = GenerativeOracle.from_system(system)
    a = learn(system, k, m, algorithm=algorithm, seed=seed, progress=False)
    b = learn(oracle, k, m, algorithm=algorithm, seed=seed, progress=False)
    assert b.algorithm == algorithm and _same(a, b)
    assert a.oracle_calls == b.oracle_calls
    assert b.system_fingerprint == system.fingerprint == oracle.fingerprint
    other = learn(oracle, k, m, algorithm=algorithm, seed=seed + 1, progress=False)
    assert not np.array_equal(other.Q, b.Q)  # the seed matters: the test can fail


@pytest.mark.parametrize("algorithm", ["tabular", "mean_field"])
def test_two_paths_agree_with_reward_noise_and_with_small_blocks(algorithm, monkeypatch):
    """Reward noise (Theorem 0.13) is drawn by the learner for both; blocks of a few rows test
    the entries' offsets of the uniforms (one block per row at most here)."""
    base = random_system(2, 3, 2, 2, seed=9)
    noise = RewardNoise(w_g=0.3, w_l=np.linspace(0.1, 0.5, base.r_l.size).reshape(base.r_l.shape))
    system = CooperativeSystem(base.P_g, base.P_l, base.r_g, base.r_l, 0.9, reward_noise=noise)
    oracle = GenerativeOracle.from_system(system)
    a = learn(system, 3, 4, algorithm=algorithm, seed=5, progress=False)
    monkeypatch.setattr(oracle_samples, "ORACLE_DRAWS", 50)
    b = learn(oracle, 3, 4, algorithm=algorithm, seed=5, progress=False)
    assert _same(a, b)
    plain = learn(GenerativeOracle.from_system(base), 3, 4, algorithm=algorithm, seed=5)
    assert not np.array_equal(plain.Q, b.Q)  # the noise entered


# -- an independent sampler: convergence to Q_k* -------------------------------------------------
@pytest.mark.parametrize(
    ("sizes", "algorithm", "k", "lo", "hi"),
    [((2, 3, 2, 2), "mean_field", 2, 4, 256), ((2, 3, 2, 2), "mean_field", 3, 4, 256)]
    + [((2, 2, 2, 2), "tabular", 2, 16, 256)],
)
def test_an_independent_sampler_converges_to_q_star_like_one_over_sqrt_m(
    sizes, algorithm, k, lo, hi
):
    """Mean over 6 seeds of ``||Q_{k,m} - Q_k*||_inf`` at ``m = 4, 16, 64, 256``: decreasing,
    ``err(lo) / err(hi)`` within a factor 2 of ``sqrt(hi / lo)`` (Lemma 0.9's rate), and within a
    factor 2 of the built-in sampler's error at every ``m`` (measured: 0.6-1.4)."""
    system = random_system(*sizes, seed=4)
    oracle = numpy_oracle(system)
    q_star = learn(system, k, None, algorithm=algorithm, progress=False).Q
    ms = (4, 16, 64, 256)

    def err(source, m):
        return np.mean(
            [
                np.abs(
                    learn(source, k, m, algorithm=algorithm, seed=s, progress=False).Q - q_star
                ).max()
                for s in range(6)
            ]
        )

    mine = np.array([err(oracle, m) for m in ms])
    built_in = np.array([err(system, m) for m in ms])
    assert np.all(np.diff(mine) < 0), mine
    rate = mine[ms.index(lo)] / mine[ms.index(hi)]
    assert np.sqrt(hi / lo) / 2 <= rate <= 2 * np.sqrt(hi / lo), (mine, rate)
    assert np.all(mine / built_in <= 2) and np.all(mine / built_in >= 0.5), mine / built_in


# -- oracle calls -------------------------------------------------------------------------------
@pytest.mark.parametrize("uniforms", [True, False])
@pytest.mark.parametrize(("algorithm", "k", "m"), [("tabular", 2, 3), ("mean_field", 4, 5)])
def test_recorded_calls_equal_theory_and_what_the_sampler_received(algorithm, k, m, uniforms):
    system = random_system(2, 3, 2, 2, seed=2)
    inner = GenerativeOracle.from_system(system) if uniforms else numpy_oracle(system)
    got = {"global": [], "local": []}

    def sample_global(s_g, a_g, rng):
        got["global"].append(len(s_g))
        assert len(a_g) == len(s_g) and (not uniforms or len(rng) == len(s_g))
        return inner.sample_global(s_g, a_g, rng)

    def sample_local(s_i, s_g, a_i, rng):
        got["local"].append(len(s_i))
        assert len(s_g) == len(a_i) == len(s_i) and (not uniforms or len(rng) == len(s_i))
        if uniforms:
            assert rng.dtype == np.float64 and rng.min() >= 0 and rng.max() < 1
        return inner.sample_local(s_i, s_g, a_i, rng)

    counting = GenerativeOracle(
        S_g=2, S_l=3, A_g=2, A_l=2, gamma=system.gamma, r_g=system.r_g, r_l=system.r_l,
        sample_global=sample_global, sample_local=sample_local, uniforms=uniforms,
    )  # fmt: skip
    q = learn(counting, k, m, algorithm=algorithm, progress=False)
    expect = oracle_calls(2, 3, 2, 2, k, m, algorithm)
    assert q.oracle_calls == expect == {key: sum(v) for key, v in got.items()}
    assert len(got["global"]) == len(got["local"])  # one call of each per block
    assert learn(system, k, m, algorithm=algorithm, progress=False).oracle_calls == expect
    assert learn(system, k, None, algorithm=algorithm, progress=False).oracle_calls is None


def test_oracle_calls_survive_save_and_load(tmp_path):
    q = learn(GenerativeOracle.from_system(random_system(2, 2, 2, 2, seed=0)), 2, 3)
    q.save(tmp_path / "q")
    assert SubsampledQ.load(tmp_path / "q").oracle_calls == q.oracle_calls
    exact = learn(random_system(2, 2, 2, 2, seed=0), 2, None)
    exact.save(tmp_path / "e")
    assert SubsampledQ.load(tmp_path / "e").oracle_calls is None


def test_a_damaged_oracle_calls_field_is_refused(tmp_path):
    q = learn(GenerativeOracle.from_system(random_system(2, 2, 2, 2, seed=0)), 2, 3)
    q.oracle_calls = {"global": -1, "local": 2}
    q.save(tmp_path / "q")
    with pytest.raises(ValueError, match="oracle_calls"):
        SubsampledQ.load(tmp_path / "q")


# -- refusals -----------------------------------------------------------------------------------
def _oracle(**over):
    rng = np.random.default_rng(0)
    kw = dict(
        S_g=2, S_l=3, A_g=2, A_l=2, gamma=0.9,
        r_g=rng.random((2, 2)), r_l=rng.random((3, 2, 2)),
        sample_global=lambda s_g, a_g, rng: rng.integers(0, 2, len(s_g)),
        sample_local=lambda s_i, s_g, a_i, rng: rng.integers(0, 3, len(s_i)),
    )  # fmt: skip
    kw.update(over)
    return GenerativeOracle(**kw)


def test_the_exact_operator_needs_a_model():
    with pytest.raises(ValueError, match="m=None.*needs the transition model"):
        learn(_oracle(), 2, None)


@pytest.mark.parametrize(
    ("which", "answer", "match"),
    [
        ("local", lambda n: np.zeros(n - 1, int), r"sample_local returned an array of shape"),
        ("global", lambda n: np.full(n, 2), r"sample_global returned the state 2 .*\[0, 2\)"),
        ("local", lambda n: np.full(n, -1), r"sample_local returned the state -1"),
        ("local", lambda n: np.full(n, 0.5), r"sample_local returned the non-integral value 0.5"),
        ("global", lambda n: np.full(n, np.nan), r"sample_global returned the non-integral"),
        ("global", lambda n: None, r"sample_global returned NoneType"),
        ("local", lambda n: ["a"] * n, r"sample_local returned list of dtype <U1"),
        ("global", lambda n: np.zeros(n, bool), r"sample_global returned ndarray of dtype bool"),
        ("local", lambda n: np.zeros((n, 1), int), r"sample_local returned an array of shape"),
    ],
)
def test_a_sampler_returning_garbage_is_refused(which, answer, match):
    kw = {f"sample_{which}": lambda *args: answer(len(args[0]))}
    with pytest.raises(ValueError, match=match):
        learn(_oracle(**kw), 2, 2, progress=False)


def test_integral_floats_and_lists_are_accepted():
    ok = _oracle(
        sample_global=lambda s_g, a_g, rng: rng.integers(0, 2, len(s_g)).astype(float),
        sample_local=lambda s_i, s_g, a_i, rng: list(rng.integers(0, 3, len(s_i))),
    )
    assert learn(ok, 2, 2, progress=False).Q.shape[0] == 2


def test_the_queries_are_read_only():
    def writes(s_g, a_g, rng):
        s_g[:] = 0
        return s_g

    with pytest.raises(ValueError, match="read-only"):
        learn(_oracle(sample_global=writes), 2, 2, progress=False)


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"r_g": np.zeros((2, 3))}, r"r_g must have shape \(s_g, a_g\) = \(2, 2\)"),
        ({"r_l": np.zeros((2, 2, 2))}, r"r_l must have shape"),
        ({"r_g": lambda s_g, a_g: 1.0}, r"r_g\(s_g, a_g\) on integer arrays .* returned shape"),
        (
            {"r_l": lambda s, g, a: np.where(s == 1, np.inf, 0.0)},
            r"r_l\(s_i, s_g, a_i\)\[1, 0, 0\]",
        ),
        ({"r_g": np.array([[0, 1], [np.inf, 0]])}, r"not finite"),
        ({"r_g": [["a", "b"], ["c", "d"]]}, r"r_g must hold real numbers"),
        ({"gamma": 1.0}, r"gamma must be a real number strictly between 0 and 1"),
        ({"gamma": 0}, r"gamma must be"),
        ({"S_l": 0}, r"S_l must be an integer >= 1"),
        ({"A_g": 2.0}, r"A_g must be an integer"),
        ({"sample_local": np.zeros(3)}, r"sample_local must be a callable"),
        ({"uniforms": 1}, r"uniforms must be True or False"),
        ({"thread_safe": None}, r"thread_safe must be True or False"),
        ({"r_g": np.full((2, 2), 1e300)}, r"rewards too large"),
        ({"reward_noise": RewardNoise(w_g=-1.0)}, r"noise half-widths must be finite and >= 0"),
    ],
)
def test_bad_arguments_are_refused(over, match):
    with pytest.raises(ValueError, match=match):
        _oracle(**over)


def test_callable_rewards_equal_array_rewards():
    system = random_system(2, 3, 2, 2, seed=3)

    def r_g(s_g, a_g):
        return system.r_g[s_g, a_g]

    def r_l(s_i, s_g, a_i):
        return system.r_l[s_i, s_g, a_i]

    table = numpy_oracle(system)
    fn = GenerativeOracle(
        S_g=2, S_l=3, A_g=2, A_l=2, gamma=system.gamma, r_g=r_g, r_l=r_l,
        sample_global=table.sample_global, sample_local=table.sample_local,
    )  # fmt: skip
    np.testing.assert_array_equal(fn.r_g, system.r_g)
    np.testing.assert_array_equal(fn.r_l, system.r_l)
    assert fn.r_tilde == system.r_tilde and fn.Z_l == system.Z_l == 6
    assert _same(learn(fn, 2, 3, seed=4), learn(table, 2, 3, seed=4))


def test_from_system_refuses_an_aggregate_reward():
    with pytest.raises(ValueError, match="aggregate reward term .* cannot carry"):
        GenerativeOracle.from_system(tiny_system(2, 2, 2, 2, seed=0, aggregate=True))
    with pytest.raises(ValueError, match="must be an smfq_lib.CooperativeSystem"):
        GenerativeOracle.from_system(_oracle())


def test_learn_names_both_kinds_of_source():
    with pytest.raises(ValueError, match="CooperativeSystem or an smfq_lib.GenerativeOracle"):
        learn("system", 2, 2)


# -- what a result learned from an oracle can do --------------------------------------------------
def test_a_result_from_an_oracle_keeps_working_where_only_sizes_matter():
    system = random_system(2, 2, 2, 2, seed=6)
    mine = numpy_oracle(system)
    assert mine.fingerprint != system.fingerprint
    assert numpy_oracle(system).fingerprint == mine.fingerprint  # same rewards and samplers
    q = learn(mine, 2, 8, seed=1, progress=False)
    assert q.system_fingerprint == mine.fingerprint
    laws = q.action_laws("coordinated")
    assert laws.prob_g.shape[:3] == q.V.shape
    with pytest.raises(ValueError, match="learned on another system"):
        policy_value(system, q, 3, 0, [2, 1])
    assert np.isfinite(policy_value(system, transfer(q, system), 3, 0, [2, 1]))
    # from_system keeps the system's fingerprint: no transfer needed
    same = learn(GenerativeOracle.from_system(system), 2, 8, seed=1, progress=False)
    assert np.isfinite(policy_value(system, same, 3, 0, [2, 1]))


def test_generator_mode_same_seed_same_q():
    oracle = numpy_oracle(random_system(2, 3, 2, 2, seed=8))
    a, b = (learn(oracle, 3, 4, seed=2, progress=False) for _ in range(2))
    c = learn(oracle, 3, 4, seed=3, progress=False)
    assert _same(a, b) and not np.array_equal(a.Q, c.Q)


def test_public_names():
    assert smfq_lib.GenerativeOracle is smfq_lib.model.GenerativeOracle is GenerativeOracle
    assert "GenerativeOracle" in smfq_lib.__all__ and "GenerativeOracle" in smfq_lib.model.__all__
    assert "Generator samplers" in repr(_oracle())


# -- determinism over threads -----------------------------------------------------------------
_THREADS_SCRIPT = textwrap.dedent(
    """
    import hashlib, importlib
    import numba, numpy as np
    from smfq_lib import GenerativeOracle
    from smfq_lib.model.examples import random_system
    import test_oracle as T
    L = importlib.import_module("smfq_lib.learning.learner")
    O = importlib.import_module("smfq_lib.learning.oracle_samples")
    S = importlib.import_module("smfq_lib.learning.solvers")  # holds SERIAL_WORK
    serial, S.SERIAL_WORK = S.SERIAL_WORK, 0  # the parallel path even on small tables
    draws, O.ORACLE_DRAWS = O.ORACLE_DRAWS, 200  # several blocks
    s = random_system(2, 3, 2, 2, seed=12)
    out = [str(numba.get_num_threads())]
    for oracle in (
        GenerativeOracle.from_system(s), T.numpy_oracle(s), T.numpy_oracle(s, thread_safe=True)
    ):
        for alg, k in (("tabular", 2), ("mean_field", 4)):
            r = L.learn(oracle, k, 5, algorithm=alg, seed=3, progress=False)
            h = hashlib.sha256()
            for a in (r.Q, r.V, r.pi_g, r.pi_l, r.residuals):
                h.update(a.tobytes())
            out.append(h.hexdigest())
    print(" ".join(out))
    S.SERIAL_WORK, O.ORACLE_DRAWS = serial, draws
    """
)
register("oracle", _THREADS_SCRIPT)


def test_same_seed_same_q_on_one_and_two_threads():
    runs = outputs_by_thread_count("oracle")
    assert runs["1"] == runs["2"]


def test_from_systems_inverse_cdf_is_the_kernels_categorical_also_at_the_edges():
    """Rows whose cumulative sum ends below 1 (rounding) or whose tail has no mass, and uniforms
    at 0, at the CDF's steps and just below 1: the NumPy inverse CDF of ``from_system`` draws
    what the kernels' ``categorical`` draws (the last outcome of positive mass past the end)."""
    from smfq_lib._utils.rng import categorical

    rows = np.full((3, 10), 0.1)  # cumsum ends at 0.9999999999999999
    rows[1] = [0.5, 0.5] + [0.0] * 8  # mass on 0, 1 only
    rows[2] = [0.0] * 9 + [1.0]
    P_l = np.broadcast_to(rows, (10, 1, 3, 10))
    system = CooperativeSystem(np.ones((1, 1, 1)), P_l, np.zeros((1, 1)), np.zeros((10, 1, 3)), 0.9)
    cdf = np.cumsum(rows, axis=-1)
    assert cdf[0, -1] < 1.0
    edges = np.concatenate([cdf.ravel(), np.nextafter(cdf.ravel(), 0), [0.0, 1 - 2**-53]])
    u = np.tile(edges, 3)
    a = np.repeat(np.arange(3), edges.size)
    s_i = np.arange(a.size) % 10
    got = GenerativeOracle.from_system(system).sample_local(s_i, np.zeros_like(a), a, u)
    last = np.array([9, 1, 9])
    want = [categorical(cdf[b], last[b], x) for b, x in zip(a, u, strict=True)]
    np.testing.assert_array_equal(got, want)
    past = u >= cdf[a, -1]
    assert past.any() and (got[past] == last[a[past]]).all()  # the fallback ran


def test_the_readme_example_runs_and_says_what_it_prints():
    """README's "Bring your own simulator": its code block, executed as written."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Bring your own simulator", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code.replace("print(", "_ = ("), "README", "exec"), namespace)
    q = namespace["q"]
    assert q.greedy(s_g=0, s_1=1, counts=[2, 1]) == (0, 1)  # the README's comment
    assert q.oracle_calls == oracle_calls(2, 2, 2, 2, 4, 50, q.algorithm)


def test_the_memory_guard_refuses_before_any_oracle_call():
    def never(*args):
        raise AssertionError("called")

    oracle = _oracle(sample_global=never, sample_local=never)
    with pytest.raises(ValueError, match="budget"):
        learn(oracle, 6, 10, memory_budget=1e5)
    system = random_system(2, 3, 2, 2, seed=0)
    extra = L.table_bytes(
        GenerativeOracle.from_system(system), 3, 4, "mean_field", "value_iteration"
    )
    assert extra > L.table_bytes(system, 3, 4, "mean_field", "value_iteration")
