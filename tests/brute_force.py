"""Independent brute-force reference solvers for tiny cooperative systems (tests only).

Everything here is derived from the paper (Problem Formulation, eq. 1-13, Algorithms 1-3) and
the interface spec, written the slow and obvious way: loops over ``itertools.product`` of joint
states and actions, exact expectations as sums of products of probabilities, value iteration or a
direct linear solve on the joint space ``S_g x S_l^N``. Nothing is shared with the production
kernels (``smfq_lib.learning``, ``policy``, ``execute``, ``evaluate``, ``combinatorics``): the
composition enumeration and ranking below are re-done with :mod:`itertools`. Only
:class:`smfq_lib.model.system.CooperativeSystem` (arrays, ``gamma``, ``stage_reward``) is used.

Functions (spec, section "Brute-force references"):

* :func:`bf_subsystem_Q` -- fixed point ``Q_k^*`` of eq. (12) with the surrogate reward (6).
* :func:`bf_next_counts` -- exact distribution of the next-state counts of a set of agents (eq. 2).
* :func:`bf_optimal_value` -- ``V^*`` of the n-agent system (eq. 4) by value iteration.
* :func:`bf_policy_value` -- exact ``V`` of the randomized policy ``pi_k^est`` (eq. 10, 11, 13).

Helpers: :func:`tiny_system` (a random small system), :func:`bf_greedy_tables` (the policy
tables ``pi_g``, ``pi_l`` read from a ``bf_subsystem_Q`` table at the canonical representative),
:func:`compositions` / :func:`composition_rank` (lexicographic order of the spec).

Joint-state axes are always ``(s_g, s_1, ..., s_N)`` and joint-action axes ``(a_g, a_1, ...,
a_N)``; a flat index is the C-order (row-major) position, i.e. the order of ``itertools.product``.
"""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np

from smfq_lib.model.system import Aggregate, CooperativeSystem

__all__ = [
    "MAX_DENSE_ENTRIES",
    "bf_greedy_tables",
    "bf_next_counts",
    "bf_optimal_value",
    "bf_policy_value",
    "bf_subsystem_Q",
    "composition_rank",
    "compositions",
    "tiny_system",
]

#: Refuse a dense joint transition table (states x actions x next states) larger than this.
MAX_DENSE_ENTRIES = 1 << 22


# ----------------------------------------------------------------------------------------------
# validation and small combinatorics (re-done here on purpose, independent of combinatorics.py)
# ----------------------------------------------------------------------------------------------
def _check_system(system) -> None:
    if not isinstance(system, CooperativeSystem):
        raise ValueError(
            f"system must be an smfq_lib.CooperativeSystem; got {type(system).__name__}. "
            "Build one with CooperativeSystem(P_g, P_l, r_g, r_l, gamma) or tiny_system(...)."
        )


def _check_int(name: str, value, low: int, high: int | None = None, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer; got {value!r}. {hint}".rstrip())
    value = int(value)
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}; got {value}. {hint}".rstrip())
    return value


def _check_tol(tol) -> float:
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a positive float such as 1e-12; got {tol!r}.") from None
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite float such as 1e-12; got {tol}.")
    return tol


def _check_dense_size(what: str, n_states: int, n_actions: int) -> None:
    entries = n_states * n_actions * n_states
    if entries > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"{what}: the dense joint table would have {n_states} states x {n_actions} actions x "
            f"{n_states} next states = {entries} entries (> MAX_DENSE_ENTRIES = "
            f"{MAX_DENSE_ENTRIES}); brute force is for tiny systems. Use fewer agents or smaller "
            "state/action spaces."
        )


def compositions(t: int, d: int) -> list[tuple[int, ...]]:
    """All compositions of ``t`` into ``d`` non-negative parts, lexicographic ascending order.

    The order of the spec: ascending on ``(c[0], c[1], ..., c[d-1])``; e.g. ``t=2, d=3`` gives
    ``(0,0,2),(0,1,1),(0,2,0),(1,0,1),(1,1,0),(2,0,0)``. ``itertools.product`` already walks
    ``range(t+1)^d`` in that order, so this is a filter of it. ``t = 0`` gives the single
    composition ``(0, ..., 0)``.
    """
    return [c for c in itertools.product(range(t + 1), repeat=d) if sum(c) == t]


