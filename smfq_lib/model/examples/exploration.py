"""Example 0.2 of the paper (constrained exploration), with one hazard zone or with two."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from smfq_lib._utils.checks import check_gamma
from smfq_lib.model.examples._checks import float_arg, int_arg
from smfq_lib.model.system import CooperativeSystem

__all__ = [
    "ACTIONS",
    "box_cells",
    "constrained_exploration",
    "hazard_cells",
    "two_zone_exploration",
]

#: Action names of :func:`constrained_exploration` (local and global), with their (drow, dcol).
ACTIONS = ("stay", "up", "down", "left", "right")
_MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


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

    ``gamma``: the discount factor; ``slip``: the probability that an agent's move fails and it

    stays in its cell.
    """
    M, d = _grid_args(M, d)
    gamma = check_gamma(gamma)
    slip = float_arg("slip", slip, 0.0, 1.0)
    cover_reward = float_arg("cover_reward", cover_reward)
    clean_reward = float_arg("clean_reward", clean_reward)
    move_cost = float_arg("move_cost", move_cost)
    box_move_cost = float_arg("box_move_cost", box_move_cost)
    H = hazard_cells(M, None if hazard is None else _cells_arg("hazard", hazard, M))

    clean = np.array([clean_reward * (s in H) for s in range(M * M)])
    B = M - d + 1
    cover = np.array([cover_reward * len(box_cells(M, d, b) & H) / len(H) for b in range(B * B)])
    moving = np.arange(len(ACTIONS)) != 0
    return _grid_system(M, d, gamma, slip, clean, cover, move_cost * moving, box_move_cost * moving)


def _grid_args(M, d) -> tuple[int, int]:
    M = int_arg("M", M, 2, "The grid must have at least 2 x 2 cells.")
    d = int_arg("d", d, 1)
    if d > M:
        raise ValueError(f"d must be <= M (the box lies in the grid); got d={d}, M={M}.")
    return M, d


def _cells_arg(name: str, cells, M: int) -> list[tuple[int, int]]:
    """``cells`` as a non-empty list of ``(row, col)`` pairs inside the ``M x M`` grid."""
    try:
        out = [tuple(int(x) for x in cell) for cell in cells]
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a sequence of (row, col) integer pairs; got {cells!r}."
        ) from None
    if not out or any(len(cell) != 2 for cell in out):
        raise ValueError(f"{name} must be a non-empty sequence of (row, col) pairs; got {cells!r}.")
    for r, c in out:
        if not (0 <= r < M and 0 <= c < M):
            raise ValueError(
                f"{name} cell ({r}, {c}) lies outside the {M} x {M} grid; rows and columns "
                f"run from 0 to {M - 1}."
            )
    return out


def _grid_system(M, d, gamma, slip, clean, cover, move_cost, box_cost) -> CooperativeSystem:
    """The box-and-cleaners system of :func:`constrained_exploration` with per-cell cleaning
    rewards ``clean[s]`` (earned inside the box only), per-box-position rewards ``cover[b]`` and
    per-action costs ``move_cost[a]``, ``box_cost[a]`` (``a`` in the order of :data:`ACTIONS`):
    ``r_g[b, a] = cover[b] - box_cost[a]``,
    ``r_l[s, b, a] = clean[s] [s in box(b)] - move_cost[a]``."""
    B = M - d + 1
    S_g, S_l, A = B * B, M * M, len(ACTIONS)

    P_g = np.zeros((S_g, A, S_g))
    r_g = np.zeros((S_g, A))
    for b in range(S_g):
        r0, c0 = divmod(b, B)
        for a, (dr, dc) in enumerate(_MOVES):
            nr, nc = min(max(r0 + dr, 0), B - 1), min(max(c0 + dc, 0), B - 1)
            P_g[b, a, nr * B + nc] = 1.0
            r_g[b, a] = cover[b] - box_cost[a]

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
                r_l[s, b, a] = clean[s] * inside - move_cost[a]

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


