"""What an environment steps: a :class:`~smfq_lib.CooperativeSystem` or a generative oracle, read
through one duck-typed protocol, with its stage reward (eq. 3) and checked sampler outputs.

The protocol (the generative oracle's, ``smfq_lib.GenerativeOracle``): integer sizes ``S_g``,
``S_l``, ``A_g``, ``A_l``; ``gamma`` in (0, 1); reward arrays ``r_g`` of shape ``(S_g, A_g)`` and
``r_l`` of shape ``(S_l, S_g, A_l)`` (eq. 3); and two samplers on equal-length integer arrays,
``rng`` a :class:`numpy.random.Generator`:

* ``sample_global(s_g, a_g, rng)``: next global states, ``s_g' ~ P_g(. | s_g, a_g)`` (eq. 1);
* ``sample_local(s_i, s_g, a_i, rng)``: next local states, ``s_i' ~ P_l(. | s_i, s_g, a_i)``
  (eq. 2), independently per entry.

A sampler may take uniforms instead of a Generator (a ``GenerativeOracle`` with ``uniforms=True``):
the environment then passes ``rng.random(len)``. A ``CooperativeSystem`` is viewed through the same
protocol by :func:`smfq_lib.model.oracle.inverse_cdf_samplers` (inverse CDF on its rows of ``P_g``,
``P_l``, in uniforms mode), and keeps its own stage reward: eq. (3) with its aggregate term
(:meth:`~smfq_lib.CooperativeSystem.stage_reward`) and, if it has one, its reward noise (Theorem
0.13: ``w_g xi + (1/n) sum_i w_l xi_i``, signs ``xi = +-1`` with probability 1/2). An oracle's stage
reward is ``r_g[s_g, a_g] + (1/n) sum_i r_l[s_i, s_g, a_i]``, plus the same noise if it has a
``reward_noise``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from smfq_lib._utils.checks import check_gamma, check_int, real_array
from smfq_lib.model.oracle import check_draws, inverse_cdf_samplers
from smfq_lib.model.system import CooperativeSystem

__all__ = ["PROTOCOL", "Dynamics", "as_dynamics"]

#: The attributes a generative oracle must have (module docstring).
PROTOCOL = ("S_g", "S_l", "A_g", "A_l", "gamma", "r_g", "r_l", "sample_global", "sample_local")


@dataclass(frozen=True, eq=False)
class Dynamics:
    """A checked system or oracle (:func:`as_dynamics`): sizes, ``gamma``, ``r_g``, ``r_l``, the
    two samplers (``uniforms``: they take uniforms, not a Generator), the reward noise (or
    ``None``), the ``fingerprint`` a policy must match (``None``: sizes only), and ``system``
    (the :class:`~smfq_lib.CooperativeSystem`, or ``None`` for an oracle: its stage reward,
    aggregate term included)."""

    S_g: int
    S_l: int
    A_g: int
    A_l: int
    gamma: float
    r_g: np.ndarray
    r_l: np.ndarray
    sample_global: Callable
    sample_local: Callable
    uniforms: bool
    reward_noise: object
    fingerprint: str | None
    system: CooperativeSystem | None

    def reward(self, s_g: int, a_g: int, s: np.ndarray, a: np.ndarray, rng) -> float:
        """The realised stage reward of eq. (3) on the ``n = len(s)`` local agents (module
        docstring); draws ``n + 1`` uniforms from ``rng`` when the system has reward noise."""
        system = self.system
        if system is None:
            out = float(self.r_g[s_g, a_g] + self.r_l[s, s_g, a].mean())
        else:
            out = system.stage_reward(s_g, a_g, s, a)
        if self.reward_noise is not None:
            xi = np.where(rng.random(len(s) + 1) < 0.5, 1.0, -1.0)
            w = self.reward_noise
            out += float(w.w_g[s_g, a_g] * xi[0] + (w.w_l[s, s_g, a] * xi[1:]).mean())
        return out

    def step(self, s_g: int, a_g: int, s: np.ndarray, a: np.ndarray, rng):
        """``(s_g', s')``: one call of each sampler (eq. 1, 2), outputs checked."""
        draw = (lambda size: rng.random(size)) if self.uniforms else (lambda size: rng)
        nxt_g = self.sample_global(np.array([s_g]), np.array([a_g]), draw(1))
        nxt_g = check_draws("sample_global", nxt_g, 1, self.S_g)
        nxt = self.sample_local(s, np.full(len(s), s_g), a, draw(len(s)))
        return int(nxt_g[0]), check_draws("sample_local", nxt, len(s), self.S_l)


def as_dynamics(source) -> Dynamics:
    """``source`` (a :class:`~smfq_lib.CooperativeSystem` or an object with the attributes of
    :data:`PROTOCOL`) as checked :class:`Dynamics`; ``ValueError`` naming what is missing or
    wrong otherwise."""
    if isinstance(source, CooperativeSystem):
        samplers = inverse_cdf_samplers(source.P_g, source.P_l)
        sizes = (source.S_g, source.S_l, source.A_g, source.A_l)
        noise, fingerprint = source.reward_noise, source.fingerprint
        return Dynamics(
            *sizes,
            source.gamma,
            source.r_g,
            source.r_l,
            *samplers,
            True,
            noise,
            fingerprint,
            source,
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
    uniforms = getattr(source, "uniforms", False)
    if not isinstance(uniforms, bool):
        raise ValueError(f"oracle.uniforms must be True or False when present; got {uniforms!r}.")
    noise = getattr(source, "reward_noise", None)
    fingerprint = getattr(source, "fingerprint", None)  # a GenerativeOracle's: its policies pass
    samplers = (source.sample_global, source.sample_local)
    return Dynamics(
        S_g, S_l, A_g, A_l, gamma, r_g, r_l, *samplers, uniforms, noise, fingerprint, None
    )
