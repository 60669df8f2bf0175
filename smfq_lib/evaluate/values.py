"""Exact values on systems small enough to enumerate the count states (docs/design.md §5).

Count states. A state of the n-agent system, up to a permutation of the homogeneous agents, is
``(s_g, counts)`` with ``counts`` a composition of ``n`` into ``S_l`` parts. There are
``N = S_g * C(n + S_l - 1, S_l - 1)`` of them, indexed ``s_g * C + rank(counts)`` (the rank order
of :mod:`smfq_lib.model.combinatorics`). Values of eq. (13) are permutation invariant for the
policies here, so they are functions of the count state.

* :func:`policy_value`: ``V^{pi_k^est}`` (eq. 13) of the randomized policy of Algorithm 3 /
  eq. (10), (11) under a tie rule (``rule=``, :mod:`smfq_lib.learning.policy`). Under it the count
  state is a Markov chain: given ``(s_g, counts)``, ``a_g ~ p_g`` and every agent in state ``s``
  acts i.i.d. ``~ p_l[s]`` under every rule (each agent's sample and its draw from its reading's law
  are its own; :func:`smfq_lib.learning.policy.action_distributions_into`), so its next state is
  i.i.d. ``~ q_s = sum_a p_l[s, a] P_l[s, s_g, a, :]`` and the next counts are the convolution
  over ``s`` of ``Multinomial(counts[s], q_s)``; ``s_g' ~ sum_a p_g[a] P_g[s_g, a, :]``, independent
  of the next counts (the global agent's sample is drawn independently of the local agents'). The
  expected stage reward is ``p_g . r_g[s_g] + (1/n) sum_s counts[s] p_l[s] . r_l[s, s_g]`` plus,
  with an aggregate term, ``E[rho(s_g, a_g, x / n)]`` with ``x = sum_i phi[s_i, a_i]`` (its
  exact law is the convolution of per-agent pmfs on the integer lattice, so ``phi`` must be
  integer-valued here). ``V`` solves ``(I - gamma P) V = r`` (dense LU, exact to rounding).
* :func:`optimal_value`: ``V*`` (eq. 4) by policy iteration on the count MDP of the ``n``-agent
  system (:mod:`smfq_lib.evaluate.count_mdp`: actions ``(a_g, zc)``, ``zc`` the agents'
  (state, action) composition): Algorithm 2's exact operator at ``k = n`` with no agent kept
  apart, whose ``k = n`` learner (the subsystem IS the system) reads the same ``V*`` at the
  canonical representative (``s_1`` = lowest state present, the others ``counts - e_{s_1}``)
  from a table ``Z_l n / (n + Z_l - 1)`` times larger.
* :func:`gap`: ``V* - V^{pi_k^est}`` at a state or under an initial distribution, the quantity
  bounded by Theorem 0.11.

Stochastic rewards (``system.reward_noise``, Theorem 0.13). The noise is zero-mean and independent
of states and actions, so by linearity of expectation the value (13) of any policy, and ``V*``
(the optimum of the same expectations), equal their values under the mean rewards ``r_g``,
``r_l``. Both functions therefore use the means and ignore the noise; the gap they return is the
exact gap of Theorem 0.13's left side. (The noise matters to the sampled learner, whose reward
estimates it perturbs, and to the executors' realised rewards: see :mod:`smfq_lib.learning` and
:mod:`smfq_lib.execute`.)

Caching. Each solve covers every count state at once and is cached, keyed on
``(id(system), id(policy), n, rule)`` (resp. ``(id(system), n)`` for ``V*``). An entry keeps a
reference to the system (so its id cannot be recycled while cached; systems are immutable) and
the policy's :class:`~smfq_lib.learning.policy.ActionLaws` under that rule (read-only; not the
policy object, whose Q table may be large); a hit is used only if ``k`` and the laws still match, so
mutating a policy's tables in place, or a new policy object that reuses a dead one's id, triggers
a new solve (the value depends on the policy only through its laws). Only the value tables are
kept (not the count MDP's Q table). The caches hold the last 16 entries each;
:func:`clear_cache` empties them.

Sizes. Every argument is checked, and every solve's size against ``memory_budget`` (bytes;
default half the available memory), before any allocation: the policy chain's dense ``N x N``
matrices (message naming ``N``), and for ``V*`` the count MDP's tables (its ``Q`` over
``(s_g, zc, a_g)`` and working tables, :func:`~smfq_lib.evaluate.count_mdp.count_mdp_bytes`).
Counts are exact Python integers, so the sizes in the messages are right at
any ``n`` (up to ``2**63 - 1``, the kernels' int64). The chain's rows are computed by
:func:`smfq_lib.evaluate.count_chain.chain_rows`.

Progress. ``progress=None`` (the default of :func:`policy_value`, :func:`optimal_value`,
:func:`gap`) shows a bar only for solves whose tables exceed 256 MiB; the ``*_table`` functions,
which loops call, default to False.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from smfq_lib._utils.blas import one_blas_thread
from smfq_lib._utils.budget import check_budget, check_fits
from smfq_lib._utils.checks import check_int, format_count, validate_counts, validate_index
from smfq_lib._utils.chunks import run_chunks
from smfq_lib.evaluate.count_chain import chain_rows
from smfq_lib.evaluate.count_mdp import count_mdp_bytes, solve_count_mdp
from smfq_lib.execute import count_state_weights
from smfq_lib.learning.mean_field_kernels import add_tables
from smfq_lib.learning.policy import policy_laws, policy_tables
from smfq_lib.model.combinatorics import compositions, n_compositions, rank
from smfq_lib.model.system import CooperativeSystem

__all__ = [
    "clear_cache",
    "gap",
    "optimal_value",
    "optimal_value_table",
    "policy_value",
    "policy_value_table",
]

_CACHE_SIZE = 16
VSTAR_TOL = 1e-12  # tolerance of V*: ||V - V*||_inf <= VSTAR_TOL (count_mdp.solve_count_mdp)
_WHAT_PI = "the count chain of pi_k^est"
_WHAT_STAR = "V* (policy iteration on the count MDP)"
_BAR_BYTES = 256 * 2**20  # progress=None: a bar for solves whose tables exceed this
_POLICY_CACHE: OrderedDict = OrderedDict()
_OPTIMAL_CACHE: OrderedDict = OrderedDict()


def clear_cache() -> None:
    """Forget every cached solve of :func:`policy_value` and :func:`optimal_value`."""
    _POLICY_CACHE.clear()
    _OPTIMAL_CACHE.clear()


def _cache_put(cache, key, entry):
    cache[key] = entry
    cache.move_to_end(key)
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _check_args(system, n, memory_budget, progress):
    """Validate the arguments every public function shares; ``(n, memory_budget)`` as ints."""
    if not isinstance(system, CooperativeSystem):
        raise ValueError(
            f"system must be a smfq_lib.CooperativeSystem; got {type(system).__name__}."
        )
    n = check_int("n", n, 1, fix="n is the number of local agents.")
    memory_budget = check_budget(memory_budget)
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(
            f"progress must be True, False or None (a bar for long solves only); got {progress!r}."
        )
    return n, memory_budget


def _bar(progress, nbytes) -> bool:
    """``progress=None``: a bar only for a solve whose tables exceed ``_BAR_BYTES``."""
    return nbytes > _BAR_BYTES if progress is None else progress


def _chain_bytes(system, n, memory_budget) -> int:
    """Bytes of the count chain's dense ``N x N`` matrices, refused if over the budget."""
    C = n_compositions(n, system.S_l)  # exact Python int, any size
    N = system.S_g * C
    nbytes = 3 * N * N * 8
    check_fits(
        f"{_WHAT_PI} for n = {n} agents has N = {format_count(N)} count states (S_g = "
        f"{system.S_g} x C(n + S_l - 1, S_l - 1) = {format_count(C)}); its dense N x N matrices",
        nbytes,
        memory_budget,
        hint="Exact evaluation is for small systems: use fewer agents, pass memory_budget= "
        "(bytes) to raise the budget, or estimate the value with "
        "smfq_lib.execute.rollout_counts.",
    )
    return nbytes