def two_zone_exploration(
    M: int = 3,
    d: int = 2,
    gamma: float = 0.9,
    slip: float = 0.1,
    zone_a: Sequence[tuple[int, int]] | None = None,
    zone_b: Sequence[tuple[int, int]] | None = None,
    value_a: float = 1.0,
    value_b: float = 0.9,
    move_cost: tuple[float, float] = (0.04, 0.05),
    box_move_cost: tuple[float, float] = (0.02, 0.05),
) -> CooperativeSystem:
    """Example 0.2 with two hazard zones: the box's best position depends on where the agents are.

    Sizes at the default arguments: S_g=4, S_l=9, A_g=5, A_l=5, Z_l=45
    (as :func:`constrained_exploration`: ``S_g = (M-d+1)^2``, ``S_l = M^2``, ``A_g = A_l = 5``);
    ``r_tilde = max(box_move_cost) + max(|value_a|, |value_b|, max(move_cost))`` (1.05).

    Grid, box, actions and local transitions are those of :func:`constrained_exploration` (read
    its docstring); only the rewards differ. Modelling choices:

    * **Two zones, no covering reward.** Cleaning pays ``value_a`` per agent-step in ``zone_a``
      (default the top-left cell ``(0, 0)``) and ``value_b`` in ``zone_b`` (default the
      bottom-right cell ``(M-1, M-1)``), inside the box only, as in eq. (3):
      ``r_l[s_i, s_g, a_i] = value(s_i) [s_i in box(s_g)] - move_cost(a_i)``. The box earns
      nothing for covering a zone (``r_g = -box_move_cost(a_g)`` only): with a covering reward,
      the box's best move would not depend on the agents, and ``k = 1`` would be optimal (as in
      the single-zone case, :func:`constrained_exploration`). At ``M = 3, d = 2`` no box covers
      both corners, so the box must choose a zone, and the agents it leaves behind walk (are
      pulled) to the other one: a wrong choice costs the majority a few steps of cleaning.
    * **Where ``k`` matters.** The best zone is a weighted majority vote over the agents' positions
      (distance to each zone, weighted by its value), which the global agent estimates from its
      ``k`` sampled agents (eq. 10), and each local agent, from its ``k - 1`` sampled others,
      predicts where the box will go (eq. 11).
    * **Deliberate asymmetries (against exact ties).** Exact ties between joint optima that are
      not permutations of each other let the global and the local agents, who read the policy
      tables from different viewpoints, pick different optima and miscoordinate. Measured at
      ``n = 3`` under the learner's first-maximiser tie rule, with ``move_cost = (0.05, 0.05)``
      and ``box_move_cost = (0, 0)``: with ``value_b = value_a``, the worst-case gap over start
      states at ``k = n`` is 0.92 (0 once every reward is perturbed by up to 1e-5); with
      ``value_b = 0.9``, the worst-case gap at ``k = 1`` moves from 0.967 to 0.910 under such a
      perturbation. Three sources of
      ties are removed by default: ``value_b < value_a`` (no symmetry swaps the zones); the
      agents' vertical and horizontal moves cost differently (``move_cost = (vertical,
      horizontal)``, default ``(0.04, 0.05)``; ``stay`` is free), so an agent's two shortest
      routes to a zone (e.g. up-then-left and left-then-up, mirror images across the grid's
      diagonal) differ in discounted cost; and the box's moves likewise (``box_move_cost``,
      default ``(0.02, 0.05)``). With the defaults, a 1e-5 perturbation of the rewards changes
      no greedy action (``k <= 2``, tested), nor the worst-case gap or the gap at the start
      states below by more than 1e-4 (``n <= 4``, every ``k``); the worst-case gap at ``k = n``
      is 0 (``n <= 4``).
    * **Initial state** (execution's business). The recommended start has the box at the top-right
      (``s_g = 1``, ``"box r0c1"``, one move from either zone) and the agents inside it,
      ``n // 2`` in cell ``r0c1`` (next to zone A) and the rest in ``r1c2`` (next to zone B). The
      box should go to the more valuable zone A, and a small sample often shows a majority next
      to B: the exact gap at this start falls from 0.93 (``k = 1``) to 0.31 (``k = 2``) and 0
      (``k = 3, 4``) at ``n = 4``, and the Monte Carlo return still rises from ``k = 3`` to
      ``k = 4`` at ``n = 10^6``.

    Argument checks: ``zone_a`` and ``zone_b`` are non-empty lists of ``(row, col)`` cells of the
    grid with no cell in both; ``move_cost`` and ``box_move_cost`` are pairs of finite numbers.

    ``gamma``: the discount factor; ``slip``: the probability that an agent's move fails and it

    stays in its cell.
    """
    M, d = _grid_args(M, d)
    gamma = check_gamma(gamma)
    slip = float_arg("slip", slip, 0.0, 1.0)
    value_a = float_arg("value_a", value_a)
    value_b = float_arg("value_b", value_b)
    mv, mh = _pair_arg("move_cost", move_cost)
    bv, bh = _pair_arg("box_move_cost", box_move_cost)
    za = hazard_cells(M, _cells_arg("zone_a", [(0, 0)] if zone_a is None else zone_a, M))
    zb = hazard_cells(M, _cells_arg("zone_b", [(M - 1, M - 1)] if zone_b is None else zone_b, M))
    both = sorted(za & zb)
    if both:
        raise ValueError(
            f"zone_a and zone_b share the cell(s) {[divmod(s, M) for s in both]}; a cell belongs "
            "to one zone at most."
        )
    clean = np.array([value_a * (s in za) + value_b * (s in zb) for s in range(M * M)])
    B = M - d + 1
    move = np.array([0.0, mv, mv, mh, mh])  # per action, in the order of ACTIONS
    box_move = np.array([0.0, bv, bv, bh, bh])
    return _grid_system(M, d, gamma, slip, clean, np.zeros(B * B), move, box_move)


def _pair_arg(name: str, value) -> tuple[float, float]:
    """``value`` as a ``(vertical, horizontal)`` pair of finite numbers."""
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError(
            f"{name} must be a (vertical, horizontal) pair of numbers; got {value!r}. Pass e.g. "
            f"{name}=(0.04, 0.05); unequal entries keep equal-length routes from tying."
        )
    return tuple(float_arg(f"{name}[{i}]", x) for i, x in enumerate(pair))
