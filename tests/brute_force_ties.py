"""Independent brute-force references for the tie rules of the greedy policy (tests only).

Algorithm 1, line 10 takes an argmax of ``Q_k(s_g, s_Delta, a_g, a_Delta)`` over
``A_g x A_l^k`` and Algorithm 3 hands each agent one reading of it: the global agent reads ``a_g``
at its k-sample ``Delta``, local agent ``i`` reads its own action at ``(s_g, s_i, s_{Delta_i})``.
Ties are structural (homogeneous agents, aggregate rewards), so the rule that breaks them is part
of the policy. Four rules, by name (``RULES``); ``c`` is a composition of ``k-1`` into ``S_l``
parts (the others' states), ``z = s * A_l + a`` a local cell. Every candidate is read at the
canonical representative: agent 1, then the others' states sorted ascending (and, for a cell
composition, the others' actions ascending within one state):

* ``"first"``: the first maximizer over ``(zc, a_1, a_g)``: ``zc`` (others' cells, a composition
  of ``k-1`` into ``Z_l`` with state marginal ``c``) in lexicographic ascending order, then
  ``a_1``, then ``a_g``. Global reads its ``a_g``, local agent 1 its ``a_1``.
* ``"uniform"``: uniform over ALL ordered maximizers ``(a_g, a_1, ..., a_k)`` of the Q block at
  the canonical representative; the laws are the maximizers' marginals of ``a_g`` and ``a_1``.
* ``"coordinated"``: a function of ``(s_g, c_k)``, ``c_k = c + e_{s_1}`` the sample's state
  composition: the first maximizer over ``(zc_k, a_g)`` (``zc_k``: composition of ``k`` into
  ``Z_l`` with state marginal ``c_k``, read at its expansion in ascending ``z``) in the order
  ``zc_k`` then ``a_g``. Global takes its ``a_g``; a local agent in state ``s`` draws its action
  from its state's share ``zc_k[s, :] / c_k[s]`` (a uniform role draw within its state).
* ``"authors"`` (the authors' public code's reading, for comparison only, never our policy): the
  ``"first"`` maximizer; global takes its ``a_g``; a local agent in state ``s_1`` takes the most
  common action among the sampled agents in state ``s_1`` (``zc[s_1, :] + e_{a_1}``), lowest
  action on a count tie.

An entry is a maximizer when ``Q >= max - tol (1 + |max|)``, ``max`` over the rule's candidates.

Two routes that share no selection code: :func:`bf_action_laws` builds the law tables
``(S_g, S_l, Cs, A)`` by walking compositions in rank order; :func:`bf_policy_value_rule`
evaluates Algorithm 3 (eq. 10, 11, 13) on the joint space straight from ``Q``, enumerating
ordered action tuples with :mod:`itertools` and sorting candidate keys. :func:`bf_policy_value_laws`
evaluates law tables, so the two routes can be compared. Nothing comes from the production
learners, policy, executor or evaluator.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from brute_force import _joint_next_outer, bf_optimal_value, compositions, tiny_system

from smfq_lib.model.examples import gaussian_squeeze
from smfq_lib.model.system import CooperativeSystem

__all__ = [
    "MAX_AGENTS",
    "RULES",
    "bf_action_laws",
    "bf_policy_value_laws",
    "bf_policy_value_rule",
    "bf_worst_case_gap",
    "permutation_tie_system",
    "squeeze_system",
    "two_zone_system",
]

RULES = ("first", "uniform", "coordinated", "authors")
#: Joint-space references refuse more local agents than this.
MAX_AGENTS = 4


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _check_args(system, Q, k, rule, tol) -> np.ndarray:
    if not isinstance(system, CooperativeSystem):
        raise ValueError(f"system must be a CooperativeSystem; got {type(system).__name__}.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1 (sampled agents); got {k!r}.")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}; got {rule!r}.")
    if not (isinstance(tol, float | int) and np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite float such as 1e-11; got {tol!r}.")
    Q = np.asarray(Q, dtype=np.float64)
    want = (system.S_g,) + (system.S_l,) * k + (system.A_g,) + (system.A_l,) * k
    if Q.shape != want:
        raise ValueError(
            f"Q must have shape {want} (bf_subsystem_Q(system, k={k})); got {Q.shape}."
        )
    return Q


def _check_n(n, k) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not k <= n <= MAX_AGENTS:
        raise ValueError(
            f"n must be an integer with k = {k} <= n <= MAX_AGENTS = {MAX_AGENTS} (the joint "
            f"space S_g x S_l^n is enumerated); got {n!r}. Use fewer agents."
        )
    return int(n)


def _is_max(value, top: float, tol: float):
    """The tie rule's test (elementwise on arrays): ``value >= top - tol (1 + |top|)``."""
    return value >= top - tol * (1.0 + abs(top))


