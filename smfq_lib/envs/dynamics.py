"""What an environment steps: a :class:`~smfq_lib.CooperativeSystem` or a generative oracle, read
through one duck-typed protocol, with its stage reward (eq. 3) and checked sampler outputs.

The protocol (the generative oracle's, ``smfq_lib.GenerativeOracle``): integer sizes ``S_g``,
``S_l``, ``A_g``, ``A_l``; ``gamma`` in (0, 1); reward arrays ``r_g`` of shape ``(S_g, A_g)`` and
``r_l`` of shape ``(S_l, S_g, A_l)`` (eq. 3); and two samplers on equal-length integer arrays,
``rng`` a :class:`numpy.random.Generator`:

* ``sample_global(s_g, a_g, rng)``: next global states, ``s_g' ~ P_g(. | s_g, a_g)`` (eq. 1);
* ``sample_local(s_i, s_g, a_i, rng)``: next local states, ``s_i' ~ P_l(. | s_i, s_g, a_i)``
  (eq. 2), independently per entry.

A ``CooperativeSystem`` is viewed through the same protocol by :func:`_system_as_oracle`
(inverse CDF on its rows of ``P_g``, ``P_l``), and keeps its own stage reward: eq. (3) with its
aggregate term (:meth:`~smfq_lib.CooperativeSystem.stage_reward`) and, if it has one, its reward
noise (Theorem 0.13: ``w_g xi + (1/n) sum_i w_l xi_i``, signs ``xi = +-1`` with probability 1/2).
An oracle's stage reward is ``r_g[s_g, a_g] + (1/n) sum_i r_l[s_i, s_g, a_i]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from smfq_lib._utils.checks import check_gamma, check_int, real_array
from smfq_lib.model.system import CooperativeSystem

__all__ = ["PROTOCOL", "Dynamics", "as_dynamics"]

#: The attributes a generative oracle must have (module docstring).
PROTOCOL = ("S_g", "S_l", "A_g", "A_l", "gamma", "r_g", "r_l", "sample_global", "sample_local")


# MERGE: replace by the oracle module's view of a CooperativeSystem (smfq_lib/model/oracle.py,
# ``smfq_lib.GenerativeOracle``) when both branches are merged; nothing else here changes.
def _system_as_oracle(system: CooperativeSystem):
    """``system`` as a generative oracle: its samplers draw by inverse CDF on the rows of
    ``P_g`` (eq. 1) and ``P_l`` (eq. 2), one ``rng.random`` number per entry."""
    cdf_g = np.cumsum(system.P_g, axis=-1)
    cdf_g /= cdf_g[..., -1:]
    cdf_l = np.cumsum(system.P_l, axis=-1)
    cdf_l /= cdf_l[..., -1:]

    def sample_global(s_g, a_g, rng):
        u = rng.random(len(s_g))
        return (cdf_g[s_g, a_g] <= u[:, None]).sum(axis=1)

    def sample_local(s_i, s_g, a_i, rng):
        u = rng.random(len(s_i))
        return (cdf_l[s_i, s_g, a_i] <= u[:, None]).sum(axis=1)

    return sample_global, sample_local


@dataclass(frozen=True, eq=False)
class Dynamics:
    """A checked system or oracle (:func:`as_dynamics`): sizes, ``gamma``, ``r_g``, ``r_l``, the
    two samplers, and ``system`` (the :class:`~smfq_lib.CooperativeSystem`, or ``None`` for an
    oracle: its stage reward, aggregate term and noise included, and its fingerprint)."""

    S_g: int
    S_l: int
    A_g: int
    A_l: int
    gamma: float
    r_g: np.ndarray
    r_l: np.ndarray
    sample_global: Callable
    sample_local: Callable
    system: CooperativeSystem | None

    def reward(self, s_g: int, a_g: int, s: np.ndarray, a: np.ndarray, rng) -> float:
        """The realised stage reward of eq. (3) on the ``n = len(s)`` local agents (module
        docstring); draws ``n + 1`` uniforms from ``rng`` when the system has reward noise."""
        system = self.system
        if system is None:
            return float(self.r_g[s_g, a_g] + self.r_l[s, s_g, a].mean())
        out = system.stage_reward(s_g, a_g, s, a)
        if system.reward_noise is not None:
            xi = np.where(rng.random(len(s) + 1) < 0.5, 1.0, -1.0)
            w = system.reward_noise
            out += float(w.w_g[s_g, a_g] * xi[0] + (w.w_l[s, s_g, a] * xi[1:]).mean())
        return out

    def step(self, s_g: int, a_g: int, s: np.ndarray, a: np.ndarray, rng):
        """``(s_g', s')``: one call of each sampler (eq. 1, 2), outputs checked."""
        nxt_g = self.sample_global(np.array([s_g]), np.array([a_g]), rng)
        nxt_g = _checked("sample_global", nxt_g, 1, self.S_g)
        nxt = self.sample_local(s, np.full(len(s), s_g), a, rng)
        return int(nxt_g[0]), _checked("sample_local", nxt, len(s), self.S_l)


def _checked(name: str, out, count: int, size: int) -> np.ndarray:
    """A sampler's output as an int64 vector of ``count`` codes in ``[0, size)``, else
    ``ValueError`` naming the sampler and what it returned."""
    arr = np.asarray(out)
    ok = arr.shape == (count,) and arr.dtype.kind in "iu"
    if ok and count:
        ok = int(arr.min()) >= 0 and int(arr.max()) < size
    if not ok:
        shown = np.array2string(arr.ravel()[:8], threshold=8) if arr.size else "[]"
        raise ValueError(
            f"{name} returned {shown} (dtype {arr.dtype}, shape {arr.shape}) for {count} "
            f"entries; it must return an integer array of shape ({count},) with states in "
            f"[0, {size}) (the module docstring of smfq_lib.envs.dynamics states the protocol)."
        )
    return arr.astype(np.int64, copy=False)


def as_dynamics(source) -> Dynamics:
    """``source`` (a :class:`~smfq_lib.CooperativeSystem` or an object with the attributes of
    :data:`PROTOCOL`) as checked :class:`Dynamics`; ``ValueError`` naming what is missing or
    wrong otherwise."""
    if isinstance(source, CooperativeSystem):
        sample_global, sample_local = _system_as_oracle(source)
        sizes = (source.S_g, source.S_l, source.A_g, source.A_l)
        return Dynamics(
            *sizes, source.gamma, source.r_g, source.r_l, sample_global, sample_local, source
        )
    missing = [name for name in PROTOCOL if not hasattr(source, name)]
    if missing:
        raise ValueError(
            f"system_or_oracle must be an smfq_lib.CooperativeSystem or a generative oracle with "
            f"attributes {', '.join(PROTOCOL)}; got a {type(source).__name__!r}, which lacks "
            f"{', '.join(missing)}."
        )
    S_g, S_l, A_g, A_l = (check_int(f"oracle.{x}", getattr(source, x), 1) for x in PROTOCOL[:4])
    gamma = check_gamma(source.gamma)
    r_g = real_array("oracle.r_g", source.r_g, 2)
    r_l = real_array("oracle.r_l", source.r_l, 3)
    for name, arr, shape in (("r_g", r_g, (S_g, A_g)), ("r_l", r_l, (S_l, S_g, A_l))):
        if arr.shape != shape:
            raise ValueError(
                f"oracle.{name} must have shape {shape} from the oracle's sizes (S_g, S_l, A_g, "
                f"A_l) = {(S_g, S_l, A_g, A_l)}; got {arr.shape}."
            )
    for name in PROTOCOL[-2:]:
        if not callable(getattr(source, name)):
            raise ValueError(f"oracle.{name} must be callable (module docstring's protocol).")
    return Dynamics(
        S_g, S_l, A_g, A_l, gamma, r_g, r_l, source.sample_global, source.sample_local, None
    )
