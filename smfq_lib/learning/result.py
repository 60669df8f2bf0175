"""``SubsampledQ``: the learned table of Algorithm 1 or 2, its greedy tables, and .npz storage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from smfq_lib.combinatorics import rank
from smfq_lib.learning.tie_rules import action_laws, q_sizes
from smfq_lib.policy import DEFAULT_RULE, RULES, ActionLaws

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
        sampled tabular ``Q`` is not exactly permutation invariant (DESIGN §9).
    residuals : ``||Q^{t+1} - Q^t||_inf`` of every iteration.
    seconds : wall time of learning (set-up included). seed : RNG seed of the samples.

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
        """The :class:`~smfq_lib.policy.ActionLaws` of this greedy policy under tie rule ``rule``
        (``None``: ``DEFAULT_RULE``; the rules: :mod:`smfq_lib.policy`). ``"first"`` is the
        one-hot ``pi_g``, ``pi_l``; the others are computed from ``Q`` on first use
        (:mod:`smfq_lib.learning.tie_rules`: Algorithm 2 from the mean-field ``Q``, Algorithm 1
        from its tabular ``Q``) and cached on this object (``Q`` is not to be mutated)."""
        rule = DEFAULT_RULE if rule is None else rule
        if rule not in RULES:
            raise ValueError(f"rule must be None (the default) or one of {RULES}; got {rule!r}.")
        if rule == "first":
            _, _, A_g, A_l = q_sizes(self.Q, self.k, self.algorithm)
            return ActionLaws.one_hot(self.k, self.pi_g, self.pi_l, A_g, A_l)
        if rule not in self._laws:
            self._laws[rule] = action_laws(self.Q, self.k, self.algorithm, rule)
        return self._laws[rule]

    # storage ---------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write an ``.npz`` (arrays + JSON metadata; no pickle)."""
        meta = {
            "format": _FORMAT,
            "k": self.k,
            "m": self.m,
            "algorithm": self.algorithm,
            "reason": self.reason,
            "seconds": self.seconds,
            "seed": self.seed,
        }
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path) -> SubsampledQ:
        """Read a file written by :meth:`save` (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"{path} is not a SubsampledQ file (format {meta.get('format')}).")
            arrays = {name: f[name] for name in _ARRAYS}
        meta.pop("format")
        return cls(**meta, **arrays)

    def __repr__(self) -> str:
        return (
            f"SubsampledQ(k={self.k}, m={self.m}, algorithm={self.algorithm!r}, "
            f"Q.shape={self.Q.shape}, iterations={len(self.residuals)}, "
            f"seconds={self.seconds:.3g})"
        )