def composition_rank(t: int, d: int) -> dict[tuple[int, ...], int]:
    """Map each composition of ``t`` into ``d`` parts to its position in :func:`compositions`."""
    return {c: r for r, c in enumerate(compositions(t, d))}


def _counts(states, S_l: int) -> tuple[int, ...]:
    """Occupation counts over ``S_l`` of a sequence of local states."""
    out = [0] * S_l
    for s in states:
        out[s] += 1
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# helper: a random tiny system
# ----------------------------------------------------------------------------------------------
def tiny_system(
    S_g: int,
    S_l: int,
    A_g: int,
    A_l: int,
    gamma: float = 0.9,
    seed: int = 0,
    aggregate: bool = False,
) -> CooperativeSystem:
    """A random small :class:`CooperativeSystem` (eq. 1-3) for tests.

    Every transition row of ``P_g`` (eq. 1) and ``P_l`` (eq. 2) is a Dirichlet(1, ..., 1) draw;
    ``r_g`` and ``r_l`` (eq. 3) are uniform on [0, 1); everything from
    ``numpy.random.default_rng(seed)``. With ``aggregate=True`` an
    :class:`~smfq_lib.model.system.Aggregate` is attached: ``phi`` integer-valued in {0, 1, 2}
    (shape ``(S_l, A_l)``), ``rho(s_g, a_g, xbar) = exp(-(xbar - 1)^2)`` (a Gaussian-squeeze-like
    term, Example 0.1), ``bound = 1``.
    """
    for name, v in (("S_g", S_g), ("S_l", S_l), ("A_g", A_g), ("A_l", A_l)):
        _check_int(name, v, 1, hint="Every space needs at least one element.")
    rng = np.random.default_rng(seed)
    P_g = rng.dirichlet(np.ones(S_g), size=(S_g, A_g))
    P_l = rng.dirichlet(np.ones(S_l), size=(S_l, S_g, A_l))
    r_g = rng.uniform(0.0, 1.0, size=(S_g, A_g))
    r_l = rng.uniform(0.0, 1.0, size=(S_l, S_g, A_l))
    agg = None
    if aggregate:
        phi = rng.integers(0, 3, size=(S_l, A_l)).astype(np.float64)
        agg = Aggregate(
            phi=phi,
            rho=lambda s_g, a_g, xbar: np.exp(-((xbar - 1.0) ** 2)) * (1 + 0 * s_g),
            bound=1.0,
        )
    return CooperativeSystem(P_g, P_l, r_g, r_l, gamma, aggregate=agg)


# ----------------------------------------------------------------------------------------------
# eq. (2): next-state counts of a set of agents
# ----------------------------------------------------------------------------------------------


def random_policy(system: CooperativeSystem, k: int, seed: int) -> SimpleNamespace:
    """A policy object (``k``, ``pi_g``, ``pi_l``) with uniformly random tables of the spec's
    shape ``(S_g, S_l, C(k-1+S_l-1, S_l-1))``: the input of eq. (10), (11) for tests."""
    rng = np.random.default_rng(seed)
    Cs = math.comb(k - 1 + system.S_l - 1, system.S_l - 1)
    return SimpleNamespace(
        k=k,
        pi_g=rng.integers(0, system.A_g, size=(system.S_g, system.S_l, Cs)),
        pi_l=rng.integers(0, system.A_l, size=(system.S_g, system.S_l, Cs)),
    )


