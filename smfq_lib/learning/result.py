"""``SubsampledQ``: the learned table of Algorithm 1 or 2, its greedy tables, and .npz storage."""

from __future__ import annotations

import json
import math
import os
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from smfq_lib._utils.budget import check_budget, check_fits
from smfq_lib._utils.checks import format_count
from smfq_lib.learning.policy import DEFAULT_RULE, RULES, ActionLaws
from smfq_lib.learning.registry import operator_class
from smfq_lib.learning.tie_rules import action_laws
from smfq_lib.model.combinatorics import n_compositions, rank

__all__ = ["SubsampledQ"]

_FORMAT = "smfq.SubsampledQ/1"
_ARRAYS = ("Q", "V", "pi_g", "pi_l", "residuals")


@dataclass(eq=False)
class SubsampledQ:
    """Result of :func:`smfq_lib.learning.learn`: ``Q_{k,m}^est`` (or ``Q_k*`` when ``m`` is None).

    Attributes
    ----------
    k, m : sampling parameters (``m=None``: exact operator, eq. 12).
    algorithm : ``"tabular"`` (Algorithm 1, eq. 8) or ``"mean_field"`` (Algorithm 2, eq. 9).
    reason : why this algorithm ran (the paper's rule, or the caller's choice).
    Q : Algorithm 2: shape ``(S_g, S_l, Cz, A_l, A_g)``, ``Q[s_g, s_1, rank(zc), a_1, a_g]``;
        Algorithm 1: shape ``(S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k``.
    V, pi_g, pi_l : shape ``(S_g, S_l, Cs)`` over state compositions ``c`` of the ``k - 1`` others:
        ``V[s_g, s_1, c]`` the max of ``Q`` over ``a_g``, ``a_1`` and every ``zc`` with state
        marginal ``c``; ``pi_g``, ``pi_l`` the maximizing ``a_g``, ``a_1`` (ties: first maximum in
        the order ``(rank(zc), a_1, a_g)``, see ``argmax``). Identical in form for both
        algorithms; for Algorithm 1 they are read at the canonical representative (agent 1 first,
        the others' (state, action) pairs sorted ascending by ``z = s * A_l + a``), because a
        sampled tabular ``Q`` is not exactly permutation invariant (docs/design.md §9).
    residuals : ``||Q^{t+1} - Q^t||_inf`` of every sweep. With policy iteration the first is
        ``max |R|`` (``T 0 = R``, no sweep needed), a sweep after a policy evaluation measures
        ``||R + gamma E V_pi - Q||``, and the last is ``||T Q - Q||_inf`` or the bound
        ``gamma ||max Q - V_pi||_inf`` on it (:func:`smfq_lib.learning.solvers.policy_iteration`).
    seconds : wall time of learning (set-up included). seed : RNG seed of the samples.
    solver : ``"value_iteration"`` or ``"policy_iteration"`` (:mod:`smfq_lib.learning.solvers`), or
    ``"online"`` (:func:`smfq_lib.learning.online.learn_online`).
    sweeps : backups of the whole ``Q``; solves : policy evaluations (linear solves) and
    solve_seconds : their wall time (0 for value iteration). Files written before these fields
    existed load with the defaults (value iteration, ``sweeps = 0``).
    steps, samples : of an online learner (:func:`smfq_lib.learning.online.learn_online`,
    ``solver="online"``, ``m=None``: no generative oracle, no fixed samples): the environment
    steps of its trajectory and the subsystem samples (Q-updates) drawn from them; 0 otherwise.
    system_fingerprint : the :attr:`~smfq_lib.CooperativeSystem.fingerprint` of the system it
    was learned on; the evaluators and executors refuse it on another system
    (:func:`smfq_lib.learning.policy.transfer` is the deliberate override). ``None`` for a file
    saved before fingerprints (loaded with a warning: nothing can be checked).

    oracle_calls : ``{"global": int, "local": int}``, the draws ``s_g' ~ P_g`` and ``s_i' ~
    P_l`` the fixed samples took (from a ``GenerativeOracle``: the total lengths of the arrays
    passed to its samplers; from a system, the same counts of the built-in kernels' draws):
    :func:`smfq_lib.theory.oracle_calls`. ``None`` for ``m=None`` (the exact operator draws
    nothing) and for files saved before the field existed.

    Learned from a :class:`~smfq_lib.GenerativeOracle`, the table keeps working wherever only
    sizes are needed (:meth:`greedy`, :meth:`value`, :meth:`action_laws`, :meth:`save`,
    :func:`~smfq_lib.learning.policy.transfer`); exact evaluation (:mod:`smfq_lib.evaluate`)
    and execution (:mod:`smfq_lib.execute`) need a ``CooperativeSystem``: they accept it on the
    system the oracle came from (``GenerativeOracle.from_system`` keeps its fingerprint), or on
    another after ``transfer``.

    :meth:`action_laws` gives the policy's laws under each tie rule (``pi_g``, ``pi_l`` are rule
    ``"first"``), identically shaped for both algorithms.
    """

    k: int
    m: int | None
    algorithm: str
    reason: str
    Q: np.ndarray
    V: np.ndarray
    pi_g: np.ndarray
    pi_l: np.ndarray
    residuals: np.ndarray
    seconds: float
    seed: int
    solver: str = "value_iteration"
    sweeps: int = 0
    solves: int = 0
    solve_seconds: float = 0.0
    system_fingerprint: str | None = None
    oracle_calls: dict | None = None
    steps: int = 0
    samples: int = 0
    _laws: dict = field(default_factory=dict, init=False, repr=False)

    # lookups ---------------------------------------------------------------------------------
    def _index(self, s_g, s_1, counts):
        S_g, S_l, _ = self.V.shape
        s_g = int(s_g)
        s_1 = int(s_1)
        if not 0 <= s_g < S_g:
            raise ValueError(f"s_g must be in 0..{S_g - 1}; got {s_g}.")
        if not 0 <= s_1 < S_l:
            raise ValueError(f"s_1 must be in 0..{S_l - 1}; got {s_1}.")
        c = np.asarray(counts)
        if c.shape != (S_l,) or not np.issubdtype(c.dtype, np.integer):
            raise ValueError(
                f"counts must be an integer vector of length S_l = {S_l} (the states of the other "
                f"k - 1 = {self.k - 1} sampled agents); got {np.asarray(counts)!r}."
            )
        if (c < 0).any() or int(c.sum()) != self.k - 1:
            raise ValueError(
                f"counts must be non-negative and sum to k - 1 = {self.k - 1}; got {c.tolist()}."
            )
        return s_g, s_1, int(rank(c.astype(np.int64)))

    def greedy(self, s_g, s_1, counts) -> tuple[int, int]:
        """``(a_g, a_1)`` of the greedy policy at ``(s_g, s_1, counts of the k - 1 others)``."""
        i = self._index(s_g, s_1, counts)
        return int(self.pi_g[i]), int(self.pi_l[i])

    def value(self, s_g, s_1, counts) -> float:
        """``max Q`` at ``(s_g, s_1, counts of the k - 1 others)`` (the table ``V``)."""
        return float(self.V[self._index(s_g, s_1, counts)])

    def action_laws(self, rule=None) -> ActionLaws:
        """The :class:`~smfq_lib.learning.policy.ActionLaws` of this greedy policy under tie rule
        ``rule`` (``None``: ``DEFAULT_RULE``; the rules: :mod:`smfq_lib.learning.policy`).
        ``"first"`` is the one-hot ``pi_g``, ``pi_l``; the others are computed from ``Q`` on first
        use (:mod:`smfq_lib.learning.tie_rules`: Algorithm 2 from the mean-field ``Q``, Algorithm 1
        from its tabular ``Q``) and cached on this object (``Q`` is not to be mutated)."""
        rule = DEFAULT_RULE if rule is None else rule
        if rule not in RULES:
            raise ValueError(f"rule must be None (the default) or one of {RULES}; got {rule!r}.")
        if rule == "first":
            _, _, A_g, A_l = operator_class(self.algorithm).q_sizes(self.Q, self.k)
            return ActionLaws.one_hot(self.k, self.pi_g, self.pi_l, A_g, A_l)
        if rule not in self._laws:
            self._laws[rule] = action_laws(self.Q, self.k, self.algorithm, rule)
        return self._laws[rule]

    # storage ---------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write an ``.npz`` (arrays + JSON metadata; no pickle). Like ``np.savez``, appends
        ``.npz`` to a path without it; :meth:`load` finds the file by the same path."""
        meta = {
            "format": _FORMAT,
            "k": self.k,
            "m": self.m,
            "algorithm": self.algorithm,
            "reason": self.reason,
            "seconds": self.seconds,
            "seed": self.seed,
            "solver": self.solver,
            "sweeps": self.sweeps,
            "solves": self.solves,
            "solve_seconds": self.solve_seconds,
            "system_fingerprint": self.system_fingerprint,
            "oracle_calls": self.oracle_calls,
            "steps": self.steps,
            "samples": self.samples,
        }
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path, *, memory_budget=None) -> SubsampledQ:
        """Read a file written by :meth:`save` (``allow_pickle=False``), at ``path`` or, as
        :meth:`save` writes it, ``path + ".npz"``.

        The file is validated before a ``SubsampledQ`` is built: a missing file raises
        ``FileNotFoundError``; every kind of damage raises ``ValueError`` naming the file and
        the fix: not an npz archive, a missing or unreadable array, arrays whose declared size
        exceeds what the archive holds or, unpacked, ``memory_budget`` (bytes; None: half the
        available memory) -- checked from the archive's headers before anything is unpacked --,
        metadata that is not JSON (or nested too deeply), a wrong format tag, missing or
        mistyped fields, and tables whose shapes, dtypes (``float64`` and integers, either byte
        order; stored natively) or action codes disagree with ``k`` and ``algorithm``, or that
        hold NaN or infinite values. A file without a system fingerprint (saved before they
        existed) loads with a warning: nothing can check the system it is used on.
        """
        budget = check_budget(memory_budget)
        path = _existing_npz(path)
        meta, arrays = _read_npz(path, budget)
        _check_meta(path, meta)
        arrays = _check_tables(path, meta, arrays)
        del meta["format"]
        if meta.get("system_fingerprint") is None:
            warnings.warn(
                f"{path} records no system fingerprint (saved before fingerprints, or from a "
                "SubsampledQ made by hand): nothing checks that it is used on the system it "
                "was learned on. Learn it again, or set q.system_fingerprint = "
                "system.fingerprint and save it again.",
                UserWarning,
                stacklevel=2,
            )
        return cls(**meta, **arrays)

    def __repr__(self) -> str:
        return (
            f"SubsampledQ(k={self.k}, m={self.m}, algorithm={self.algorithm!r}, "
            f"Q.shape={self.Q.shape}, solver={self.solver!r}, sweeps={self.sweeps}, "
            f"solves={self.solves}, "
            + (f"steps={self.steps}, samples={self.samples}, " if self.solver == "online" else "")
            + f"seconds={self.seconds:.3g})"
        )


# -- validation of a stored file (SubsampledQ.load) --------------------------------------------
_META = {"format", "k", "m", "algorithm", "reason", "seconds", "seed"}
#: Written since the solver choice; optional so that older files still load (with the defaults).
_META_SOLVER = {
    "solver",
    "sweeps",
    "solves",
    "solve_seconds",
    "system_fingerprint",
    "oracle_calls",
    "steps",
    "samples",
}
_RUN_SOLVERS = ("value_iteration", "policy_iteration", "online")


def _is_fingerprint(x) -> bool:
    return x is None or (isinstance(x, str) and re.fullmatch(r"[0-9a-f]{16}", x) is not None)


def _is_calls(x, is_int) -> bool:
    return x is None or (
        isinstance(x, dict)
        and set(x) == {"global", "local"}
        and all(is_int(v, 0) for v in x.values())
    )


def _bad(path, what: str) -> ValueError:
    return ValueError(
        f"{path} is not a valid SubsampledQ file: {what}. Write it with SubsampledQ.save "
        "(or learn again)."
    )


def _existing_npz(path) -> str:
    """``path``, or ``path + ".npz"`` when only that exists (``np.savez`` appends it)."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    if not path.endswith(".npz") and os.path.isfile(path + ".npz"):
        return path + ".npz"
    tried = path if path.endswith(".npz") else f"{path} nor {path}.npz"
    raise FileNotFoundError(f"no SubsampledQ file: neither {tried} exists.")


