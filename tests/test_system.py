"""CooperativeSystem: every bad input is refused with a ValueError naming the argument; good
inputs give the documented properties (eq. 1-3, Assumption 0.4)."""

import numpy as np
import pytest

from smfq_lib import Aggregate, CooperativeSystem

S_g, A_g, S_l, A_l = 2, 3, 2, 2


def _good():
    """A small valid system as a dict of constructor arguments (fresh arrays every call)."""
    rng = np.random.default_rng(0)
    P_g = rng.dirichlet(np.ones(S_g), size=(S_g, A_g))
    P_l = rng.dirichlet(np.ones(S_l), size=(S_l, S_g, A_l))
    r_g = rng.uniform(-1, 1, size=(S_g, A_g))
    r_l = rng.uniform(-1, 1, size=(S_l, S_g, A_l))
    return dict(P_g=P_g, P_l=P_l, r_g=r_g, r_l=r_l, gamma=0.9)


def _with(**changes):
    kw = _good()
    kw.update(changes)
    return kw


def _build(kw):
    kw = dict(kw)
    return CooperativeSystem(
        kw.pop("P_g"), kw.pop("P_l"), kw.pop("r_g"), kw.pop("r_l"), kw.pop("gamma"), **kw
    )


def test_good_system_builds():
    system = _build(_good())
    assert (system.S_g, system.A_g, system.S_l, system.A_l) == (S_g, A_g, S_l, A_l)


# shapes and dimensions ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["P_g", "P_l", "r_g", "r_l"])
def test_wrong_ndim(name):
    arr = _good()[name]
    with pytest.raises(ValueError, match=rf"^{name} must have {arr.ndim} dimensions"):
        _build(_with(**{name: arr[..., None]}))
    with pytest.raises(ValueError, match=rf"^{name} must have {arr.ndim} dimensions"):
        _build(_with(**{name: arr[0]}))


def _uniform(shape):
    return np.full(shape, 1.0 / shape[-1])


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("P_g", _uniform((S_g, A_g, S_g + 1)), r"^P_g must have shape \(S_g, A_g, S_g\)"),
        ("P_l", _uniform((S_l, S_g + 1, A_l, S_l)), r"^P_l must have shape"),
        ("P_l", _uniform((S_l, S_g, A_l, S_l + 1)), r"^P_l must have shape"),
        ("r_g", np.zeros((S_g, A_g + 1)), r"^r_g must have shape \(S_g, A_g\)"),
        ("r_g", np.zeros((S_g + 1, A_g)), r"^r_g must have shape"),
        ("r_l", np.zeros((S_l, S_g, A_l + 1)), r"^r_l must have shape"),
        ("r_l", np.zeros((S_l + 1, S_g, A_l)), r"^r_l must have shape"),
        ("r_l", np.zeros((S_l, S_g + 1, A_l)), r"^r_l must have shape"),
    ],
)
def test_wrong_shape(name, value, match):
    with pytest.raises(ValueError, match=match):
        _build(_with(**{name: value}))


@pytest.mark.parametrize("name", ["P_g", "P_l", "r_g", "r_l"])
@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.astype(str),  # strings, even ones that parse as numbers
        lambda a: np.full(a.shape, "x"),
        lambda a: a.astype(complex),
        lambda a: np.zeros(a.shape, "datetime64[s]"),
        lambda a: [[1, 2], [3]],  # ragged
        lambda a: None,
        lambda a: np.full(a.shape, object()),
    ],
    ids=["numeric-str", "str", "complex", "datetime", "ragged", "None", "object"],
)
def test_non_numeric(name, make):
    with pytest.raises(ValueError, match=rf"^{name} must "):
        _build(_with(**{name: make(_good()[name])}))


