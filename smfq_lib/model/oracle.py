"""A black-box generative oracle: the only model access Algorithms 1 and 2 need.

The paper's learners (Algorithms 1, 2) require only "an oracle O to sample ``s'_g ~ P_g(.|s_g,
a_g)`` and ``s'_i ~ P_l(.|s_i, s_g, a_i)``" (eq. 1, 2) and the rewards (eq. 3).
:class:`GenerativeOracle` is that oracle: the sizes, ``gamma``, the reward tables ``r_g``,
``r_l`` and two vectorised samplers, called on equal-length integer arrays:

* ``sample_global(s_g, a_g, rng) -> next s_g``;
* ``sample_local(s_i, s_g, a_i, rng) -> next s_i``.

The third argument is a ``numpy.random.Generator`` or, with ``uniforms=True``, a float array in
``[0, 1)`` of the same length: one uniform per draw, which the sampler turns into a draw (e.g. by
inverse CDF). :meth:`GenerativeOracle.from_system` (also ``CooperativeSystem.oracle()``) wraps a
:class:`~smfq_lib.model.system.CooperativeSystem` this way: inverse CDF on its rows, in NumPy.

Every sampler return is checked (:meth:`GenerativeOracle.draw_global`,
:meth:`~GenerativeOracle.draw_local`): one integer next state per query, in range; a float array
is accepted only when every value is integral. ``ValueError`` names the sampler and what was
wrong. The query arrays are passed read-only.

``smfq_lib.learn(oracle, k, m)`` runs the empirical operators (eq. 8, 9) with their fixed samples
drawn through the oracle (docs/design.md §3, "Learning from a generative oracle"); the exact
operator (``m=None``, eq. 12) needs the transition model itself and is refused.
"""

from __future__ import annotations

import hashlib

import numpy as np

from smfq_lib._utils.checks import check_gamma, check_int, real_array
from smfq_lib.model.system import CooperativeSystem, _check_noise, _check_value_bound, digest

__all__ = ["GenerativeOracle", "cdf_rows", "check_draws", "inverse_cdf_samplers"]


def _reward_table(name: str, value, shape: tuple[int, ...], axes: str) -> np.ndarray:
    """``value`` (an array, or a vectorised callable evaluated once on the integer grid of
    ``shape``) as a read-only float64 table of ``shape``."""
    if callable(value):
        grid = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
        try:
            raw = value(*grid)
        except Exception as exc:  # a user's callable: say where it failed
            raise ValueError(
                f"{name}({axes}) raised {type(exc).__name__}: {exc} when evaluated on the full "
                f"grid of integer arrays of shape {shape}; it must be vectorised (elementwise "
                "over integer arrays)."
            ) from exc
        table = real_array(f"{name}({axes})", raw)
        what = f"{name}({axes}) on integer arrays of shape {shape} returned shape {table.shape}"
        if table.shape != shape:
            raise ValueError(f"{what}; it must be vectorised (elementwise over its inputs).")
    else:
        table = real_array(name, value)
        if table.shape != shape:
            raise ValueError(
                f"{name} must have shape ({axes}) = {shape} (or be a vectorised callable "
                f"{name}({axes})); got shape {table.shape}."
            )
    table.setflags(write=False)
    return table