def _star_bytes(system, n, memory_budget) -> int:
    """Bytes of the count MDP behind ``V*`` (:func:`~smfq_lib.evaluate.count_mdp.count_mdp_bytes`,
    plus the count states), refused if over the budget."""
    C = n_compositions(n, system.S_l)
    Cz = n_compositions(n, system.Z_l)
    entries = system.S_g * Cz * system.A_g
    nbytes = count_mdp_bytes(system, n) + C * (system.S_l + system.S_g + 2) * 8
    check_fits(
        f"{_WHAT_STAR} for n = {n} agents (S_g x C(n + S_l - 1, S_l - 1) = {system.S_g} x "
        f"{format_count(C)} count states) has a Q table of |S_g||A_g| C(n + |Z_l| - 1, "
        f"|Z_l| - 1) = {system.S_g} x {system.A_g} x {format_count(Cz)} = "
        f"{format_count(entries)} entries (with its working tables); it",
        nbytes,
        memory_budget,
        hint="Use fewer agents, or pass memory_budget= (bytes) to optimal_value, "
        "optimal_value_table or gap to raise the budget.",
    )
    return nbytes


def _phi_int(system):
    if system.aggregate is None:
        return None
    phi = np.asarray(system.aggregate.phi)
    if not np.all(phi == np.round(phi)):
        raise ValueError(
            "exact evaluation with an aggregate reward needs an integer-valued aggregate.phi: "
            "the law of x = sum_i phi[s_i, a_i] is computed exactly on the integer lattice. "
            f"Got phi = {phi.tolist()}. Rescale phi to integers (and rho accordingly), or "
            "estimate the value with smfq_lib.execute.rollout_counts."
        )
    return np.round(phi).astype(np.int64)