@pytest.mark.parametrize("name", ["P_g", "P_l", "r_g", "r_l"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_not_finite_names_the_index(name, bad):
    arr = _good()[name].copy()
    idx = (1,) + (0,) * (arr.ndim - 1)
    arr[idx] = bad
    with pytest.raises(ValueError, match=rf"^{name}\[{', '.join(map(str, idx))}\] = .* not finite"):
        _build(_with(**{name: arr}))


@pytest.mark.parametrize("name", ["P_g", "P_l"])
def test_negative_probability(name):
    arr = _good()[name].copy()
    idx = (0,) * (arr.ndim - 1)
    arr[idx] = [1.5, -0.5]  # sums to 1 but negative
    with pytest.raises(ValueError, match=rf"^{name}\[.*\] = -0.5 is negative"):
        _build(_with(**{name: arr}))


@pytest.mark.parametrize("name", ["P_g", "P_l"])
@pytest.mark.parametrize("scale", [0.5, 1.0 + 1e-6, 0.0])
def test_rows_not_summing_to_one(name, scale):
    arr = _good()[name].copy()
    idx = (1,) + (0,) * (arr.ndim - 2)
    arr[idx] = arr[idx] * scale
    with pytest.raises(ValueError, match=rf"^{name}\[{', '.join(map(str, idx))}, :\] sums to"):
        _build(_with(**{name: arr}))


def test_row_tolerance_accepts_rounding():
    arr = _good()["P_l"].copy()
    arr[0, 0, 0] *= 1 + 1e-12
    _build(_with(P_l=arr))


@pytest.mark.parametrize(
    "gamma", [0, 1, -0.5, 1.5, np.nan, np.inf, 0.0, 1.0, "x", "0.9", None, 1j, [0.9]]
)
def test_gamma_outside_unit_interval(gamma):
    with pytest.raises(ValueError, match=r"^gamma must"):
        _build(_with(gamma=gamma))


@pytest.mark.parametrize("name", ["P_g", "P_l", "r_g", "r_l"])
def test_empty_axis(name):
    for axis in range(_good()[name].ndim):
        arr = np.take(_good()[name], [], axis=axis)
        with pytest.raises(ValueError, match=rf"^{name} has an empty axis"):
            _build(_with(**{name: arr}))


# labels and aggregate -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels, match",
    [
        ({"S_g": ["a"]}, r"labels\['S_g'\] has 1 names but S_g = 2"),
        ({"A_g": ["a", "b"]}, r"labels\['A_g'\]"),
        ({"S_l": ["a", "b", "c"]}, r"labels\['S_l'\]"),
        ({"A_l": []}, r"labels\['A_l'\]"),
        ({"s_g": ["a", "b"]}, r"labels has unknown key 's_g'"),
        ({"states": ["a", "b"]}, r"labels has unknown key"),
        ({"S_g": 2}, r"labels\['S_g'\] must be a sequence"),
        ({"S_g": "ab"}, r"labels\['S_g'\] must be a sequence"),
        (["S_g"], r"^labels must be a dict"),
    ],
)
def test_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        _build(_with(labels=labels))


def _rho(s_g, a_g, xbar):
    return xbar**2


@pytest.mark.parametrize(
    "phi, match",
    [
        (np.zeros((S_l, A_l + 1)), r"^aggregate.phi must have shape \(S_l, A_l\)"),
        (np.zeros((S_l + 1, A_l)), r"^aggregate.phi must have shape"),
        (np.zeros((A_l, S_l, 1)), r"^aggregate.phi must have 2 dimensions"),
        (np.full((S_l, A_l), np.nan), r"^aggregate.phi\[0, 0\] = nan is not finite"),
    ],
)
def test_bad_aggregate_phi(phi, match):
    with pytest.raises(ValueError, match=match):
        _build(_with(aggregate=Aggregate(phi, _rho)))


def test_bad_aggregate_objects():
    with pytest.raises(ValueError, match=r"^aggregate.rho must be a callable"):
        Aggregate(np.zeros((S_l, A_l)), rho=3.0)
    with pytest.raises(ValueError, match=r"^aggregate must be an smfq_lib.model.system.Aggregate"):
        _build(_with(aggregate=_rho))
    # a rho that is not vectorized is refused when the system is built (rho is checked there)
    with pytest.raises(ValueError, match=r"^aggregate.rho returned shape"):
        _build(_with(aggregate=Aggregate(np.zeros((S_l, A_l)), lambda s, a, x: 1.0)))


# good-input properties ----------------------------------------------------------------------
def test_properties():
    kw = _good()
    system = _build(kw)
    assert system.Z_l == S_l * A_l
    assert system.r_tilde == pytest.approx(np.abs(kw["r_g"]).max() + np.abs(kw["r_l"]).max())
    assert isinstance(system.gamma, float) and system.gamma == 0.9
    assert system.aggregate is None and system.labels is None
    np.testing.assert_array_equal(system.aggregate_reward(0, 0, np.zeros(4)), np.zeros(4))
    text = repr(system)
    for piece in ("S_g=2", "A_g=3", "S_l=2", "A_l=2", "Z_l=4", "gamma=0.9", "r_tilde="):
        assert piece in text
    assert "array" not in text and len(text) < 200


def test_arrays_are_read_only_copies():
    kw = _good()
    system = _build(kw)
    for name in ("P_g", "P_l", "r_g", "r_l"):
        arr = getattr(system, name)
        assert arr.dtype == np.float64 and not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[(0,) * arr.ndim] = 0.5
    kw["r_g"][0, 0] = 123.0  # the caller's array is not the system's
    assert system.r_g[0, 0] != 123.0
    with pytest.raises(AttributeError):
        system.gamma = 0.5


def test_integer_and_list_inputs_are_converted():
    P_g = [[[1, 0]], [[0, 1]]]  # S_g=2, A_g=1, deterministic, ints in nested lists
    P_l = np.ones((1, 2, 1, 1), dtype=int)
    system = CooperativeSystem(P_g, P_l, [[0], [1]], np.zeros((1, 2, 1), dtype=int), 0.5)
    assert system.P_g.dtype == np.float64 and system.r_tilde == 1.0


def test_labels_stored_as_tuples():
    system = _build(_with(labels={"S_g": ["low", "high"], "A_l": (0, 1)}))
    assert system.labels == {"S_g": ("low", "high"), "A_l": ("0", "1")}


def test_stage_reward_by_hand():
    """Eq. (3) (+ aggregate) on a 2-agent example, computed by hand."""
    P_g = np.full((2, 2, 2), 0.5)
    P_l = np.full((2, 2, 2, 2), 0.5)
    r_g = np.array([[1.0, 2.0], [3.0, 4.0]])
    r_l = np.zeros((2, 2, 2))
    r_l[0, 1, 1] = 10.0  # agent in s=0, global state 1, action 1
    r_l[1, 1, 0] = -4.0  # agent in s=1, global state 1, action 0
    system = CooperativeSystem(P_g, P_l, r_g, r_l, 0.9)
    # s_g = 1, a_g = 0; agents (s, a) = (0, 1), (1, 0): 3 + (10 - 4) / 2 = 6
    assert system.stage_reward(1, 0, [0, 1], [1, 0]) == pytest.approx(6.0)
    # same agents, a_g = 1: 4 + 3 = 7
    assert system.stage_reward(1, 1, [0, 1], [1, 0]) == pytest.approx(7.0)
    # surrogate reward of a 1-agent subsystem (eq. 6): 3 + 10
    assert system.stage_reward(1, 0, [0], [1]) == pytest.approx(13.0)

    phi = np.array([[0.0, 2.0], [4.0, 6.0]])
    agg = Aggregate(phi, lambda s_g, a_g, xbar: (s_g + 1) * xbar**2 + a_g, name="sq")
    system = CooperativeSystem(P_g, P_l, r_g, r_l, 0.9, aggregate=agg)
    # xbar = (phi[0,1] + phi[1,0]) / 2 = 3; rho = 2 * 9 + 0 = 18; total 6 + 18
    assert system.stage_reward(1, 0, [0, 1], [1, 0]) == pytest.approx(24.0)
    np.testing.assert_allclose(system.aggregate_reward([0, 1], [1, 0], [1.0, 2.0]), [2.0, 8.0])
    assert "aggregate=sq" in repr(system)
    assert system.r_tilde == pytest.approx(4.0 + 10.0)  # decomposed part only


def test_fingerprint_identifies_dynamics_and_rewards():
    """The same arrays give the same fingerprint (labels aside); any entry, gamma, the noise or
    the aggregate's rho changes it."""
    from smfq_lib import RewardNoise
    from smfq_lib.model.examples import random_system

    base = random_system(2, 3, 2, 2, seed=0)
    args = (base.P_g, base.P_l, base.r_g, base.r_l)
    same = CooperativeSystem(*args, base.gamma, labels={"S_g": ["x", "y"]})
    assert same.fingerprint == base.fingerprint and len(base.fingerprint) == 16
    r_l = base.r_l.copy()
    r_l[0, 0, 0] = np.nextafter(r_l[0, 0, 0], np.inf)
    phi = np.ones((3, 2))
    others = [
        CooperativeSystem(base.P_g, base.P_l, base.r_g, r_l, base.gamma),
        CooperativeSystem(*args, 0.95),
        CooperativeSystem(*args, base.gamma, reward_noise=RewardNoise(w_g=0.1)),
        CooperativeSystem(*args, base.gamma, aggregate=Aggregate(phi, lambda s, a, x: x)),
        CooperativeSystem(*args, base.gamma, aggregate=Aggregate(phi, lambda s, a, x: 2 * x)),
    ]
    prints = [base.fingerprint] + [o.fingerprint for o in others]
    assert len(set(prints)) == len(prints)