def _tag(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


class GenerativeOracle:
    """The sizes, discount, rewards and two next-state samplers of a cooperative system (eq. 1-3),
    without its transition tables.

    Parameters (keywords only)
    --------------------------
    S_g, S_l, A_g, A_l : state and action counts (integers ``>= 1``).
    gamma : discount of eq. (4), in (0, 1).
    r_g : ``(S_g, A_g)`` rewards, or a vectorised callable ``r_g(s_g, a_g)`` on integer arrays.
    r_l : ``(S_l, S_g, A_l)`` rewards, or a vectorised callable ``r_l(s_i, s_g, a_i)``.
        A callable is evaluated once, on the full grid; its values are checked (shape,
        finiteness) and stored as the tables ``r_g``, ``r_l``.
    sample_global : ``sample_global(s_g, a_g, rng)`` -> the next global states (eq. 1).
    sample_local : ``sample_local(s_i, s_g, a_i, rng)`` -> the next local states (eq. 2).
        The first arguments are equal-length int64 arrays (read-only); ``rng`` is a
        ``numpy.random.Generator`` or, with ``uniforms=True``, a float64 array of the same length
        in ``[0, 1)``, one uniform per draw. A sampler must return one next state per query, an
        integer array (or floats with integral values) in ``[0, S_g)``, resp. ``[0, S_l)``.
    uniforms : the samplers' third argument is an array of uniforms, not a Generator. With it the
        learner passes the counter-based uniforms of its built-in kernels, so a sampler that
        inverts the CDF of ``P_g``, ``P_l`` reproduces ``learn(system, ...)`` bit for bit.
    reward_noise : optional :class:`~smfq_lib.model.system.RewardNoise`, the bounded noise of
        Theorem 0.13 on the rewards, drawn by the learner exactly as for a system.
    thread_safe : the samplers may run on several threads at once (on different blocks of
        queries), e.g. pure NumPy functions of their arguments: the learner then draws blocks on
        ``numba.get_num_threads()`` threads. Default ``False``: one call at a time, in order.
        The samples are the same either way (each block has its own uniforms or Generator).

    The oracle carries no :class:`~smfq_lib.model.system.Aggregate` term: its rewards are of the
    decomposed form (3). It exposes ``Z_l``, ``r_tilde`` (Assumption 0.4) and a ``fingerprint``
    (a :class:`CooperativeSystem`'s own for :meth:`from_system`; otherwise a hash of the sizes,
    rewards, noise widths, ``gamma`` and the samplers' qualified names, which no system shares:
    a policy learned from it is used on a system through :func:`smfq_lib.learning.policy.
    transfer`).

    What needs a model. Learning (``learn(oracle, k, m)``, ``m`` an int) needs only the oracle,
    and so do the learned table's action laws and greedy tables. The exact operator (``m=None``),
    exact evaluation (:mod:`smfq_lib.evaluate`) and the executors (Algorithm 3,
    :mod:`smfq_lib.execute`) need a ``CooperativeSystem``.
    """

    aggregate = None

    def __init__(
        self,
        *,
        S_g,
        S_l,
        A_g,
        A_l,
        gamma,
        r_g,
        r_l,
        sample_global,
        sample_local,
        uniforms=False,
        reward_noise=None,
        thread_safe=False,
    ):
        self.S_g = check_int("S_g", S_g, 1)
        self.S_l = check_int("S_l", S_l, 1)
        self.A_g = check_int("A_g", A_g, 1)
        self.A_l = check_int("A_l", A_l, 1)
        self.gamma = check_gamma(gamma)
        self.r_g = _reward_table("r_g", r_g, (self.S_g, self.A_g), "s_g, a_g")
        self.r_l = _reward_table("r_l", r_l, (self.S_l, self.S_g, self.A_l), "s_i, s_g, a_i")
        for name, fn in (("sample_global", sample_global), ("sample_local", sample_local)):
            if not callable(fn):
                raise ValueError(
                    f"{name} must be a callable (see GenerativeOracle); got {type(fn).__name__}."
                )
        for name, flag in (("uniforms", uniforms), ("thread_safe", thread_safe)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False; got {flag!r}.")
        self.thread_safe = thread_safe
        self.sample_global = sample_global
        self.sample_local = sample_local
        self.uniforms = uniforms
        self.reward_noise = None
        if reward_noise is not None:
            self.reward_noise = _check_noise(reward_noise, self.r_g, self.r_l)
        _check_value_bound(self.r_g, self.r_l, self.reward_noise, 0.0, self.gamma)
        self._fingerprint = None

    @classmethod
    def from_system(cls, system) -> GenerativeOracle:
        """The oracle of ``system``: its rewards, noise and ``gamma``, and samplers that invert
        the CDF of its rows in NumPy, in uniforms mode (the first ``s`` with ``u < cdf[s]``, the
        row's last outcome of positive mass if rounding leaves ``cdf[-1] <= u``: the built-in
        kernels' ``categorical`` on the same cumulative rows; pure functions, so
        ``thread_safe``). ``learn(oracle, k, m, seed=s)``
        then equals ``learn(system, k, m, seed=s)`` bit for bit, and its fingerprint is the
        system's. A system with an :class:`~smfq_lib.model.system.Aggregate` reward is refused
        (``ValueError``): the oracle's rewards are decomposed (eq. 3)."""
        if not isinstance(system, CooperativeSystem):
            raise ValueError(
                f"system must be an smfq_lib.CooperativeSystem; got {type(system).__name__}."
            )
        if system.aggregate is not None:
            raise ValueError(
                f"this system has an aggregate reward term ({system.aggregate.name}: rho(s_g, "
                "a_g, xbar) of the population mean), which a GenerativeOracle cannot carry (its "
                "rewards are r_g + mean r_l, eq. 3); an oracle of the other terms would learn "
                "another problem. Learn from the system itself: learn(system, k, m)."
            )
        sample_global, sample_local = inverse_cdf_samplers(system.P_g, system.P_l)
        oracle = cls(
            S_g=system.S_g,
            S_l=system.S_l,
            A_g=system.A_g,
            A_l=system.A_l,
            gamma=system.gamma,
            r_g=system.r_g,
            r_l=system.r_l,
            sample_global=sample_global,
            sample_local=sample_local,
            uniforms=True,
            reward_noise=system.reward_noise,
            thread_safe=True,
        )
        oracle._fingerprint = system.fingerprint
        return oracle

    # sizes and bounds ------------------------------------------------------------------------
    @property
    def Z_l(self) -> int:
        """``|Z_l| = |S_l| |A_l|``, the (state, action) cells of a local agent (eq. 5)."""
        return self.S_l * self.A_l

    @property
    def r_tilde(self) -> float:
        """``r~ = r~_g + r~_l`` of Assumption 0.4 (noise widths included, as for a system)."""
        r_g, r_l = np.abs(self.r_g), np.abs(self.r_l)
        if self.reward_noise is not None:
            r_g = r_g + self.reward_noise.w_g
            r_l = r_l + self.reward_noise.w_l
        return float(r_g.max() + r_l.max())

    @property
    def fingerprint(self) -> str:
        """16 hex digits; see the class docstring."""
        if self._fingerprint is not None:
            return self._fingerprint
        h = hashlib.sha256(b"smfq.GenerativeOracle/1")
        sizes = (self.S_g, self.S_l, self.A_g, self.A_l)
        h.update(f"{sizes}{self.uniforms}".encode())
        h.update(f"{_tag(self.sample_global)}|{_tag(self.sample_local)}".encode())
        parts = [("r_g", self.r_g), ("r_l", self.r_l), ("gamma", np.array([self.gamma]))]
        return digest(h, parts, self.reward_noise, self)

    # checked draws -----------------------------------------------------------------------------
    def draw_global(self, s_g, a_g, rng) -> np.ndarray:
        """``sample_global(s_g, a_g, rng)``, checked: an int64 array of next global states."""
        return check_draws(
            "sample_global", self.sample_global(s_g, a_g, rng), s_g.shape[0], self.S_g
        )

    def draw_local(self, s_i, s_g, a_i, rng) -> np.ndarray:
        """``sample_local(s_i, s_g, a_i, rng)``, checked: an int64 array of next local states."""
        out = self.sample_local(s_i, s_g, a_i, rng)
        return check_draws("sample_local", out, s_i.shape[0], self.S_l)

    def __repr__(self) -> str:
        mode = "uniforms" if self.uniforms else "Generator"
        return (
            f"GenerativeOracle(S_g={self.S_g}, A_g={self.A_g}, S_l={self.S_l}, A_l={self.A_l}, "
            f"gamma={self.gamma}, r_tilde={self.r_tilde:.4g}, {mode} samplers)"
        )


def cdf_rows(P):
    """Cumulative rows of a transition table ``P`` (over its last axis) and each row's last
    outcome of positive mass: what an inverse-CDF draw reads (also the built-in kernels',
    ``learning.sampled.cdf_tables``)."""
    last = P.shape[-1] - 1 - np.argmax((P > 0)[..., ::-1], axis=-1)
    return np.cumsum(P, axis=-1), last.astype(np.int64)


def inverse_cdf_samplers(P_g, P_l):
    """Uniforms-mode samplers of the transition tables ``P_g`` (eq. 1) and ``P_l`` (eq. 2):
    ``sample_global(s_g, a_g, u)`` and ``sample_local(s_i, s_g, a_i, u)`` return, per query, the
    first ``s`` with ``u < cdf[s]`` of its row (the built-in kernels' ``categorical`` on the same
    cumulative rows, :func:`_invert`); pure functions of their arguments."""
    S_g, A_g = P_g.shape[0], P_g.shape[1]
    A_l = P_l.shape[2]
    cols_g, last_g = _columns(P_g)
    cols_l, last_l = _columns(P_l)

    def sample_global(s_g, a_g, u):
        row = np.multiply(s_g, A_g, dtype=np.int64)
        row += a_g
        return _invert(cols_g, last_g, row, u)

    def sample_local(s_i, s_g, a_i, u):
        row = np.multiply(s_i, S_g, dtype=np.int64)  # (s_i S_g + s_g) A_l + a_i
        row += s_g
        row *= A_l
        row += a_i
        return _invert(cols_l, last_l, row, u)

    return sample_global, sample_local


def _columns(P):
    """The cumulative rows of ``P`` as columns over the flat row index (each contiguous), and
    each row's last outcome of positive mass (:func:`cdf_rows`)."""
    cdf, last = cdf_rows(P)
    S = P.shape[-1]
    return np.ascontiguousarray(cdf.reshape(-1, S).T), last.ravel()


def _invert(cols, last, row, u):
    """Inverse CDF of the flat rows ``row``: the first ``s`` with ``u < cdf[row, s]``, or
    ``last[row]`` when rounding leaves ``cdf[row, -1] <= u`` (``rng.categorical``). The rows are
    non-decreasing, so that ``s`` is the number of ``s < S - 1`` with ``u >= cdf[row, s]``,
    except where ``u`` reaches the last column (only possible when ``u`` reaches the smallest
    ``cdf[:, -1]``, a row sum rounded below 1): there ``last`` decides."""
    u = np.asarray(u, dtype=np.float64)
    if cols.shape[0] == 1:
        below = np.zeros(row.shape[0], dtype=np.int64)
    else:
        below = (u >= cols[0][row]).astype(np.int64)
        for col in cols[1:-1]:
            np.add(below, u >= col[row], out=below)
    if u.size and u.max() >= cols[-1].min():
        top = np.flatnonzero(u >= cols[-1][row])
        below[top] = last[row[top]]
    return below


def check_draws(name: str, out, n: int, S: int) -> np.ndarray:
    """A sampler's return as int64 of length ``n`` in ``[0, S)``, or ``ValueError`` naming the
    sampler ``name`` and what is wrong (type, shape, a non-integral value, a state out of range)."""
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError):
        arr = np.asarray(out, dtype=object)
    what = f"{name} returned"
    if arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{what} {type(out).__name__} of dtype {arr.dtype}; it must return an integer array "
            f"of next states (one per query)."
        )
    if arr.shape != (n,):
        raise ValueError(
            f"{what} an array of shape {arr.shape} for {n} queries; it must return one next state "
            f"per query, shape ({n},)."
        )
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if bad.size:
            raise ValueError(
                f"{what} the non-integral value {arr[bad[0]].item()!r} at query {bad[0]}; next "
                "states are integer codes."
            )
    if n and (arr.min() < 0 or arr.max() >= S):
        bad = np.flatnonzero((arr < 0) | (arr >= S))
        raise ValueError(
            f"{what} the state {arr[bad[0]].item()!r} at query {bad[0]}, outside [0, {S}); next "
            f"states are codes 0..{S - 1}."
        )
    return arr.astype(np.int64, copy=False)