def _member_bytes(path, f, name: str) -> int:
    """Bytes array ``name`` of the open npz ``f`` unpacks to, from its ``.npy`` header (read
    without unpacking the data); ``ValueError`` if it declares more than its member holds."""
    info = f.zip.getinfo(f"{name}.npy")
    try:
        with f.zip.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0
            if version != (1, 0):
                read = np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise _bad(path, f"array {name!r} is unreadable ({type(exc).__name__}: {exc})") from None
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > info.file_size:
        raise _bad(
            path,
            f"array {name!r} declares shape {shape} of {dtype} ({format_count(nbytes)} bytes) "
            f"but its member holds {info.file_size} bytes",
        )
    return info.file_size


def _read_npz(path, budget=None):
    """The metadata dict and the arrays of an npz file (``ValueError`` on any damage, and when
    the arrays unpacked would exceed ``budget`` bytes: checked before unpacking)."""
    try:
        f = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _bad(path, f"not an npz archive ({type(exc).__name__}: {exc})") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise _bad(path, "it holds a single .npy array, not an npz archive")
    with f:
        arrays = {}
        for name in ("meta",) + _ARRAYS:
            if name not in f.files:
                raise _bad(path, f"array {name!r} is missing (it has {sorted(f.files)})")
        unpacked = sum(_member_bytes(path, f, name) for name in ("meta",) + _ARRAYS)
        check_fits(
            f"{path} unpacked", unpacked, budget, hint="Pass memory_budget= (bytes) to raise it."
        )
        for name in ("meta",) + _ARRAYS:
            try:
                arrays[name] = f[name]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                what = f"array {name!r} is unreadable ({type(exc).__name__}: {exc})"
                raise _bad(path, what) from None
    raw = arrays.pop("meta")
    if raw.shape != () or raw.dtype.kind != "U":
        raise _bad(path, f"'meta' must be one JSON string; got {raw.dtype} of shape {raw.shape}")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise _bad(path, f"'meta' is not valid JSON ({exc})") from None
    except RecursionError:
        raise _bad(path, "'meta' is nested too deeply to be the metadata of save") from None
    if not isinstance(meta, dict):
        raise _bad(path, f"'meta' must be a JSON object; got {type(meta).__name__}")
    return meta, arrays