def _weights(system, n, s_g, counts, initial):
    """Weights over the count states (S_g, C) for a single state or an initial distribution
    (call after the size checks: this allocates ``S_g x C``)."""
    if initial is not None:
        if s_g is not None or counts is not None:
            raise ValueError(
                "pass either a state (s_g, counts) or initial=, not both: with initial=, "
                "leave s_g and counts as None."
            )
        return count_state_weights(system, n, initial)
    if s_g is None or counts is None:
        raise ValueError("give the state (s_g, counts) or an initial distribution initial=.")
    s_g = validate_index("s_g", s_g, system.S_g)
    c = validate_counts(counts, system.S_l, n)
    w = np.zeros((system.S_g, n_compositions(n, system.S_l)))
    w[s_g, rank(c)] = 1.0
    return w


def _sizes(system) -> tuple[int, int, int, int]:
    return system.S_g, system.S_l, system.A_g, system.A_l


def _expect(table, w):
    """``sum w * table`` using only the states with positive weight (exact for a point mass)."""
    nz = w > 0
    return float(np.sum(w[nz] * table[nz]))


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
@one_blas_thread
def policy_value_table(
    system: CooperativeSystem, policy, n: int, *, rule=None, memory_budget=None, progress=False
):
    """``V^{pi_k^est}`` of eq. (13) at every count state, shape ``(S_g, C(n, S_l))``.

    ``[s_g, rank(counts)]`` indexing. ``policy`` and ``rule`` as in :func:`policy_value`. Solved
    once per (system, policy, n, rule) and cached (see the module docstring). ``memory_budget``:
    bytes allowed for the dense count chain (default: half the available memory); ``progress``:
    a bar over the chain's rows (default False, for loops; None: only when the chain exceeds
    256 MiB).
    """
    n, memory_budget = _check_args(system, n, memory_budget, progress)
    laws = policy_laws(policy, rule, *_sizes(system), n, fingerprint=system.fingerprint)
    k = laws.k
    key = (id(system), id(policy), n, laws.rule)
    hit = _POLICY_CACHE.get(key)
    if (
        hit is not None
        and hit[0] is system
        and hit[1].k == k
        and (
            hit[1] is laws
            or (
                np.array_equal(hit[1].prob_g, laws.prob_g)
                and np.array_equal(hit[1].prob_l, laws.prob_l)
            )
        )
    ):
        _POLICY_CACHE.move_to_end(key)
        return hit[2]
    phi_int = _phi_int(system)
    nbytes = _chain_bytes(system, n, memory_budget)
    C = n_compositions(n, system.S_l)
    N = system.S_g * C
    comps_n = compositions(n, system.S_l)
    X = 0
    if phi_int is not None:
        X = n * int(phi_int.max() - phi_int.min()) + 1
        check_fits(f"the law of x over {N} count states", N * X * 8, memory_budget)
    Pmat = np.zeros((N, N))
    rdec = np.zeros(N)
    pg_all = np.zeros((N, system.A_g))
    xpmf = np.zeros((N, X))
    use_x = phi_int is not None
    if not use_x:
        phi_int = np.zeros((system.S_l, system.A_l), np.int64)
    wmin = int(phi_int.min())
    width = int(phi_int.max()) - wmin
    tables = policy_tables(k, system.S_l)
    tab, off = add_tables(n + 1, system.S_l)
    run_chunks(
        lambda a, b: chain_rows(
            a, b, system.P_g, system.P_l, system.r_g, system.r_l, phi_int, laws.prob_g,
            laws.prob_l, n, comps_n, *tables, tab, off, Pmat, rdec, pg_all, xpmf, use_x, wmin,
            width,
        ),
        N,
        progress=_bar(progress, nbytes),
        what=f"count chain of pi_k^est, n={n} k={k}",
        unit="row",
    )  # fmt: skip
    r = rdec
    if use_x:
        xbar = (np.arange(X) + n * int(phi_int.min())) / n
        sg_grid, ag_grid, x_grid = np.meshgrid(
            np.arange(system.S_g), np.arange(system.A_g), xbar, indexing="ij"
        )
        rho = system.aggregate_reward(sg_grid, ag_grid, x_grid)  # (S_g, A_g, X)
        rho_rows = rho[np.arange(N) // C]  # (N, A_g, X)
        r = r + np.einsum("ja,jx,jax->j", pg_all, xpmf, rho_rows)
    Pmat *= -system.gamma  # in place: I - gamma P
    Pmat[np.diag_indices(N)] += 1.0
    V = np.linalg.solve(Pmat, r).reshape(system.S_g, C)
    V.setflags(write=False)
    _cache_put(_POLICY_CACHE, key, (system, laws, V))
    return V


def policy_value(
    system: CooperativeSystem,
    policy,
    n: int,
    s_g=None,
    counts=None,
    *,
    initial=None,
    rule=None,
    memory_budget=None,
    progress=None,
) -> float:
    """Exact ``V^{pi_k^est}(s_0)`` (eq. 13) of Algorithm 3's randomized policy on ``n`` agents.

    ``policy``: a ``SubsampledQ``, an :class:`~smfq_lib.learning.policy.ActionLaws`, or an object
    with integer ``k``, ``pi_g``, ``pi_l``, with ``k <= n``; ``rule``: the tie rule (``None``: the
    policy's own, :func:`smfq_lib.learning.policy.policy_laws`).
    ``s_0`` is the count state ``(s_g, counts)`` (``counts`` over ``S_l``, summing to ``n``) or,
    with ``initial=`` (and ``s_g = counts = None``), an :class:`smfq_lib.execute.IIDInitial` or
    weights over the count states ``(S_g, C(n, S_l))``; the value is then the expectation.
    Raises ``ValueError`` when the count chain does not fit ``memory_budget`` (bytes; default
    half the available memory). ``progress``: a bar over the chain's rows; the default None
    shows it only for chains over 256 MiB (the slow solves), True/False always/never.

    ``system``: the :class:`~smfq_lib.CooperativeSystem` the policy runs on.
    """
    n, memory_budget = _check_args(system, n, memory_budget, progress)
    policy_laws(policy, rule, *_sizes(system), n, fingerprint=system.fingerprint)
    progress = _bar(progress, _chain_bytes(system, n, memory_budget))
    w = _weights(system, n, s_g, counts, initial)
    kw = dict(rule=rule, memory_budget=memory_budget, progress=progress)
    return _expect(policy_value_table(system, policy, n, **kw), w)


@one_blas_thread
def optimal_value_table(system: CooperativeSystem, n: int, *, memory_budget=None, progress=False):
    """``V*`` (eq. 4) at every count state, shape ``(S_g, C(n, S_l))``, ``||V - V*||_inf <=
    1e-12``: policy iteration on the count MDP (:mod:`smfq_lib.evaluate.count_mdp`).

    ``memory_budget`` (bytes; default half the available memory) bounds the count MDP's tables:
    they are refused before anything is allocated. ``progress``: a bar over the sweeps (default
    False, for loops; None: only when the tables exceed 256 MiB).

    ``system``: the :class:`~smfq_lib.CooperativeSystem`; ``n``: agents.
    """
    n, memory_budget = _check_args(system, n, memory_budget, progress)
    key = (id(system), n)
    hit = _OPTIMAL_CACHE.get(key)
    if hit is not None and hit[0] is system:
        _OPTIMAL_CACHE.move_to_end(key)
        return hit[1]
    progress = _bar(progress, _star_bytes(system, n, memory_budget))
    V = solve_count_mdp(system, n, VSTAR_TOL, progress)
    V.setflags(write=False)
    _cache_put(_OPTIMAL_CACHE, key, (system, V))
    return V


def optimal_value(
    system: CooperativeSystem,
    n: int,
    s_g=None,
    counts=None,
    *,
    initial=None,
    memory_budget=None,
    progress=None,
) -> float:
    """Exact ``V*(s_0)`` of the n-agent system (eq. 4); ``s_0`` as in :func:`policy_value`.

    ``memory_budget`` as in :func:`optimal_value_table`; ``progress``: its bar, shown by
    default (None) only when the count MDP's tables exceed 256 MiB (the slow solves),
    True/False always/never.

    ``system``: the :class:`~smfq_lib.CooperativeSystem`; ``n``: agents. The start state is the

    count state ``(s_g, counts)``, or the distribution ``initial=`` (then ``s_g = counts =

    None``), as in :func:`policy_value`.
    """
    n, memory_budget = _check_args(system, n, memory_budget, progress)
    progress = _bar(progress, _star_bytes(system, n, memory_budget))
    w = _weights(system, n, s_g, counts, initial)
    return _expect(
        optimal_value_table(system, n, memory_budget=memory_budget, progress=progress), w
    )


def gap(
    system: CooperativeSystem,
    policy,
    n: int,
    s_g=None,
    counts=None,
    *,
    initial=None,
    rule=None,
    memory_budget=None,
    progress=None,
) -> float:
    """Exact optimality gap ``V*(s_0) - V^{pi_k^est}(s_0)`` (the left side of Theorem 0.11) of
    ``policy`` under tie rule ``rule`` (as in :func:`policy_value`).

    Every argument is checked, and both solves' sizes against ``memory_budget``, before either
    solve starts; ``progress`` as in :func:`optimal_value` and :func:`policy_value`.

    ``system``, ``n``, ``s_g``, ``counts`` and ``initial`` give the system and the start state

    ``s_0`` as in :func:`policy_value`; ``policy`` and ``rule`` the policy evaluated.
    """
    n, memory_budget = _check_args(system, n, memory_budget, progress)
    policy_laws(policy, rule, *_sizes(system), n, fingerprint=system.fingerprint)
    _chain_bytes(system, n, memory_budget)
    _star_bytes(system, n, memory_budget)
    _weights(system, n, s_g, counts, initial)
    kw = dict(initial=initial, memory_budget=memory_budget, progress=progress)
    return optimal_value(system, n, s_g, counts, **kw) - policy_value(
        system, policy, n, s_g, counts, rule=rule, **kw
    )