def bf_next_counts(system, s_g, cells) -> dict[tuple[int, ...], float]:
    """Exact distribution of the agents' next-state counts over ``S_l`` (eq. 2).

    ``cells`` is a list of ``(s, a)`` pairs, one per agent. Each agent moves independently,
    ``s_i' ~ P_l[s_i, s_g, a_i, :]`` (eq. 2), so the probability of a joint next state
    ``(s_1', ..., s_N')`` is ``prod_i P_l[s_i, s_g, a_i, s_i']``. This enumerates all ``S_l^N``
    joint next states and adds each probability to the bucket of its count vector. Returns
    ``{counts tuple (length S_l, summing to N): probability}`` with only the reachable counts
    (probability > 0). An empty ``cells`` gives ``{(0, ..., 0): 1.0}``.
    """
    _check_system(system)
    S_l, A_l = system.S_l, system.A_l
    s_g = _check_int("s_g", s_g, 0, system.S_g - 1, "It is a global state code.")
    try:
        cells = [tuple(c) for c in cells]
    except TypeError:
        raise ValueError(
            f"cells must be a list of (s, a) pairs, one per agent; got {cells!r}."
        ) from None
    for j, cell in enumerate(cells):
        if len(cell) != 2:
            raise ValueError(f"cells[{j}] = {cell!r} must be an (s, a) pair.")
        _check_int(f"cells[{j}][0] (local state)", cell[0], 0, S_l - 1)
        _check_int(f"cells[{j}][1] (local action)", cell[1], 0, A_l - 1)
    cells = [(int(s), int(a)) for s, a in cells]
    n_states = S_l ** len(cells)
    if n_states > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"cells: {len(cells)} agents give S_l^N = {n_states} joint next states to enumerate "
            f"(> {MAX_DENSE_ENTRIES}); pass fewer agents."
        )
    out: dict[tuple[int, ...], float] = {}
    for nxt in itertools.product(range(S_l), repeat=len(cells)):
        p = 1.0
        for (s, a), s_next in zip(cells, nxt, strict=True):
            p *= system.P_l[s, s_g, a, s_next]
        if p > 0.0:
            key = _counts(nxt, S_l)
            out[key] = out.get(key, 0.0) + p
    return out


# ----------------------------------------------------------------------------------------------
# joint kernels of eq. (1)-(2)
# ----------------------------------------------------------------------------------------------
def _joint_next_outer(system, s_g, s_loc, a_g, a_loc) -> np.ndarray:
    """``P(s' | s, a)`` over the joint next state, shape ``(S_g,) + (S_l,) * N`` (eq. 1, 2).

    The outer product ``P_g[s_g, a_g] x P_l[s_1, s_g, a_1] x ... x P_l[s_N, s_g, a_N]``.
    """
    out = system.P_g[s_g, a_g]
    for s, a in zip(s_loc, a_loc, strict=True):
        out = np.multiply.outer(out, system.P_l[s, s_g, a])
    return out


def _value_iteration_stop(gamma: float, tol: float, scale: float) -> tuple[float, int]:
    """Stopping rule of value iteration for the contraction of eq. (12) / the Bellman operator.

    Stop when ``||X^{t+1} - X^t||_inf <= tol (1 - gamma) / gamma`` (then ``||X^{t+1} - X^*||_inf
    <= tol``), or once the residual is at the float64 round-off floor (a few ulps of the table's
    magnitude ``scale / (1 - gamma)``), which may be above that threshold when ``tol`` is tiny:
    with rewards in [0, 2] the result is within ``1e-12`` for gamma <= 0.9, but only within about
    ``3e-11`` at gamma = 0.99 (the float64 limit of value iteration, ``~ ulp / (1-gamma)^2``).
    The iteration cap is the number of sweeps the contraction needs to get there from ``0``, plus
    slack.
    """
    thr = tol * (1.0 - gamma) / gamma
    floor = 8.0 * np.finfo(np.float64).eps * max(1.0, scale / (1.0 - gamma))
    target = max(thr, floor)
    start = max(scale, 1e-300) / (1.0 - gamma)
    cap = (
        int(math.ceil(math.log(target / start) / math.log(gamma))) + 100 if target < start else 100
    )
    return target, max(cap, 100)