# ----------------------------------------------------------------------------------------------
# route A: law tables, walking compositions in rank order
# ----------------------------------------------------------------------------------------------
def _marginal(zc, S_l: int, A_l: int) -> tuple[int, ...]:
    return tuple(sum(zc[s * A_l : (s + 1) * A_l]) for s in range(S_l))


def _expand(zc, A_l: int) -> tuple[list[int], list[int]]:
    """States and actions of the agents of a cell composition, in ascending cell order."""
    cells = [z for z, cnt in enumerate(zc) for _ in range(cnt)]
    return [z // A_l for z in cells], [z % A_l for z in cells]


def _first_in_order(cands, tol):
    """The first ``(payload, value)`` of ``cands`` (in order) that is a maximizer."""
    top = max(v for _, v in cands)
    return next(p for p, v in cands if _is_max(v, top, tol))


def bf_action_laws(system, Q, k, rule, tol=1e-11) -> tuple[np.ndarray, np.ndarray]:
    """Action-law tables ``prob_g[s_g, s_1, r, a_g]``, ``prob_l[s_g, s_1, r, a_1]`` of ``rule``.

    ``r`` is the rank of the others' state composition ``c`` (of ``k-1`` into ``S_l``, order of
    :func:`brute_force.compositions`); shapes ``(S_g, S_l, Cs, A_g)`` and ``(S_g, S_l, Cs, A_l)``,
    every row a distribution. The rules are defined in the module docstring.
    """
    Q = _check_args(system, Q, k, rule, tol)
    S_g, S_l, A_g, A_l, Z_l = system.S_g, system.S_l, system.A_g, system.A_l, system.Z_l
    comps = compositions(k - 1, S_l)
    prob_g = np.zeros((S_g, S_l, len(comps), A_g))
    prob_l = np.zeros((S_g, S_l, len(comps), A_l))
    for s_g, s_1, (r, c) in itertools.product(range(S_g), range(S_l), enumerate(comps)):
        others = [s for s in range(S_l) for _ in range(c[s])]
        if rule == "uniform":
            block = Q[(s_g, s_1, *others)]
            mask = _is_max(block, block.max(), tol)
            rest = tuple(range(2, block.ndim))
            prob_g[s_g, s_1, r] = mask.sum(axis=(1,) + rest) / mask.sum()
            prob_l[s_g, s_1, r] = mask.sum(axis=(0,) + rest) / mask.sum()
        elif rule == "coordinated":
            c_k = list(c)
            c_k[s_1] += 1
            cands = []
            for zc_k in compositions(k, Z_l):
                if _marginal(zc_k, S_l, A_l) == tuple(c_k):
                    st, ac = _expand(zc_k, A_l)
                    cands += [((zc_k, a_g), Q[(s_g, *st, a_g, *ac)]) for a_g in range(A_g)]
            zc_k, a_g = _first_in_order(cands, tol)
            prob_g[s_g, s_1, r, a_g] = 1.0
            prob_l[s_g, s_1, r] = np.array(zc_k[s_1 * A_l : (s_1 + 1) * A_l]) / c_k[s_1]
        else:  # "first" and "authors" share the first maximizer
            cands = []
            for zc in compositions(k - 1, Z_l):
                if _marginal(zc, S_l, A_l) == c:
                    st, ac = _expand(zc, A_l)
                    for a_1, a_g in itertools.product(range(A_l), range(A_g)):
                        cands.append(((zc, a_1, a_g), Q[(s_g, s_1, *st, a_g, a_1, *ac)]))
            zc, a_1, a_g = _first_in_order(cands, tol)
            prob_g[s_g, s_1, r, a_g] = 1.0
            if rule == "authors":
                counts = list(zc[s_1 * A_l : (s_1 + 1) * A_l])
                counts[a_1] += 1
                a_1 = counts.index(max(counts))
            prob_l[s_g, s_1, r, a_1] = 1.0
    return prob_g, prob_l


# ----------------------------------------------------------------------------------------------
# route B: per-sample readings straight from Q (ordered tuples, sorted candidate keys)
# ----------------------------------------------------------------------------------------------
class _Reader:
    """The rule's reading of one sample, computed from ``Q`` by enumerating ordered actions."""

    def __init__(self, system, Q, rule, tol):
        self.sys, self.Q, self.rule, self.tol = system, Q, rule, tol
        self.memo: dict = {}

    def _cells(self, states, actions) -> tuple[int, ...]:
        out = [0] * self.sys.Z_l
        for s, a in zip(states, actions, strict=True):
            out[s * self.sys.A_l + a] += 1
        return tuple(out)

    def _sorted_runs_actions(self, states):
        """Action tuples for ascending ``states``, non-decreasing within each run of one state."""
        for acts in itertools.product(range(self.sys.A_l), repeat=len(states)):
            if all(
                states[j] != states[j + 1] or acts[j] <= acts[j + 1] for j in range(len(states) - 1)
            ):
                yield acts

    def _best(self, entries):
        """Smallest key among the maximizers of ``[(key, value, payload)]``."""
        top = max(v for _, v, _ in entries)
        return min((key, p) for key, v, p in entries if _is_max(v, top, self.tol))[1]

    def _first(self, s_g, s_me, others):
        """``(a_g, a_me, others' actions)`` of the "first" rule at ``(s_me, sorted others)``."""
        entries = []
        for a_g, a_me in itertools.product(range(self.sys.A_g), range(self.sys.A_l)):
            for acts in self._sorted_runs_actions(others):
                value = self.Q[(s_g, s_me, *others, a_g, a_me, *acts)]
                entries.append(((self._cells(others, acts), a_me, a_g), value, (a_g, a_me, acts)))
        return self._best(entries)

    def _coordinated(self, s_g, states):
        """``(a_g, actions)`` of the "coordinated" rule for ascending ``states``."""
        entries = []
        for a_g in range(self.sys.A_g):
            for acts in self._sorted_runs_actions(states):
                value = self.Q[(s_g, *states, a_g, *acts)]
                entries.append(((self._cells(states, acts), a_g), value, (a_g, acts)))
        return self._best(entries)

    def _uniform(self, s_g, s_me, others):
        """Marginals of ``a_g`` and ``a_me`` over all ordered maximizers."""
        A_g, A_l, k = self.sys.A_g, self.sys.A_l, len(others) + 1
        acts = list(itertools.product(range(A_g), *[range(A_l)] * k))
        values = [self.Q[(s_g, s_me, *others, *a)] for a in acts]
        top = max(values)
        p_g, p_me = np.zeros(A_g), np.zeros(A_l)
        maxi = [a for a, v in zip(acts, values, strict=True) if _is_max(v, top, self.tol)]
        for a in maxi:
            p_g[a[0]] += 1.0 / len(maxi)
            p_me[a[1]] += 1.0 / len(maxi)
        return p_g, p_me

    def global_law(self, s_g, sampled) -> np.ndarray:
        """Law of ``a_g`` for the k-sample's states ``sampled`` (eq. 10, one ``Delta``)."""
        key = ("g", s_g, tuple(sorted(sampled)))
        if key not in self.memo:
            st = sorted(sampled)  # agent 1 = the lowest state present, others sorted
            if self.rule == "uniform":
                law = self._uniform(s_g, st[0], st[1:])[0]
            elif self.rule == "coordinated":
                law = np.eye(self.sys.A_g)[self._coordinated(s_g, st)[0]]
            else:
                law = np.eye(self.sys.A_g)[self._first(s_g, st[0], st[1:])[0]]
            self.memo[key] = law
        return self.memo[key]

    def local_law(self, s_g, s_i, others) -> np.ndarray:
        """Law of ``a_i`` for agent ``i`` in ``s_i`` with ``Delta_i``'s states (eq. 11)."""
        key = ("l", s_g, s_i, tuple(sorted(others)))
        if key not in self.memo:
            A_l, rest = self.sys.A_l, sorted(others)
            if self.rule == "uniform":
                law = self._uniform(s_g, s_i, rest)[1]
            elif self.rule == "coordinated":
                states = sorted(rest + [s_i])
                acts = self._coordinated(s_g, states)[1]
                mine = [a for s, a in zip(states, acts, strict=True) if s == s_i]
                law = np.bincount(mine, minlength=A_l) / len(mine)
            else:
                _, a_me, acts = self._first(s_g, s_i, rest)
                if self.rule == "authors":
                    same = [a for s, a in zip(rest, acts, strict=True) if s == s_i] + [a_me]
                    a_me = int(np.argmax(np.bincount(same, minlength=A_l)))
                law = np.eye(A_l)[a_me]
            self.memo[key] = law
        return self.memo[key]


# ----------------------------------------------------------------------------------------------
# eq. (13): exact value on the joint space S_g x S_l^n
# ----------------------------------------------------------------------------------------------
def _solve_value(system, n, laws) -> np.ndarray:
    """``V = (I - gamma P_pi)^{-1} r_pi`` (eq. 13) on ``S_g x S_l^n``.

    ``laws(s_g, s_loc) -> (p_g, p_loc)`` gives the global agent's law and the ``(n, A_l)`` local
    laws, drawn independently; every joint action is enumerated with its product probability,
    with the stage reward (3) (+ aggregate) and the kernel of eq. (1), (2).
    """
    state_shape = (system.S_g,) + (system.S_l,) * n
    states = list(itertools.product(*map(range, state_shape)))
    r_pi = np.zeros(len(states))
    P_pi = np.zeros((len(states), len(states)))
    for idx, (s_g, *s_loc) in enumerate(states):
        p_g, p_loc = laws(s_g, s_loc)
        for a_g, *a_loc in itertools.product(range(system.A_g), *[range(system.A_l)] * n):
            p = p_g[a_g] * math.prod(p_loc[i][a] for i, a in enumerate(a_loc))
            if p > 0.0:
                r_pi[idx] += p * system.stage_reward(s_g, a_g, s_loc, a_loc)
                P_pi[idx] += p * _joint_next_outer(system, s_g, s_loc, a_g, a_loc).ravel()
    V = np.linalg.solve(np.eye(len(states)) - system.gamma * P_pi, r_pi)
    return V.reshape(state_shape)


def bf_policy_value_rule(system, Q, k, n, rule, tol=1e-11) -> np.ndarray:
    """Exact value (eq. 13) of Algorithm 3 under ``rule``, read straight from ``Q``.

    At a joint state: for every ``Delta`` in ``C([n], k)`` (probability ``1/C(n,k)``) the global
    agent's reading of the sampled states (agent 1 = lowest state present, others sorted); for
    every agent ``i`` and every ``Delta_i`` in ``C([n] minus i, k-1)`` agent ``i``'s own reading at
    ``(s_i, sorted others)`` ("coordinated": the profile of ``Delta_i`` plus ``i``, and ``i``'s
    state's share). Draws are independent across agents. Returns shape ``(S_g,) + (S_l,) * n``.
    """
    Q = _check_args(system, Q, k, rule, tol)
    n = _check_n(n, k)
    reader = _Reader(system, Q, rule, float(tol))
    deltas = list(itertools.combinations(range(n), k))

    def laws(s_g, s_loc):
        p_g = sum(reader.global_law(s_g, [s_loc[j] for j in d]) for d in deltas) / len(deltas)
        p_loc = []
        for i in range(n):
            subs = list(itertools.combinations([j for j in range(n) if j != i], k - 1))
            p_loc.append(
                sum(reader.local_law(s_g, s_loc[i], [s_loc[j] for j in d]) for d in subs)
                / len(subs)
            )
        return p_g, p_loc

    return _solve_value(system, n, laws)


def bf_policy_value_laws(system, prob_g, prob_l, k, n) -> np.ndarray:
    """Exact value (eq. 13) of Algorithm 3 with the law tables of :func:`bf_action_laws`.

    Eq. (10), (11) with each deterministic reading replaced by its law: the global agent averages
    ``prob_g[s_g, s_1, rank(c)]`` over ``Delta`` (``s_1`` = lowest sampled state, ``c`` the rest),
    agent ``i`` averages ``prob_l[s_g, s_i, rank(c(Delta_i))]`` over ``Delta_i``.
    """
    n = _check_n(n, k)
    rank = {c: r for r, c in enumerate(compositions(k - 1, system.S_l))}
    want_g = (system.S_g, system.S_l, len(rank), system.A_g)
    want_l = want_g[:3] + (system.A_l,)
    if np.shape(prob_g) != want_g or np.shape(prob_l) != want_l:
        raise ValueError(
            f"prob_g, prob_l must have shapes {want_g}, {want_l}; got "
            f"{np.shape(prob_g)}, {np.shape(prob_l)}."
        )

    def comp(states):
        return tuple(sum(1 for s in states if s == t) for t in range(system.S_l))

    def laws(s_g, s_loc):
        p_g = np.zeros(system.A_g)
        deltas = list(itertools.combinations(s_loc, k))  # states of each Delta
        for st in deltas:
            st = sorted(st)
            p_g += prob_g[s_g, st[0], rank[comp(st[1:])]] / len(deltas)
        p_loc = []
        for i in range(n):
            subs = list(itertools.combinations(s_loc[:i] + s_loc[i + 1 :], k - 1))
            p_loc.append(sum(prob_l[s_g, s_loc[i], rank[comp(d)]] for d in subs) / len(subs))
        return p_g, p_loc

    return _solve_value(system, n, laws)


def bf_worst_case_gap(system, Q, k, n, rule, tol=1e-11, V_star=None) -> tuple[float, tuple]:
    """``max_s V*(s) - V_rule(s)`` over the joint states and the maximizing ``(s_g, s_1..s_n)``.

    ``V*`` is :func:`brute_force.bf_optimal_value` (pass ``V_star`` to reuse one).
    """
    V = bf_policy_value_rule(system, Q, k, n, rule, tol)
    if V_star is None:
        V_star = bf_optimal_value(system, n)
    gap = np.asarray(V_star) - V
    where = np.unravel_index(int(np.argmax(gap)), gap.shape)
    return float(gap[where]), tuple(int(x) for x in where)


# ----------------------------------------------------------------------------------------------
# tie-rich tiny systems
# ----------------------------------------------------------------------------------------------
def permutation_tie_system(seed: int = 0, gamma: float = 0.9) -> CooperativeSystem:
    """Pure permutation ties: in local state 0 the action changes neither reward nor transition.

    ``tiny_system(2, 2, 2, 2, gamma, seed)`` with ``r_l[0, s_g, a]`` and ``P_l[0, s_g, a, :]``
    replaced by their ``a = 0`` values. Agents in state 0 are indifferent (any action of theirs is
    optimal), everything else is generic, so every rule has the same value while the laws differ.
    """
    base = tiny_system(2, 2, 2, 2, gamma=gamma, seed=seed)
    P_l, r_l = base.P_l.copy(), base.r_l.copy()
    P_l[0] = P_l[0, :, :1, :]
    r_l[0] = r_l[0, :, :1]
    return CooperativeSystem(base.P_g, P_l, base.r_g, r_l, gamma)


def two_zone_system(gamma: float = 0.9) -> CooperativeSystem:
    """Two joint optima that are NOT permutations of each other ("all left" vs "all right").

    Local state: the agent's side (0 left, 1 right); local action 0 = stay, 1 = switch side
    (deterministic). Global state: the side the global agent has marked; global action: mark side
    0 or 1 (deterministic, ``s_g' = a_g``). Reward ``r_l[s, s_g, a] = 1`` when ``s == s_g``, else
    0; ``r_g = 0``; no costs. From any state the team should gather on one side and mark it, and
    both sides are equally good. Stay/switch makes the two optima look different from the two
    sides, so readers with different viewpoints can pick different optima.
    """
    P_g = np.zeros((2, 2, 2))
    P_l = np.zeros((2, 2, 2, 2))
    r_l = np.zeros((2, 2, 2))
    for s in range(2):
        P_g[s, :, :] = np.eye(2)
        P_l[s, :, 0, s] = 1.0
        P_l[s, :, 1, 1 - s] = 1.0
        r_l[s, s, :] = 1.0
    return CooperativeSystem(
        P_g,
        P_l,
        np.zeros((2, 2)),
        r_l,
        gamma,
        labels={
            "S_g": ["left", "right"],
            "A_g": ["mark left", "mark right"],
            "S_l": ["left", "right"],
            "A_l": ["stay", "switch"],
        },
    )


def squeeze_system(loads: int = 2, gamma: float = 0.9) -> CooperativeSystem:
    """A tiny Gaussian squeeze (Example 0.1) whose optimum splits the agents.

    ``gaussian_squeeze(loads, mu=(loads-1)/2, sigma=(loads-1)/4, gamma)``: the best mean load
    lies strictly between the extremes, so the optimum mixes loads among agents in one state.
    """
    return gaussian_squeeze(loads=loads, mu=(loads - 1) / 2.0, sigma=(loads - 1) / 4.0, gamma=gamma)