def _check_meta(path, meta) -> None:
    """The metadata fields: the format tag, then each field's type and range."""
    if meta.get("format") != _FORMAT:
        raise _bad(path, f"format tag {meta.get('format')!r}, expected {_FORMAT!r}")
    if set(meta) - _META_SOLVER != _META:
        missing, extra = sorted(_META - set(meta)), sorted(set(meta) - _META - _META_SOLVER)
        raise _bad(path, f"metadata fields missing {missing}, unexpected {extra}")

    def is_int(x, lo, hi=2**63 - 1):
        return isinstance(x, int) and not isinstance(x, bool) and lo <= x <= hi

    checks = (
        ("k", is_int(meta["k"], 1), "an int >= 1"),
        ("m", meta["m"] is None or is_int(meta["m"], 1), "null or an int >= 1"),
        ("algorithm", meta["algorithm"] in ("tabular", "mean_field"), "tabular or mean_field"),
        ("reason", isinstance(meta["reason"], str), "a string"),
        ("seed", is_int(meta["seed"], 0), "an int in [0, 2**63)"),
    )
    solver = (
        ("solver", meta.get("solver", "value_iteration") in _RUN_SOLVERS, str(_RUN_SOLVERS)),
        ("sweeps", is_int(meta.get("sweeps", 0), 0), "an int >= 0"),
        ("solves", is_int(meta.get("solves", 0), 0), "an int >= 0"),
        ("system_fingerprint", _is_fingerprint(meta.get("system_fingerprint")), "16 hex digits"),
        ("oracle_calls", _is_calls(meta.get("oracle_calls"), is_int), "null or global/local ints"),
        ("steps", is_int(meta.get("steps", 0), 0), "an int >= 0"),
        ("samples", is_int(meta.get("samples", 0), 0), "an int >= 0"),
    )
    for name, ok, want in checks + solver:
        if not ok:
            raise _bad(path, f"metadata {name} = {meta[name]!r}, expected {want}")
    for name in ("seconds", "solve_seconds"):
        seconds = meta.get(name, 0.0)
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not (number and math.isfinite(seconds) and seconds >= 0):
            raise _bad(path, f"metadata {name} = {seconds!r}, expected a finite number >= 0")