# ----------------------------------------------------------------------------------------------
# eq. (12): Q_k^* of the k-agent subsystem with the surrogate reward (6)
# ----------------------------------------------------------------------------------------------
def bf_subsystem_Q(system, k, tol=1e-12) -> np.ndarray:
    """Fixed point ``Q_k^*`` of the exact adapted Bellman operator, eq. (12).

    ``Q(s_g, s_Delta, a_g, a_Delta) = r_Delta(s, a) + gamma * sum_{s'} P(s' | s, a) *
    max_{a'} Q(s', a')`` over the joint space ``S_g x S_l^k x A_g x A_l^k`` of a ``k``-agent
    subsystem ``Delta``, where ``r_Delta`` is the surrogate reward of eq. (6) (the stage reward
    (3) with ``n`` replaced by ``k``, plus the aggregate term over the ``k`` agents, via
    ``system.stage_reward``) and ``P(s' | s, a) = P_g[s_g, a_g, s_g'] prod_i P_l[s_i, s_g, a_i,
    s_i']`` (eq. 1, 2) enumerated over every joint next state. Value iteration from ``Q = 0``
    until ``||Q^{t+1} - Q^t||_inf <= tol (1-gamma)/gamma`` (or the float64 floor).

    Returns an array of shape ``(S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k``, indexed
    ``Q[s_g, s_1, ..., s_k, a_g, a_1, ..., a_k]``.
    """
    _check_system(system)
    k = _check_int("k", k, 1, hint="k is the number of sampled local agents, k >= 1.")
    tol = _check_tol(tol)
    S_g, S_l, A_g, A_l, gamma = system.S_g, system.S_l, system.A_g, system.A_l, system.gamma
    state_shape = (S_g,) + (S_l,) * k
    action_shape = (A_g,) + (A_l,) * k
    n_s, n_a = math.prod(state_shape), math.prod(action_shape)
    _check_dense_size(f"bf_subsystem_Q(k={k})", n_s, n_a)

    R = np.empty((n_s, n_a))
    P = np.empty((n_s, n_a, n_s))
    for i, s in enumerate(itertools.product(*map(range, state_shape))):
        for j, a in enumerate(itertools.product(*map(range, action_shape))):
            R[i, j] = system.stage_reward(s[0], a[0], list(s[1:]), list(a[1:]))
            P[i, j] = _joint_next_outer(system, s[0], s[1:], a[0], a[1:]).ravel()

    target, cap = _value_iteration_stop(gamma, tol, float(np.abs(R).max()))
    Q = np.zeros((n_s, n_a))
    for _ in range(cap):
        Q_new = R + gamma * (P @ Q.max(axis=1))
        res = float(np.abs(Q_new - Q).max())
        Q = Q_new
        if res <= target:
            break
    return Q.reshape(state_shape + action_shape)


# ----------------------------------------------------------------------------------------------
# eq. (4): V^* of the n-agent system
# ----------------------------------------------------------------------------------------------
def bf_optimal_value(system, n, tol=1e-12) -> np.ndarray:
    """``V^*`` of the n-agent system (eq. 4) by value iteration on ``S_g x S_l^n``.

    ``V(s) <- max_{a in A_g x A_l^n} [ r(s, a) + gamma * sum_{s'} P(s' | s, a) V(s') ]`` with the
    stage reward (3) (plus the aggregate term, via ``system.stage_reward``) and the product
    kernel of eq. (1), (2). The kernel is tabulated entry by entry, as the explicit product
    ``P_g[s_g, a_g, s_g'] * prod_i P_l[s_i, s_g, a_i, s_i']`` for every ``(s, a, s')`` (a route
    separate from :func:`bf_subsystem_Q`'s outer products). Stops when
    ``||V^{t+1} - V^t||_inf <= tol (1-gamma)/gamma`` (or the float64 floor).

    Returns an array of shape ``(S_g,) + (S_l,) * n``, indexed ``V[s_g, s_1, ..., s_n]``.
    """
    _check_system(system)
    n = _check_int("n", n, 1, hint="n is the number of local agents, n >= 1.")
    tol = _check_tol(tol)
    S_g, S_l, A_g, A_l, gamma = system.S_g, system.S_l, system.A_g, system.A_l, system.gamma
    state_shape = (S_g,) + (S_l,) * n
    action_shape = (A_g,) + (A_l,) * n
    states = list(itertools.product(*map(range, state_shape)))
    actions = list(itertools.product(*map(range, action_shape)))
    _check_dense_size(f"bf_optimal_value(n={n})", len(states), len(actions))

    R = np.empty((len(states), len(actions)))
    P = np.empty((len(states), len(actions), len(states)))
    for i, s in enumerate(states):
        for j, a in enumerate(actions):
            R[i, j] = system.stage_reward(s[0], a[0], list(s[1:]), list(a[1:]))
            for j2, s2 in enumerate(states):
                p = system.P_g[s[0], a[0], s2[0]]
                for agent in range(n):
                    p *= system.P_l[s[1 + agent], s[0], a[1 + agent], s2[1 + agent]]
                P[i, j, j2] = p

    target, cap = _value_iteration_stop(gamma, tol, float(np.abs(R).max()))
    V = np.zeros(len(states))
    for _ in range(cap):
        V_new = (R + gamma * (P @ V)).max(axis=1)
        res = float(np.abs(V_new - V).max())
        V = V_new
        if res <= target:
            break
    return V.reshape(state_shape)


