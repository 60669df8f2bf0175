"""Random test systems and heterogeneous agents (Remark 0.6), for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from smfq_lib._utils.checks import check_gamma
from smfq_lib.model.examples._checks import int_arg
from smfq_lib.model.system import ROW_TOL, Aggregate, CooperativeSystem

__all__ = ["random_system", "with_types"]


def random_system(
    S_g: int, S_l: int, A_g: int, A_l: int, gamma: float = 0.9, seed: int = 0
) -> CooperativeSystem:
    """A random system for tests and benchmarks, determined by ``seed``.

    Every transition row is a Dirichlet(1, ..., 1) draw (uniform on the simplex) and every reward
    entry is uniform in [0, 1], all from ``numpy.random.default_rng(seed)`` in the order ``P_g``,
    ``P_l``, ``r_g``, ``r_l``. No aggregate term. Sizes are the arguments; ``Z_l = S_l * A_l``.

    ``S_g``, ``S_l``, ``A_g``, ``A_l``: the state and action counts of the global and local

    agents; ``gamma``: the discount factor; ``seed``: the generator's seed.
    """
    S_g = int_arg("S_g", S_g, 1)
    S_l = int_arg("S_l", S_l, 1)
    A_g = int_arg("A_g", A_g, 1)
    A_l = int_arg("A_l", A_l, 1)
    gamma = check_gamma(gamma)
    seed = int_arg("seed", seed, 0, "Pass a non-negative integer seed.")
    rng = np.random.default_rng(seed)
    P_g = rng.dirichlet(np.ones(S_g), size=(S_g, A_g))
    P_l = rng.dirichlet(np.ones(S_l), size=(S_l, S_g, A_l))
    r_g = rng.uniform(0.0, 1.0, size=(S_g, A_g))
    r_l = rng.uniform(0.0, 1.0, size=(S_l, S_g, A_l))
    return CooperativeSystem(P_g, P_l, r_g, r_l, gamma)


def with_types(
    systems: Sequence[CooperativeSystem], *, type_names: Sequence[str] | None = None
) -> CooperativeSystem:
    """Heterogeneous local agents (Remark 0.6): fold a type set ``E`` into the local state.

    ``systems[e]`` describes the agents of type ``e`` (local space ``S_l'``). They must share
    ``S_g``, ``A_g``, ``A_l``, ``S_l'``, ``gamma``, ``P_g`` and ``r_g`` (to ``ROW_TOL``); the
    result has ``S_l = |E| * S_l'`` with state code ``type * S_l' + s``, and:

    * ``P_l`` block-diagonal: agents never change type
      (``P_l[e S_l' + s, s_g, a, e S_l' + s'] = P_l^e[s, s_g, a, s']``, zero across types);
    * ``r_l[e S_l' + s] = r_l^e[s]`` (the type's own local reward), ``r_g`` the shared one; the
      ``(1/n) sum_i`` of eq. (3) then weighs each type's reward by its population share;
    * an aggregate term only if every system has one with the same ``rho`` (equal, e.g. the same
      Gaussian squeeze parameters); ``phi`` is stacked by type. Otherwise ValueError.

    Remark 0.6's per-type global signals are expressed by the caller: build the per-type systems
    on a common product ``S_g`` / ``A_g`` whose components address the types.

    Counts. A population with ``counts_e`` (length ``S_l'``) agents of type ``e`` in each state
    is the count vector ``np.concatenate([counts_0, counts_1, ...])`` (length ``|E| S_l'``,
    type-major).
    Types are fixed, so the per-type totals stay constant along a trajectory; a sample of ``k``
    agents sees a hypergeometric mix of the types.

    Sizes: ``S_l = |E| S_l'``, ``Z_l = |E| S_l' A_l``; ``S_g``, ``A_g``, ``A_l`` as the inputs.

    ``type_names``: optional names of the types, used in the state labels (default

    ``"type 0"``, ``"type 1"``, ...).
    """
    if isinstance(systems, CooperativeSystem) or not isinstance(systems, Sequence):
        raise ValueError(
            "systems must be a list of CooperativeSystem, one per type; got "
            f"{type(systems).__name__}."
        )
    systems = list(systems)
    if not systems:
        raise ValueError("systems is empty; pass one CooperativeSystem per agent type.")
    for e, sys_e in enumerate(systems):
        if not isinstance(sys_e, CooperativeSystem):
            raise ValueError(
                f"systems[{e}] must be a CooperativeSystem; got {type(sys_e).__name__}."
            )
    E = len(systems)
    if type_names is None:
        type_names = [f"type{e}" for e in range(E)]
    else:
        type_names = [str(x) for x in type_names]
        if len(type_names) != E:
            raise ValueError(
                f"type_names has {len(type_names)} names for {E} systems; give one per type."
            )
    first = systems[0]
    for e, sys_e in enumerate(systems[1:], start=1):
        for attr in ("S_g", "A_g", "A_l", "S_l", "gamma"):
            if getattr(sys_e, attr) != getattr(first, attr):
                raise ValueError(
                    f"systems[{e}].{attr} = {getattr(sys_e, attr)} but systems[0].{attr} = "
                    f"{getattr(first, attr)}; all types must share S_g, A_g, A_l, S_l' and gamma."
                )
        for attr in ("P_g", "r_g"):
            if not np.allclose(getattr(sys_e, attr), getattr(first, attr), rtol=0, atol=ROW_TOL):
                raise ValueError(
                    f"systems[{e}].{attr} differs from systems[0].{attr}; the global agent is "
                    f"shared by all types, so every type must use the same {attr}."
                )

    S, S_g, A_l = first.S_l, first.S_g, first.A_l
    P_l = np.zeros((E * S, S_g, A_l, E * S))
    r_l = np.zeros((E * S, S_g, A_l))
    for e, sys_e in enumerate(systems):
        block = slice(e * S, (e + 1) * S)
        P_l[block, :, :, block] = sys_e.P_l
        r_l[block] = sys_e.r_l

    aggs = [sys_e.aggregate for sys_e in systems]
    aggregate = None
    if any(a is not None for a in aggs):
        if any(a is None for a in aggs) or any(a.rho != aggs[0].rho for a in aggs[1:]):
            raise ValueError(
                "systems mix aggregate terms: either none has one, or all have one with the "
                "same rho (e.g. gaussian_squeeze with the same mu and sigma)."
            )
        aggregate = Aggregate(
            phi=np.concatenate([a.phi for a in aggs], axis=0),
            rho=aggs[0].rho,
            bound=max(a.bound for a in aggs),
            name=aggs[0].name,
        )

    base = first.labels or {}
    labels = {key: base[key] for key in ("S_g", "A_g", "A_l") if key in base}
    local = base.get("S_l", [str(s) for s in range(S)])
    labels["S_l"] = [f"{type_names[e]}:{local[s]}" for e in range(E) for s in range(S)]
    return CooperativeSystem(
        P_g=first.P_g,
        P_l=P_l,
        r_g=first.r_g,
        r_l=r_l,
        gamma=first.gamma,
        labels=labels,
        aggregate=aggregate,
    )