def _check_tables(path, meta, arrays) -> dict:
    """The tables, checked against ``k`` and ``algorithm`` (dtypes, shapes, finite values,
    action codes in range) and returned in native ``float64`` / ``int64``, what the kernels
    take."""
    k, algorithm = meta["k"], meta["algorithm"]
    arrays = dict(arrays)
    for name in ("Q", "V", "residuals"):
        dtype = arrays[name].dtype
        if dtype.kind != "f" or dtype.itemsize != 8:
            raise _bad(path, f"{name} has dtype {dtype}, expected float64")
        arrays[name] = arrays[name].astype(np.float64)  # native byte order, exact
        bad = int(np.count_nonzero(~np.isfinite(arrays[name])))
        if bad:
            raise _bad(path, f"{name} holds {bad} NaN or infinite values")
    for name in ("pi_g", "pi_l"):
        if arrays[name].dtype.kind not in "iu":
            raise _bad(path, f"{name} has dtype {arrays[name].dtype}, expected integer")
    V, Q = arrays["V"], arrays["Q"]
    if V.ndim != 3 or arrays["residuals"].ndim != 1:
        raise _bad(
            path, f"V must be 3-d and residuals 1-d; got {V.shape}, {arrays['residuals'].shape}"
        )
    S_g, S_l, Cs = V.shape
    expect_Cs = n_compositions(k - 1, S_l)
    if Cs != expect_Cs or arrays["pi_g"].shape != V.shape or arrays["pi_l"].shape != V.shape:
        raise _bad(
            path,
            f"V, pi_g, pi_l must have shape (S_g, S_l, C(k-1, S_l)) = ({S_g}, {S_l}, "
            f"{format_count(expect_Cs)}) for k = {k}; got {V.shape}, {arrays['pi_g'].shape}, "
            f"{arrays['pi_l'].shape}",
        )
    op = operator_class(algorithm)
    ndim = len(op.q_shape(S_g, S_l, 1, 1, k))
    A_g, A_l = op.q_sizes(Q, k)[2:] if Q.ndim == ndim else (0, 0)
    expect, layout = op.q_shape(S_g, S_l, A_l, A_g, k), op.LAYOUT
    if Q.shape != expect or A_l < 1 or A_g < 1:
        raise _bad(path, f"Q of shape {Q.shape} does not match {algorithm} with k = {k}: {layout}")
    for name, A in (("pi_g", A_g), ("pi_l", A_l)):
        table = arrays[name]
        if table.size and (table.min() < 0 or table.max() >= A):
            raise _bad(path, f"{name} holds action codes outside [0, {A})")
        arrays[name] = table.astype(np.int64)
    return arrays