# ----------------------------------------------------------------------------------------------
# eq. (10), (11), (13): exact value of the randomized policy pi_k^est
# ----------------------------------------------------------------------------------------------
def _check_table(name: str, table, shape: tuple[int, ...], n_actions: int) -> np.ndarray:
    arr = np.asarray(table)
    if arr.shape != shape:
        raise ValueError(
            f"{name} must have shape (S_g, S_l, Cs) = {shape} with Cs = C(k-1+S_l-1, S_l-1) "
            f"(compositions of k-1 into S_l parts); got {arr.shape}."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array of action codes; got dtype {arr.dtype}.")
    if arr.size and (arr.min() < 0 or arr.max() >= n_actions):
        raise ValueError(
            f"{name} holds action codes outside [0, {n_actions - 1}] (min {arr.min()}, max "
            f"{arr.max()}); every entry must be a valid action index."
        )
    return arr.astype(np.int64)


def bf_policy_value(system, pi_g, pi_l, k, n) -> np.ndarray:
    """Exact ``V`` (eq. 13) of the randomized policy ``pi_k^est`` on ``n`` agents (eq. 10, 11).

    At a joint state ``s = (s_g, s_1, ..., s_n)``:

    * global agent (eq. 10): for every ``Delta`` in ``C([n], k)`` (probability ``1/C(n, k)``),
      ``s_1 :=`` the lowest local state among ``Delta``'s agents, ``c :=`` the counts over
      ``S_l`` of ``Delta``'s states minus one in ``s_1``; ``a_g = pi_g[s_g, s_1, rank(c)]``;
    * local agent ``i`` (eq. 11): for every ``Delta_i`` in ``C([n] minus i, k-1)`` (probability
      ``1/C(n-1, k-1)``), ``c :=`` the counts of ``Delta_i``'s states;
      ``a_i = pi_l[s_g, s_i, rank(c)]``;

    ``rank`` is the position in the lexicographic ascending order of :func:`compositions` of
    ``k-1`` into ``S_l`` parts. All draws are independent, so the joint action distribution is
    the product of the ``n + 1`` marginals; every joint action is enumerated with its product
    probability. ``r_pi(s) = sum_a pi(a|s) r(s, a)`` with the n-agent stage reward (3) (+
    aggregate) and ``P_pi(s'|s) = sum_a pi(a|s) P(s'|s, a)`` (eq. 1, 2); then
    ``V = (I - gamma P_pi)^{-1} r_pi`` by a direct linear solve over ``S_g x S_l^n``.

    ``pi_g``, ``pi_l``: int arrays of shape ``(S_g, S_l, Cs)``, ``Cs = C(k-1+S_l-1, S_l-1)``.
    Returns an array of shape ``(S_g,) + (S_l,) * n``.
    """
    _check_system(system)
    n = _check_int("n", n, 1, hint="n is the number of local agents, n >= 1.")
    k = _check_int("k", k, 1, n, hint="k is the number of sampled agents, 1 <= k <= n.")
    S_g, S_l, A_g, A_l, gamma = system.S_g, system.S_l, system.A_g, system.A_l, system.gamma
    rank = composition_rank(k - 1, S_l)
    shape = (S_g, S_l, len(rank))
    pi_g = _check_table("pi_g", pi_g, shape, A_g)
    pi_l = _check_table("pi_l", pi_l, shape, A_l)
    state_shape = (S_g,) + (S_l,) * n
    states = list(itertools.product(*map(range, state_shape)))
    n_actions = A_g * A_l**n
    _check_dense_size(f"bf_policy_value(n={n})", len(states), n_actions)

    subsets_g = list(itertools.combinations(range(n), k))
    subsets_l = [
        list(itertools.combinations([j for j in range(n) if j != i], k - 1)) for i in range(n)
    ]
    r_pi = np.zeros(len(states))
    P_pi = np.zeros((len(states), len(states)))
    for idx, s in enumerate(states):
        s_g, s_loc = s[0], s[1:]
        # eq. (10): the global agent's action distribution
        p_g = np.zeros(A_g)
        for delta in subsets_g:
            sampled = [s_loc[j] for j in delta]
            s_1 = min(sampled)
            c = list(_counts(sampled, S_l))
            c[s_1] -= 1
            p_g[pi_g[s_g, s_1, rank[tuple(c)]]] += 1.0 / len(subsets_g)
        # eq. (11): each local agent's action distribution
        p_loc = np.zeros((n, A_l))
        for i in range(n):
            for delta_i in subsets_l[i]:
                c = _counts([s_loc[j] for j in delta_i], S_l)
                p_loc[i, pi_l[s_g, s_loc[i], rank[c]]] += 1.0 / len(subsets_l[i])
        # independent draws: product distribution over joint actions
        for a in itertools.product(range(A_g), *([range(A_l)] * n)):
            p = p_g[a[0]]
            for i in range(n):
                p *= p_loc[i, a[1 + i]]
            if p == 0.0:
                continue
            r_pi[idx] += p * system.stage_reward(s_g, a[0], list(s_loc), list(a[1:]))
            P_pi[idx] += p * _joint_next_outer(system, s_g, s_loc, a[0], a[1:]).ravel()

    V = np.linalg.solve(np.eye(len(states)) - gamma * P_pi, r_pi)
    return V.reshape(state_shape)


# ----------------------------------------------------------------------------------------------
# policy tables from a brute-force Q (Algorithm 1, line 10, at the canonical representative)
# ----------------------------------------------------------------------------------------------
def bf_greedy_tables(system, Q, k, atol=1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Greedy tables ``pi_g``, ``pi_l`` (shape ``(S_g, S_l, Cs)``) from a :func:`bf_subsystem_Q`.

    Algorithm 1, line 10: ``argmax_{a_g, a_Delta} Q(s_g, s_Delta, a_g, a_Delta)``, read at the
    canonical representative ``s_Delta = (s_1, others sorted ascending)`` where ``others`` is the
    expansion of the composition ``c`` of ``k-1`` (docs/design.md §9). ``pi_g`` takes the
    maximizer's ``a_g``, ``pi_l`` its ``a_1``. Ties: entries within ``atol`` of the maximum
    count as maximal and the lowest C-order index over ``(a_g, a_1, ..., a_k)`` wins (lowest
    ``a_g`` first, then lowest ``a_1``, ...).
    """
    _check_system(system)
    k = _check_int("k", k, 1, hint="k >= 1.")
    S_g, S_l, A_g, A_l = system.S_g, system.S_l, system.A_g, system.A_l
    Q = np.asarray(Q, dtype=np.float64)
    want = (S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k
    if Q.shape != want:
        raise ValueError(
            f"Q must have shape {want} (bf_subsystem_Q(system, k={k})); got {Q.shape}."
        )
    comps = compositions(k - 1, S_l)
    pi_g = np.zeros((S_g, S_l, len(comps)), dtype=np.int64)
    pi_l = np.zeros_like(pi_g)
    for s_g in range(S_g):
        for s_1 in range(S_l):
            for r, c in enumerate(comps):
                others = [s for s in range(S_l) for _ in range(c[s])]
                block = Q[(s_g, s_1, *others)].ravel()
                best = int(np.flatnonzero(block >= block.max() - atol)[0])
                a = np.unravel_index(best, (A_g,) + (A_l,) * k)
                pi_g[s_g, s_1, r] = int(a[0])
                pi_l[s_g, s_1, r] = int(a[1])
    return pi_g, pi_l
