"""The cooperative system of the paper's Problem Formulation, validated on construction.

One global agent and ``n`` homogeneous local agents (``n`` is not part of the system: it belongs
to execution and evaluation). Every quantity is a dense float64 array over integer codes:

=======  ==========================  ==========================================
name     shape                       meaning
=======  ==========================  ==========================================
``P_g``  ``(S_g, A_g, S_g)``         ``P_g[s_g, a_g, s_g']``, eq. (1)
``P_l``  ``(S_l, S_g, A_l, S_l)``    ``P_l[s_i, s_g, a_i, s_i']``, eq. (2)
``r_g``  ``(S_g, A_g)``              global reward component, eq. (3)
``r_l``  ``(S_l, S_g, A_l)``         local reward component, eq. (3)
=======  ==========================  ==========================================

The stage reward of eq. (3) is ``r_g[s_g, a_g] + (1/n) sum_i r_l[s_i, s_g, a_i]``. An optional
:class:`Aggregate` term ``rho(s_g, a_g, xbar)`` of the population mean
``xbar = (1/n) sum_i phi[s_i, a_i]`` covers rewards such as the Gaussian squeeze of Example 0.1,
which are not of the decomposed form (3). Theorem 0.11's assumptions (Assumption 0.4 and the
decomposition (3)) cover the decomposed part only; ``r_tilde`` is computed from it alone.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from smfq_lib._utils.checks import check_gamma, real_array

ROW_TOL = 1e-9
#: Largest bound ``(r~ + max |rho|) / (1 - gamma)`` on the values accepted: far below the float
#: range (1.8e308), so that sums of up to 1e8 values (the empirical operators (8), (9) add ``m``
#: of them) and differences of two values stay finite.
VALUE_BOUND_MAX = 1e300
#: Points of ``xbar`` at which a system checks its aggregate ``rho`` (see :class:`Aggregate`).
RHO_GRID = 1025

__all__ = ["Aggregate", "CooperativeSystem", "ROW_TOL", "RewardNoise", "VALUE_BOUND_MAX"]


def _as_float_array(name: str, value, ndim: int) -> np.ndarray:
    arr = real_array(name, value, ndim)  # the package's one coercion of numbers
    if 0 in arr.shape:
        raise ValueError(
            f"{name} has an empty axis (shape {arr.shape}); every state and action space "
            f"needs at least one element."
        )
    arr.setflags(write=False)
    return arr


def _check_stochastic(name: str, arr: np.ndarray, axes: str) -> None:
    """Every row over the last axis is a probability distribution (non-negative, sums to 1)."""
    neg = np.argwhere(arr < 0)
    if neg.size:
        idx = tuple(int(i) for i in neg[0])
        raise ValueError(
            f"{name}{list(idx)} = {arr[idx]} is negative; transition probabilities must be >= 0."
        )
    sums = arr.sum(axis=-1)
    off = np.argwhere(np.abs(sums - 1.0) > ROW_TOL)
    if off.size:
        idx = tuple(int(i) for i in off[0])
        raise ValueError(
            f"{name}[{', '.join(map(str, idx))}, :] sums to {sums[idx]!r}, not 1 (tolerance "
            f"{ROW_TOL}); each row {name}[{axes}, :] must be a distribution over next states. "
            f"Normalise it, e.g. {name} / {name}.sum(axis=-1, keepdims=True)."
        )


def _check_noise(noise, r_g: np.ndarray, r_l: np.ndarray) -> RewardNoise:
    if not isinstance(noise, RewardNoise):
        raise ValueError(
            "reward_noise must be an smfq_lib.model.system.RewardNoise(w_g, w_l) or None; "
            f"got {type(noise).__name__}."
        )
    widths = {}
    for name, w, like in (("w_g", noise.w_g, r_g), ("w_l", noise.w_l, r_l)):
        arr = real_array(f"reward_noise.{name}", w)
        try:
            arr = np.broadcast_to(arr, like.shape).copy()
        except ValueError:
            raise ValueError(
                f"reward_noise.{name} of shape {arr.shape} does not broadcast to the shape "
                f"{like.shape} of {'r_g' if name == 'w_g' else 'r_l'}."
            ) from None
        bad = np.argwhere(~np.isfinite(arr) | (arr < 0))
        if bad.size:
            idx = tuple(int(i) for i in bad[0])
            raise ValueError(
                f"reward_noise.{name}{list(idx)} = {arr[idx]}; noise half-widths must be finite "
                "and >= 0."
            )
        arr.setflags(write=False)
        widths[name] = arr
    return RewardNoise(**widths)


def _check_value_bound(r_g, r_l, noise, rho_max: float, gamma: float) -> None:
    """Refuse rewards whose value bound ``(r~ + max |rho|) / (1 - gamma)`` is not a finite float
    below :data:`VALUE_BOUND_MAX` (value iteration would overflow to inf, then NaN)."""
    w_g = 0.0 if noise is None else noise.w_g
    w_l = 0.0 if noise is None else noise.w_l
    with np.errstate(over="ignore"):
        r_tilde = float(np.max(np.abs(r_g) + w_g)) + float(np.max(np.abs(r_l) + w_l))
        bound = (r_tilde + rho_max) / (1.0 - gamma)
    if not bound <= VALUE_BOUND_MAX:  # also catches inf and nan
        raise ValueError(
            f"rewards too large for gamma = {gamma}: the value bound (r_tilde + max|rho|) / "
            f"(1 - gamma) = ({r_tilde:.4g} + {rho_max:.4g}) / {1.0 - gamma:.4g} = {bound:.4g} "
            f"exceeds {VALUE_BOUND_MAX:g} (r_tilde = max|r_g| + max|r_l|, noise widths "
            "included), so Q-values would overflow. Rescale r_g, r_l (and rho): values are "
            "linear in the rewards."
        )


@dataclass(frozen=True, eq=False)
class Aggregate:
    """A reward term of the population mean, outside the decomposed form (3).

    The term is ``rho(s_g, a_g, xbar)`` with ``xbar = (1/N) sum_i phi[s_i, a_i]`` over the ``N``
    agents of the population at hand (``n`` for the full system, ``k`` for the subsystem of
    eq. (6)). ``phi`` is a ``(S_l, A_l)`` table of per-agent weights; ``rho`` is a vectorized
    callable taking integer arrays ``s_g``, ``a_g`` and a float array ``xbar`` of one shape and
    returning a float array of that shape. It is evaluated in NumPy, before a kernel runs (reward
    tables) or after (executor traces), never from inside a kernel. ``bound`` is an upper bound
    on ``|rho|``, used for reporting only.

    Finite values. ``xbar`` is an average of entries of ``phi``, so it lies in
    ``[min phi, max phi]``, but which points of it occur depends on the population size, so
    they cannot all be listed. A :class:`CooperativeSystem` therefore evaluates ``rho`` when it
    is built, at every ``(s_g, a_g)`` and at ``RHO_GRID`` (1025) evenly spaced ``xbar`` from
    ``min phi`` to ``max phi`` plus every entry of ``phi``, and refuses a NaN or infinite value;
    and every later evaluation (:meth:`__call__`: reward tables, exact evaluation, executor
    traces) checks its output again and raises ``ValueError`` naming ``aggregate.rho`` and the
    first bad input.

    ``name`` labels the term in messages and reprs (default ``"aggregate"``).
    """

    phi: np.ndarray
    rho: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    bound: float = np.inf
    name: str = "aggregate"

    def __post_init__(self):
        object.__setattr__(self, "phi", _as_float_array("aggregate.phi", self.phi, 2))
        if not callable(self.rho):
            raise ValueError(
                "aggregate.rho must be a callable rho(s_g, a_g, xbar) -> array; "
                f"got {type(self.rho).__name__}."
            )

    def __call__(self, s_g, a_g, xbar) -> np.ndarray:
        s_g, a_g, xbar = np.broadcast_arrays(
            np.asarray(s_g, dtype=np.int64),
            np.asarray(a_g, dtype=np.int64),
            np.asarray(xbar, dtype=np.float64),
        )
        out = np.asarray(self.rho(s_g, a_g, xbar), dtype=np.float64)
        if out.shape != xbar.shape:
            raise ValueError(
                f"aggregate.rho returned shape {out.shape} for inputs of shape {xbar.shape}; "
                "it must be vectorized (elementwise over its inputs)."
            )
        bad = np.argwhere(~np.isfinite(out))
        if bad.size:
            i = tuple(bad[0])
            raise ValueError(
                f"aggregate.rho returned {out[i]} at s_g={s_g[i]}, a_g={a_g[i]}, "
                f"xbar={float(xbar[i])}; rho must be finite wherever xbar can fall, i.e. on "
                f"[min phi, max phi] = [{self.phi.min()}, {self.phi.max()}]. Fix rho (or phi)."
            )
        return out

    def grid_values(self, S_g: int, A_g: int) -> np.ndarray:
        """``rho`` on the grid described in the class docstring, shape ``(S_g, A_g, points)``
        (``ValueError`` on a NaN or infinite value)."""
        lo, hi = float(self.phi.min()), float(self.phi.max())
        xbar = np.unique(np.concatenate([np.linspace(lo, hi, RHO_GRID), self.phi.ravel()]))
        return self(*np.meshgrid(np.arange(S_g), np.arange(A_g), xbar, indexing="ij"))

    def check_range(self, S_g: int, A_g: int) -> float:
        """Evaluate ``rho`` on its grid (:meth:`grid_values`); return its largest ``|rho|``."""
        return float(np.max(np.abs(self.grid_values(S_g, A_g))))


@dataclass(frozen=True, eq=False)
class RewardNoise:
    """Bounded stochastic rewards of Theorem 0.13: the means stay in ``r_g``, ``r_l``.

    Each realised reward is its mean plus an independent symmetric two-point noise:
    ``r_g(s_g, a_g) + w_g[s_g, a_g] * xi`` and, for every local agent,
    ``r_l(s_i, s_g, a_i) + w_l[s_i, s_g, a_i] * xi_i`` with ``xi, xi_i = +-1`` with probability
    1/2 each. The families ``G_{s_g, a_g}`` and ``L_{s_i, s_g, a_i}`` of Theorem 0.13 therefore
    have bounded support ``[mean - w, mean + w]``. The two-point law keeps the sum over the
    ``n_{s,a}`` agents of one cell exact and cheap to draw
    (``w * (2 Binomial(n_{s,a}, 1/2) - n_{s,a})``), so the count-level executor needs no
    approximation. ``w_g`` and ``w_l`` broadcast to the shapes of ``r_g`` and ``r_l``.
    """

    w_g: np.ndarray | float = 0.0
    w_l: np.ndarray | float = 0.0


@dataclass(frozen=True, eq=False)
class CooperativeSystem:
    """A global agent and homogeneous local agents: ``P_g``, ``P_l``, ``r_g``, ``r_l``, ``gamma``.

    Implements the model of eq. (1)-(3) of the paper (section Problem Formulation), validated on
    construction: shapes agree, entries are finite, every transition row is non-negative and sums
    to 1 (tolerance ``ROW_TOL``), ``gamma`` lies in (0, 1), the value bound
    ``(r~ + max |rho|) / (1 - gamma)`` is at most ``VALUE_BOUND_MAX`` (1e300, so value iteration
    cannot overflow), an aggregate's ``rho`` is finite on its grid (see :class:`Aggregate`),
    labels (if given) have the right lengths. ``labels`` is an optional dict with any of the keys
    ``"S_g", "A_g", "S_l", "A_l"``, each a sequence of human-readable names; kernels never see
    them.

    ``reward_noise``: an optional :class:`RewardNoise`, bounded zero-mean noise on the rewards
    (Theorem 0.13); ``None`` for deterministic rewards.
    """

    P_g: np.ndarray
    P_l: np.ndarray
    r_g: np.ndarray
    r_l: np.ndarray
    gamma: float
    labels: dict[str, Sequence[str]] | None = field(default=None, compare=False)
    aggregate: Aggregate | None = field(default=None, compare=False)
    reward_noise: RewardNoise | None = field(default=None, compare=False)

    def __post_init__(self):
        P_g = _as_float_array("P_g", self.P_g, 3)
        P_l = _as_float_array("P_l", self.P_l, 4)
        r_g = _as_float_array("r_g", self.r_g, 2)
        r_l = _as_float_array("r_l", self.r_l, 3)
        S_g, A_g = P_g.shape[0], P_g.shape[1]
        if P_g.shape[2] != S_g:
            raise ValueError(
                f"P_g must have shape (S_g, A_g, S_g); got {P_g.shape}: its last axis "
                f"({P_g.shape[2]}) must equal its first (S_g = {S_g})."
            )
        S_l, A_l = P_l.shape[0], P_l.shape[2]
        if P_l.shape != (S_l, S_g, A_l, S_l):
            raise ValueError(
                f"P_l must have shape (S_l, S_g, A_l, S_l) = ({S_l}, {S_g}, {A_l}, {S_l}) given "
                f"S_g = {S_g} from P_g; got {P_l.shape}."
            )
        if r_g.shape != (S_g, A_g):
            raise ValueError(f"r_g must have shape (S_g, A_g) = ({S_g}, {A_g}); got {r_g.shape}.")
        if r_l.shape != (S_l, S_g, A_l):
            raise ValueError(
                f"r_l must have shape (S_l, S_g, A_l) = ({S_l}, {S_g}, {A_l}); got {r_l.shape}."
            )
        _check_stochastic("P_g", P_g, "s_g, a_g")
        _check_stochastic("P_l", P_l, "s_i, s_g, a_i")
        gamma = check_gamma(self.gamma)
        sizes = {"S_g": S_g, "A_g": A_g, "S_l": S_l, "A_l": A_l}
        labels = None
        if self.labels is not None:
            if not isinstance(self.labels, dict):
                raise ValueError("labels must be a dict like {'S_l': [...], 'A_l': [...]}.")
            labels = {}
            for key, names in self.labels.items():
                if key not in sizes:
                    raise ValueError(
                        f"labels has unknown key {key!r}; allowed keys are {sorted(sizes)}."
                    )
                if isinstance(names, str | bytes):
                    raise ValueError(
                        f"labels[{key!r}] must be a sequence of names, not a single string "
                        f"{names!r}; e.g. labels={{{key!r}: ['a', 'b']}}."
                    )
                try:
                    names = tuple(str(x) for x in names)
                except TypeError:
                    raise ValueError(
                        f"labels[{key!r}] must be a sequence of names; got {type(names).__name__}."
                    ) from None
                if len(names) != sizes[key]:
                    raise ValueError(
                        f"labels[{key!r}] has {len(names)} names but {key} = {sizes[key]}; "
                        f"give exactly one name per element."
                    )
                labels[key] = names
        if self.aggregate is not None:
            if not isinstance(self.aggregate, Aggregate):
                raise ValueError(
                    "aggregate must be an smfq_lib.model.system.Aggregate(phi, rho) or None; "
                    f"got {type(self.aggregate).__name__}."
                )
            if self.aggregate.phi.shape != (S_l, A_l):
                raise ValueError(
                    f"aggregate.phi must have shape (S_l, A_l) = ({S_l}, {A_l}); "
                    f"got {self.aggregate.phi.shape}."
                )
        if self.reward_noise is not None:
            object.__setattr__(self, "reward_noise", _check_noise(self.reward_noise, r_g, r_l))
        rho_max = 0.0
        if self.aggregate is not None:
            rho_max = self.aggregate.check_range(S_g, A_g)
        _check_value_bound(r_g, r_l, self.reward_noise, rho_max, gamma)
        for name, val in (("P_g", P_g), ("P_l", P_l), ("r_g", r_g), ("r_l", r_l)):
            object.__setattr__(self, name, val)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "labels", labels)

    @functools.cached_property
    def fingerprint(self) -> str:
        """The identity of this system's dynamics and rewards: 16 hex digits of the sha256 of
        ``P_g``, ``P_l``, ``r_g``, ``r_l``, ``gamma``, the aggregate's ``phi`` and its ``rho``
        on the grid it is checked on, and the noise widths (``labels`` are not part of it).

        A learned policy records it (``system_fingerprint``), and the evaluators and executors
        refuse a policy learned on another system (docs/design.md §4)."""
        parts = [("P_g", self.P_g), ("P_l", self.P_l), ("r_g", self.r_g), ("r_l", self.r_l)]
        parts.append(("gamma", np.array([self.gamma])))
        if self.aggregate is not None:
            parts.append(("phi", self.aggregate.phi))
            parts.append(("rho", self.aggregate.grid_values(self.S_g, self.A_g)))
        return digest(hashlib.sha256(b"smfq.CooperativeSystem/1"), parts, self.reward_noise, self)

    # sizes -------------------------------------------------------------------------------
    @property
    def S_g(self) -> int:
        return self.P_g.shape[0]

    @property
    def A_g(self) -> int:
        return self.P_g.shape[1]

    @property
    def S_l(self) -> int:
        return self.P_l.shape[0]

    @property
    def A_l(self) -> int:
        return self.P_l.shape[2]

    @property
    def Z_l(self) -> int:
        """``|Z_l| = |S_l| |A_l|``, the number of (state, action) cells of a local agent (eq. 5)."""
        return self.S_l * self.A_l

    @property
    def r_tilde(self) -> float:
        """``r~ = r~_g + r~_l`` of Assumption 0.4 (decomposed part (3) only).

        With :class:`RewardNoise`, the bound covers the support of the realised rewards
        (Theorem 0.13): ``max |r_g| + w_g`` and ``max |r_l| + w_l``, entry by entry.
        """
        r_g, r_l = np.abs(self.r_g), np.abs(self.r_l)
        if self.reward_noise is not None:
            r_g = r_g + self.reward_noise.w_g
            r_l = r_l + self.reward_noise.w_l
        return float(r_g.max() + r_l.max())

    # rewards ------------------------------------------------------------------------------
    def aggregate_reward(self, s_g, a_g, xbar) -> np.ndarray:
        """The aggregate term ``rho(s_g, a_g, xbar)`` (zero when the system has none)."""
        if self.aggregate is None:
            return np.zeros(np.broadcast_shapes(np.shape(s_g), np.shape(a_g), np.shape(xbar)))
        return self.aggregate(s_g, a_g, xbar)

    def stage_reward(self, s_g: int, a_g: int, s_local, a_local) -> float:
        """Eq. (3) for one joint state and action of ``n = len(s_local)`` local agents.

        ``r_g[s_g, a_g] + (1/n) sum_i r_l[s_i, s_g, a_i]`` plus the aggregate term, if any. With
        ``s_local`` a sampled subset this is the surrogate reward ``r_Delta`` of eq. (6).
        """
        s_local = np.asarray(s_local, dtype=np.int64)
        a_local = np.asarray(a_local, dtype=np.int64)
        out = self.r_g[s_g, a_g] + self.r_l[s_local, s_g, a_local].mean()
        if self.aggregate is not None:
            xbar = self.aggregate.phi[s_local, a_local].mean()
            out += float(self.aggregate(s_g, a_g, xbar))
        return float(out)

    def __repr__(self) -> str:
        extra = f", aggregate={self.aggregate.name}" if self.aggregate is not None else ""
        if self.reward_noise is not None:
            extra += ", reward_noise"
        return (
            f"CooperativeSystem(S_g={self.S_g}, A_g={self.A_g}, S_l={self.S_l}, A_l={self.A_l}, "
            f"Z_l={self.Z_l}, gamma={self.gamma}, r_tilde={self.r_tilde:.4g}{extra})"
        )


def digest(h, parts, reward_noise, sizes) -> str:
    """16 hex digits of ``h`` updated with each named array of ``parts`` (as little-endian
    float64, with its shape) and, if any, the reward noise's half-widths broadcast to the shapes
    of ``sizes.r_g`` and ``sizes.r_l``: the fingerprint of a system or an oracle."""
    if reward_noise is not None:
        parts = [*parts, ("w_g", np.broadcast_to(reward_noise.w_g, sizes.r_g.shape))]
        parts.append(("w_l", np.broadcast_to(reward_noise.w_l, sizes.r_l.shape)))
    for name, arr in parts:
        arr = np.ascontiguousarray(arr, dtype="<f8")
        h.update(f"{name}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]
