"""The paper's two examples as :class:`~smfq_lib.system.CooperativeSystem` s, plus test systems.

* :func:`gaussian_squeeze` -- Example 0.1 (traffic controllers sending loads onto a main road).
* :func:`constrained_exploration` -- Example 0.2 (a global agent confines local agents to a
  ``d x d`` box of an ``M x M`` warehouse grid so that they clean a hazard zone).
* :func:`random_system` -- Dirichlet transitions and uniform rewards, for tests and benchmarks.
* :func:`with_types` -- heterogeneous agents by folding a type set into ``S_l`` (Remark 0.6).

The paper states the examples in one paragraph each and leaves the experiment details to its
supplementary section J, which we do not have. Every modelling choice made here to turn them into
finite ``(P_g, P_l, r_g, r_l)`` arrays is listed in the docstring of the function that makes it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from smfq_lib.checks import check_gamma
from smfq_lib.system import ROW_TOL, Aggregate, CooperativeSystem

__all__ = [
    "ACTIONS",
    "box_cells",
    "constrained_exploration",
    "gaussian_squeeze",
    "hazard_cells",
    "random_system",
    "with_types",
]

#: Action names of :func:`constrained_exploration` (local and global), with their (drow, dcol).
ACTIONS = ("stay", "up", "down", "left", "right")
_MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


# argument checks ---------------------------------------------------------------------------
def _int_arg(name: str, value, minimum: int, fix: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}. {fix}".rstrip())
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}. {fix}".rstrip())
    return int(value)


def _float_arg(
    name: str,
    value,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    open_lo: bool = False,
    open_hi: bool = False,
    fix: str = "",
) -> float:
    lo_s = ("(" if open_lo else "[") + f"{lo}, {hi}" + (")" if open_hi else "]")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number in {lo_s}; got {value!r}. {fix}".rstrip())
    v = float(value)
    ok = math.isfinite(v) and (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)
    if not ok:
        raise ValueError(f"{name} must be a finite number in {lo_s}; got {value!r}. {fix}".rstrip())
    return v


# Example 0.1 -------------------------------------------------------------------------------
@dataclass(frozen=True)
class GaussianSqueezeRho:
    """``rho(s_g, a_g, xbar) = xbar * exp(-(xbar - mu)^2 / sigma^2)``, vectorized over ``xbar``.

    A module-level class (not a closure) so that systems pickle with the standard library, e.g.
    when a sweep ships them to Dask workers; equal parameters compare equal (used by
    :func:`with_types`).
    """

    mu: float
    sigma: float

    def __call__(self, s_g, a_g, xbar):
        xbar = np.asarray(xbar, dtype=np.float64)
        return xbar * np.exp(-(((xbar - self.mu) / self.sigma) ** 2))

    @property
    def argmax(self) -> float:
        """Maximiser over ``xbar >= 0``: ``(mu + sqrt(mu^2 + 2 sigma^2)) / 2`` (> ``mu``)."""
        return 0.5 * (self.mu + math.sqrt(self.mu**2 + 2.0 * self.sigma**2))


def gaussian_squeeze(
    loads: int = 10,
    mu: float = 4.0,
    sigma: float = 2.0,
    gamma: float = 0.9,
    p_hold: float = 0.0,
) -> CooperativeSystem:
    """Example 0.1 (Gaussian squeeze): ``n`` traffic controllers choose how many vehicles to send.

    Sizes at the default arguments: S_g=1, S_l=10, A_g=1, A_l=10, Z_l=100
    (in general ``S_l = A_l = loads``, ``Z_l = loads^2``).

    Modelling choices:

    * **Local actions.** ``a_i in {0, ..., loads-1}``, the load agent ``i`` sends next (the paper's
      ``a_i in {0, ..., 9}``: ``loads=10``).
    * **Local state.** The load the agent currently sends. The paper's example is a static game
      with no state; we give each agent its last load as state so that a sample of ``k`` agents
      tells the others what the population is doing (this is what SUBSAMPLE-MFQ's policy reads).
      Transition: ``s_i' = a_i`` with probability ``1 - p_hold``, and ``s_i' = s_i`` (the
      controller's command failed, the load stays) with probability ``p_hold``.
      Default ``p_hold = 0``: the example stays faithful (the load sent is the load chosen) and the
      dynamics are deterministic, so the empirical operator of eq. (8)-(9) equals the exact one for
      every ``m``; pass ``p_hold > 0`` for stochastic dynamics (non-zero Bellman noise).
    * **Reward.** Only the aggregate term, through :class:`~smfq_lib.system.Aggregate`:
      ``phi[s, a] = a`` (the load sent) and ``rho(s_g, a_g, xbar) = xbar exp(-(xbar-mu)^2/sigma^2)``
      of the mean load ``xbar = (1/n) sum_i a_i``. ``mu`` and ``sigma`` are PER AGENT (a mean
      load), so instances with different ``n`` are comparable. The paper's objective of the total
      load ``x = n xbar`` is ``r(x) = x exp(-(x - mu_p)^2 / sigma_p^2)``; with ``mu_p = n mu`` and
      ``sigma_p = n sigma`` it equals ``n * rho(xbar)``: our reward is the paper's divided by ``n``.
      ``rho`` is maximised at ``xbar* = (mu + sqrt(mu^2 + 2 sigma^2)) / 2``, slightly above ``mu``
      (the Gaussian factor alone peaks at ``mu``). Defaults ``mu = 4, sigma = 2``: mean-field
      Q-learning's Gaussian squeeze (Yang et al. 2018) uses ``mu_p = 400, sigma_p = 200``, which is
      this at ``n = 100``. ``Aggregate.bound`` is ``max rho`` over ``xbar in [0, loads-1]``.
    * **Decomposed part.** ``r_g = r_l = 0``, so ``r_tilde = 0``. Theorem 0.11's assumptions
      (Assumption 0.4, decomposition (3)) cover the decomposed part only; the aggregate reward is
      outside them, and ``r_tilde`` says nothing about it (see DESIGN §9 on ``k = n``).
    * **Global agent.** Trivial: ``S_g = A_g = 1`` (``P_g = [[[1]]]``). Example 0.1 has no global
      agent; a one-state, one-action global agent keeps the example faithful within the model.

    Table sizes grow fast with ``loads`` (``Z_l = loads^2``); small ``loads`` (3-4) suit quick runs.
    """
    loads = _int_arg("loads", loads, 2, "A single load level leaves nothing to decide.")
    mu = _float_arg(
        "mu", mu, 0.0, loads - 1.0, fix="mu is the target mean load PER AGENT (not n times it)."
    )
    sigma = _float_arg("sigma", sigma, 0.0, open_lo=True)
    gamma = check_gamma(gamma)
    p_hold = _float_arg("p_hold", p_hold, 0.0, 1.0, open_hi=True)

    L = loads
    P_l = np.zeros((L, 1, L, L))
    for s in range(L):
        for a in range(L):
            P_l[s, 0, a, a] += 1.0 - p_hold
            P_l[s, 0, a, s] += p_hold
    phi = np.tile(np.arange(L, dtype=np.float64), (L, 1))  # phi[s, a] = a
    rho = GaussianSqueezeRho(mu, sigma)
    bound = float(rho(0, 0, min(rho.argmax, L - 1.0)))
    aggregate = Aggregate(
        phi, rho, bound=bound, name=f"gaussian_squeeze(mu={mu:g}, sigma={sigma:g})"
    )
    return CooperativeSystem(
        P_g=np.ones((1, 1, 1)),
        P_l=P_l,
        r_g=np.zeros((1, 1)),
        r_l=np.zeros((L, 1, L)),
        gamma=gamma,
        labels={
            "S_g": ["none"],
            "A_g": ["none"],
            "S_l": [f"sent {v}" for v in range(L)],
            "A_l": [f"send {v}" for v in range(L)],
        },
        aggregate=aggregate,
    )


# Example 0.2 -------------------------------------------------------------------------------
def box_cells(M: int, d: int, s_g: int) -> frozenset[int]:
    """Cell codes ``row * M + col`` covered by the box of :func:`constrained_exploration` at
    global state ``s_g`` (its top-left corner ``(s_g // (M-d+1), s_g % (M-d+1))``)."""
    B = M - d + 1
    r0, c0 = divmod(int(s_g), B)
    return frozenset((r0 + i) * M + (c0 + j) for i in range(d) for j in range(d))


def hazard_cells(M: int, hazard=None) -> frozenset[int]:
    """Cell codes of the hazard zone: ``hazard`` (a sequence of ``(row, col)``) or the default,
    the bottom-right ``h x h`` corner with ``h = max(1, M // 3)``."""
    if hazard is None:
        h = max(1, M // 3)
        return frozenset(r * M + c for r in range(M - h, M) for c in range(M - h, M))
    return frozenset(r * M + c for r, c in hazard)


def _box_dist(r: int, c: int, r0: int, c0: int, d: int) -> int:
    """L1 distance from cell ``(r, c)`` to the box with top-left ``(r0, c0)`` (0 inside)."""
    dr = max(r0 - r, 0, r - (r0 + d - 1))
    dc = max(c0 - c, 0, c - (c0 + d - 1))
    return dr + dc


def _local_move(r: int, c: int, r0: int, c0: int, d: int, M: int, action: int) -> tuple[int, int]:
    """Deterministic outcome of executing ``action`` at ``(r, c)``, box top-left ``(r0, c0)``."""
    tr, tc = r + _MOVES[action][0], c + _MOVES[action][1]
    on_grid = 0 <= tr < M and 0 <= tc < M
    if on_grid and _box_dist(tr, tc, r0, c0, d) == 0:
        return tr, tc  # target inside the box: the move is taken
    here = _box_dist(r, c, r0, c0, d)
    if here == 0:
        return r, c  # inside the box, target outside: blocked by the box wall
    if on_grid and _box_dist(tr, tc, r0, c0, d) < here:
        return tr, tc  # outside, the agent's own move approaches the box: taken
    # outside, any other move: pulled one step toward the box, rows first
    if r < r0:
        return r + 1, c
    if r > r0 + d - 1:
        return r - 1, c
    return r, c + (1 if c < c0 else -1)


def constrained_exploration(
    M: int = 3,
    d: int = 2,
    gamma: float = 0.9,
    slip: float = 0.1,
    hazard: Sequence[tuple[int, int]] | None = None,
    cover_reward: float = 1.0,
    clean_reward: float = 1.0,
    move_cost: float = 0.05,
    box_move_cost: float = 0.0,
) -> CooperativeSystem:
    """Example 0.2 (constrained exploration): a global agent confines cleaners to a box.

    Sizes at the default arguments: S_g=4, S_l=9, A_g=5, A_l=5, Z_l=45
    (in general ``S_g = (M-d+1)^2``, ``S_l = M^2``, ``A_g = A_l = 5``, ``Z_l = 5 M^2``).

    Modelling choices:

    * **Grid.** ``M x M`` cells, code ``s = row * M + col`` (row 0 at the top), labels
      ``"r{row}c{col}"``.
    * **Global state.** The position of the ``d x d`` box, indexed by its TOP-LEFT corner
      ``(r0, c0)``, ``0 <= r0, c0 <= M - d``, code ``s_g = r0 * (M-d+1) + c0``: ``(M-d+1)^2``
      positions. The paper names the box's centre; for even ``d`` the centre is not a cell, and
      corner and centre are in one-to-one correspondence. :func:`box_cells` lists the covered cells.
    * **Actions.** Local and global alike: ``stay, up, down, left, right`` (:data:`ACTIONS`,
      up = row - 1). A global action moves the box one cell, clipped at the grid edge; the box
      moves deterministically (the warehouse controller is reliable; the noise is in the agents).
    * **Local transition** (uses only ``s_i, s_g, a_i``, as the paper asks). The executed action is
      ``a_i`` with probability ``1 - slip`` and a uniformly random one of the 5 actions with
      probability ``slip`` (default 0.1, so the dynamics are stochastic). Its outcome:
      the target cell if it lies inside the box at ``s_g``; otherwise, an agent inside the box stays
      where it is (the box wall blocks it), and an agent outside the box moves one step toward
      the box -- along its own move if that reduces the L1 distance to the box, else the pull step
      (first fixing the row, then the column). Hence, for a fixed box, an agent inside never leaves
      and an agent outside gets one step closer every step, whatever it does. The box moves with
      ``s_g(t)`` -> ``s_g(t+1)`` at the same time as the agents move inside the box at ``s_g(t)``,
      so a box move can leave an agent outside the new box; it is pulled back in afterwards.
    * **Hazard zone.** ``hazard`` (a sequence of ``(row, col)``), by default the bottom-right
      ``h x h`` corner, ``h = max(1, M // 3)`` (one cell, ``(2, 2)``, at ``M = 3``).
      :func:`hazard_cells` gives the codes.
    * **Rewards** (eq. 3). ``r_g[s_g, a_g] = cover_reward * |box(s_g) & hazard| / |hazard|
      - box_move_cost * [a_g != stay]`` (the box covering the hazard zone);
      ``r_l[s_i, s_g, a_i] = clean_reward * [s_i in box(s_g) and s_i in hazard]
      - move_cost * [a_i != stay]`` (cleaning happens inside the box only; moving costs a little).
      ``r_tilde = cover_reward + clean_reward`` at the defaults (= 2).
    * **Initial state.** The paper starts all agents in one location; that is execution's business
      (e.g. ``counts = n * e_0``, every agent in cell ``r0c0``, box at ``s_g = 0``).

    The defaults are the smallest interesting instance, so that both learners fit a CI run.
    """
    M = _int_arg("M", M, 2, "The grid must have at least 2 x 2 cells.")
    d = _int_arg("d", d, 1)
    if d > M:
        raise ValueError(f"d must be <= M (the box lies in the grid); got d={d}, M={M}.")
    gamma = check_gamma(gamma)
    slip = _float_arg("slip", slip, 0.0, 1.0)
    cover_reward = _float_arg("cover_reward", cover_reward)
    clean_reward = _float_arg("clean_reward", clean_reward)
    move_cost = _float_arg("move_cost", move_cost)
    box_move_cost = _float_arg("box_move_cost", box_move_cost)
    if hazard is not None:
        try:
            cells = [tuple(int(x) for x in cell) for cell in hazard]
        except (TypeError, ValueError):
            raise ValueError(
                f"hazard must be a sequence of (row, col) integer pairs; got {hazard!r}."
            ) from None
        if not cells or any(len(cell) != 2 for cell in cells):
            raise ValueError(
                f"hazard must be a non-empty sequence of (row, col) pairs; got {hazard!r}."
            )
        for r, c in cells:
            if not (0 <= r < M and 0 <= c < M):
                raise ValueError(
                    f"hazard cell ({r}, {c}) lies outside the {M} x {M} grid; rows and columns "
                    f"run from 0 to {M - 1}."
                )
        hazard = cells
    H = hazard_cells(M, hazard)

    B = M - d + 1
    S_g, S_l, A = B * B, M * M, len(ACTIONS)

    P_g = np.zeros((S_g, A, S_g))
    r_g = np.zeros((S_g, A))
    for b in range(S_g):
        r0, c0 = divmod(b, B)
        covered = len(box_cells(M, d, b) & H) / len(H)
        for a, (dr, dc) in enumerate(_MOVES):
            nr, nc = min(max(r0 + dr, 0), B - 1), min(max(c0 + dc, 0), B - 1)
            P_g[b, a, nr * B + nc] = 1.0
            r_g[b, a] = cover_reward * covered - box_move_cost * (a != 0)

    P_l = np.zeros((S_l, S_g, A, S_l))
    r_l = np.zeros((S_l, S_g, A))
    for s in range(S_l):
        r, c = divmod(s, M)
        for b in range(S_g):
            r0, c0 = divmod(b, B)
            outcome = [_local_move(r, c, r0, c0, d, M, a) for a in range(A)]
            inside = _box_dist(r, c, r0, c0, d) == 0
            for a in range(A):
                tr, tc = outcome[a]
                P_l[s, b, a, tr * M + tc] += 1.0 - slip
                for tr, tc in outcome:
                    P_l[s, b, a, tr * M + tc] += slip / A
                r_l[s, b, a] = clean_reward * (inside and s in H) - move_cost * (a != 0)

    return CooperativeSystem(
        P_g=P_g,
        P_l=P_l,
        r_g=r_g,
        r_l=r_l,
        gamma=gamma,
        labels={
            "S_g": [f"box r{b // B}c{b % B}" for b in range(S_g)],
            "A_g": list(ACTIONS),
            "S_l": [f"r{s // M}c{s % M}" for s in range(S_l)],
            "A_l": list(ACTIONS),
        },
    )


# test systems ------------------------------------------------------------------------------
def random_system(
    S_g: int, S_l: int, A_g: int, A_l: int, gamma: float = 0.9, seed: int = 0
) -> CooperativeSystem:
    """A random system for tests and benchmarks, determined by ``seed``.

    Every transition row is a Dirichlet(1, ..., 1) draw (uniform on the simplex) and every reward
    entry is uniform in [0, 1], all from ``numpy.random.default_rng(seed)`` in the order ``P_g``,
    ``P_l``, ``r_g``, ``r_l``. No aggregate term. Sizes are the arguments; ``Z_l = S_l * A_l``.
    """
    S_g = _int_arg("S_g", S_g, 1)
    S_l = _int_arg("S_l", S_l, 1)
    A_g = _int_arg("A_g", A_g, 1)
    A_l = _int_arg("A_l", A_l, 1)
    gamma = check_gamma(gamma)
    seed = _int_arg("seed", seed, 0, "Pass a non-negative integer seed.")
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
