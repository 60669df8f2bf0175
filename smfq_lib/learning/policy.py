"""The randomized policy ``pi_k^est`` of eq. (10), (11) on a population ``(s_g, counts)``, and
the one type that carries it: :class:`ActionLaws`.

Algorithm 3 runs a k-agent greedy policy on random samples of the population. The greedy policy
is an argmax (Algorithm 1 line 10, Algorithm 2 line 10), and the paper does not say how ties are
broken; ties are structural here, so the rule is part of the policy (``RULES``, below). Under any
rule a reading is a LAW over actions: ``prob_g[s_g, s_1, rank(c), a_g]`` for the global agent and
``prob_l[s_g, s_1, rank(c), a_1]`` for a local agent in state ``s_1`` whose sample's other
``k - 1`` agents have state counts ``c`` (a deterministic table is the one-hot case). Because
the agents are homogeneous and the samples uniform, the action distributions depend on the joint
state only through ``(s_g, counts)``, ``counts[s]`` the agents in state ``s`` (``sum = n``):

* Global agent, eq. (10). ``Delta`` is ``k`` of the ``n`` agents drawn uniformly without
  replacement; its state counts ``c_k`` (a composition of ``k`` into ``S_l`` parts) follow the
  multivariate hypergeometric law ``MVHG(c_k; counts)``. The table is read at a canonical
  representative of the sample: ``s_1`` := the LOWEST local state present in ``c_k`` plays the
  role of "agent 1" and ``c = c_k - e_{s_1}`` are the other ``k - 1``::

      p_g[a] = sum_{c_k} MVHG(c_k; counts) * prob_g[s_g, s_1(c_k), rank(c_k - e_{s_1}), a]

* Local agent in state ``s``, eq. (11). ``Delta_i`` is ``k - 1`` of the other ``n - 1`` agents,
  whose state counts are ``counts - e_s``::

      p_l[s, a] = sum_{c} MVHG(c; counts - e_s) * prob_l[s_g, s, rank(c), a]

  Rows of states with ``counts[s] = 0`` describe no agent; ``counts - e_s`` is then not a
  population, and those rows are left at zero.

Under every rule each agent draws its own sample and then its action from its reading's law,
independently of the other agents, so given ``(s_g, counts)`` the agents in one state act i.i.d.
``~ p_l[s]``, independently of ``a_g ~ p_g``: these mixture laws are all the count-level executor
and the exact evaluation need.

Both sums run over compositions, at a cost independent of ``n``; ``MVHG`` is evaluated in logs
(:func:`action_distributions_into`). This is the ONE place computing these distributions: the
count-level executor (:mod:`smfq_lib.execute`) and the exact evaluation
(:mod:`smfq_lib.evaluate`) both call it.

Tie rules (``RULES``)
---------------------
An entry is a maximizer when ``Q >= max - TIE_RTOL (1 + |max|)`` (``TIE_RTOL = 1e-11``,
:mod:`smfq_lib.learning.argmax`), ``max`` over the rule's candidates. Every candidate is read at
the canonical representative: agent 1, then the others' (state, action) cells ascending.

* ``"first"``: the first maximizer in the order ``(rank(zc), a_1, a_g)`` (``zc`` the others'
  (state, action) composition): the tables ``pi_g``, ``pi_l`` of the learners. Every agent in
  one state reads the same "agent 1" share of the same maximizer.
* ``"uniform"``: uniform over all ORDERED joint maximizers ``(a_g, a_1, ..., a_k)``; the laws are
  their marginals of ``a_g`` and ``a_1`` (the usual random tie-breaking of tabular RL).
* ``"coordinated"``: viewpoint-independent. Every reader picks the same joint maximizer
  ``(zc_k, a_g)`` of its k-sample's state profile ``c_k`` (the first in lexicographic order of
  ``zc_k``, then ``a_g``); the global agent takes its ``a_g``, a local agent in state ``s`` its
  state's share ``zc_k[s, :] / c_k[s]`` (a uniform role draw among the sample's agents in ``s``).
* ``"authors"``: the authors' public code's reading, for comparison only (never our policy): the
  ``"first"`` maximizer's ``a_g``, and for a local agent the most common action among the sampled
  agents of its own state in that maximizer.

The laws of a learned ``Q`` come from :meth:`smfq_lib.SubsampledQ.action_laws`
(:mod:`smfq_lib.learning.tie_rules`). ``DEFAULT_RULE`` is the rule used when none is named.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace

import numpy as np
from numba import njit

from smfq_lib._utils.checks import check_int, validate_counts, validate_index
from smfq_lib.model.combinatorics import compositions, n_compositions, rank

__all__ = [
    "DEFAULT_RULE",
    "RULES",
    "ActionLaws",
    "action_distributions",
    "action_distributions_into",
    "check_system",
    "policy_laws",
    "policy_tables",
    "scratch_for",
    "transfer",
    "validate_policy",
]

#: The tie rules, by name (module docstring).
RULES = ("first", "uniform", "coordinated", "authors")
#: The rule used when none is named, chosen by exact measurement (worst case over start states of
#: ``V* - V^{pi_k^est}``, count chain): "coordinated" is never worse than "first" on any case
#: measured, is the best rule on every tie-rich case at ``k >= 3``, and is the only rule that
#: attains ``V*`` at ``k = n`` where joint optima that are not permutations of each other tie.
#: Two hazard zones without costs (``constrained_exploration(M=3, d=2, hazard=[(0, 0), (2, 2)],
#: cover_reward=0, move_cost=0)``, n = 4): at k = n = 4 gap 1.02 (first, authors), 0.68
#: (uniform), 0 (coordinated); at k = 3: 0.68, 0.68, 0.52; at k = 1, 2 "uniform" is slightly
#: better (0.69, 0.68 against 0.71, 0.70 for the others); rewards perturbed by 1e-3: 0 for all.
#: ``two_zone`` (tests), n = k = 4: 6.75 (first), 4.5 (uniform), 0 (coordinated). Gaussian
#: squeeze, 3 loads, n = 8, value at "all sent 0" for k = 3..8 (V* = 11.95): first 0, uniform
#: 10.8-11.1, coordinated 11.4-11.8. Random systems with decomposed rewards (40 seeds, n = 6,
#: every k): every rule gives the same value (no ties), all below Theorem 0.11's bound.
#: "uniform" loses where non-permutation optima tie (each agent mixes them independently);
#: "first" where the optimum splits one state's agents (all read agent 1's share).
DEFAULT_RULE = "coordinated"


@dataclass(frozen=True, eq=False)
class ActionLaws:
    """The laws of a k-agent greedy policy's readings under one tie rule: what both executors
    (:mod:`smfq_lib.execute`) and the exact evaluation (:mod:`smfq_lib.evaluate`) consume.

    ``prob_g[s_g, s_1, rank(c), a_g]``, ``prob_l[s_g, s_1, rank(c), a_1]``: float arrays of shapes
    ``(S_g, S_l, C(k-1, S_l), A_g)`` and ``(S_g, S_l, C(k-1, S_l), A_l)``, every row a
    distribution (module docstring). ``rule`` names the tie rule behind them (``RULES``, or
    ``"custom"`` for laws built by hand). Made by :meth:`smfq_lib.SubsampledQ.action_laws` or
    :meth:`one_hot`; validated on construction and stored read-only.
    """

    k: int
    rule: str
    prob_g: np.ndarray
    prob_l: np.ndarray

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 1:
            raise ValueError(f"k must be an integer >= 1; got {self.k!r}.")
        if self.rule not in RULES + ("custom",):
            raise ValueError(f"rule must be one of {RULES} or 'custom'; got {self.rule!r}.")
        lead = None
        for name in ("prob_g", "prob_l"):
            arr = np.array(getattr(self, name), dtype=np.float64, order="C")  # a private copy
            if arr.ndim != 4 or (lead is not None and arr.shape[:3] != lead):
                raise ValueError(
                    f"{name} must have shape (S_g, S_l, C(k-1, S_l), A), the same first three "
                    f"axes for prob_g and prob_l; got {arr.shape}."
                )
            lead = arr.shape[:3]
            Cs = n_compositions(int(self.k) - 1, lead[1])
            if lead[2] != Cs:
                raise ValueError(
                    f"{name} has {lead[2]} rows per (s_g, s_1); k = {self.k} over S_l = {lead[1]} "
                    f"states needs C(k-1, S_l) = {Cs}."
                )
            if not np.all(np.isfinite(arr)) or arr.min(initial=0.0) < 0.0:
                raise ValueError(f"{name} must hold finite non-negative probabilities.")
            if arr.size and np.abs(arr.sum(axis=-1) - 1.0).max() > 1e-9:
                raise ValueError(f"every row of {name} must sum to 1 (an action distribution).")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "k", int(self.k))

    @classmethod
    def one_hot(cls, k, pi_g, pi_l, A_g: int, A_l: int, rule: str = "first") -> ActionLaws:
        """The laws of deterministic tables ``pi_g``, ``pi_l`` (int, ``(S_g, S_l, Cs)``)."""
        return cls(k, rule, np.eye(A_g)[np.asarray(pi_g)], np.eye(A_l)[np.asarray(pi_l)])

    def distributions(self, s_g, counts) -> tuple[np.ndarray, np.ndarray]:
        """``(p_g, p_l)`` of eq. (10), (11) at the population ``(s_g, counts)``: shapes
        ``(A_g,)`` and ``(S_l, A_l)`` (rows of empty states are zero)."""
        S_g, S_l, _, A_g = self.prob_g.shape
        counts = validate_counts(counts, S_l, None)
        _check_k(self.k, int(counts.sum()))
        s_g = validate_index("s_g", s_g, S_g)
        p_g = np.zeros(A_g)
        p_l = np.zeros((S_l, self.prob_l.shape[3]))
        action_distributions_into(
            p_g, p_l, self.prob_g, self.prob_l, s_g, counts, *policy_tables(self.k, S_l),
            scratch_for(self.k, S_l),
        )  # fmt: skip
        return p_g, p_l


def check_system(policy, fingerprint: str) -> None:
    """``ValueError`` if ``policy`` was learned on a system other than the one whose
    :attr:`~smfq_lib.CooperativeSystem.fingerprint` is ``fingerprint``.

    Policies that carry no ``system_fingerprint`` (``ActionLaws``, bare tables, files saved
    before fingerprints) are not checked. :func:`transfer` re-labels a policy for another system
    on purpose."""
    own = getattr(policy, "system_fingerprint", None)
    if own is not None and own != fingerprint:
        raise ValueError(
            f"this policy was learned on another system (fingerprint {own}; this system's is "
            f"{fingerprint}): its Q describes other dynamics or rewards. Use it on the system it "
            "was learned on, or, to transfer it on purpose, pass "
            "smfq_lib.learning.policy.transfer(policy, system)."
        )


def transfer(policy, system):
    """A copy of ``policy`` (a ``SubsampledQ`` or ``LinearQ``) marked as meant for ``system``:
    the explicit override of :func:`check_system`, for a deliberate transfer of a policy to a
    system of the same sizes (its ``Q`` is unchanged)."""
    if not (dataclasses.is_dataclass(policy) and hasattr(policy, "system_fingerprint")):
        raise ValueError(f"policy must be a SubsampledQ or LinearQ; got {type(policy).__name__}.")
    if not isinstance(getattr(system, "fingerprint", None), str):
        raise ValueError(
            f"system must be an smfq_lib.CooperativeSystem; got {type(system).__name__}."
        )
    return dataclasses.replace(policy, system_fingerprint=system.fingerprint)


def policy_laws(
    policy, rule, S_g: int, S_l: int, A_g: int, A_l: int, n=None, *, fingerprint=None
) -> ActionLaws:
    """The :class:`ActionLaws` of ``policy`` under tie rule ``rule``, checked against the sizes
    of a system and against ``n`` (``k <= n``).

    ``policy``: a :class:`smfq_lib.SubsampledQ` (any object with a method ``action_laws(rule)``),
    an :class:`ActionLaws`, or an object with integer ``k, pi_g, pi_l`` (deterministic tables:
    their one-hot laws, which only rule ``"first"`` describes). ``rule=None`` means the policy's
    own rule: ``DEFAULT_RULE`` for a SubsampledQ, ``laws.rule`` for ActionLaws, ``"first"`` for
    tables. Raises ``ValueError`` on an unknown rule or one the policy cannot honour.

    ``S_g``, ``S_l``, ``A_g``, ``A_l``: the system's sizes; ``n``: agents, or ``None``;
    ``fingerprint``: the system's :attr:`~smfq_lib.CooperativeSystem.fingerprint`, checked
    against the policy's first (:func:`check_system`).
    """
    if fingerprint is not None:
        check_system(policy, fingerprint)
    if rule is not None and rule not in RULES:
        raise ValueError(f"rule must be None (the default) or one of {RULES}; got {rule!r}.")
    if isinstance(policy, ActionLaws):
        if rule is not None and rule != policy.rule:
            raise ValueError(
                f"rule={rule!r}, but these ActionLaws were computed under rule {policy.rule!r}: "
                "pass rule=None, or pass the SubsampledQ to get the laws of another rule."
            )
        laws = policy
    elif callable(getattr(policy, "action_laws", None)):
        laws = policy.action_laws(rule)
    else:
        if rule not in (None, "first"):
            raise ValueError(
                f"rule={rule!r} needs the learned Q (a SubsampledQ) or ActionLaws; "
                f"{type(policy).__name__} carries deterministic tables pi_g, pi_l only, which "
                "are rule 'first'. Pass rule='first' or rule=None."
            )
        k, pi_g, pi_l = validate_policy(policy, S_g, S_l, A_g, A_l, n)
        return ActionLaws.one_hot(k, pi_g, pi_l, A_g, A_l)
    Cs = n_compositions(laws.k - 1, S_l)
    for name, A in (("prob_g", A_g), ("prob_l", A_l)):
        if getattr(laws, name).shape != (S_g, S_l, Cs, A):
            raise ValueError(
                f"the policy's {name} has shape {getattr(laws, name).shape}; this system with "
                f"k = {laws.k} needs (S_g, S_l, C(k-1, S_l), A) = ({S_g}, {S_l}, {Cs}, {A})."
            )
    _check_k(laws.k, n)
    return laws


def _check_k(k: int, n) -> None:
    if n is not None and k > n:
        raise ValueError(
            f"policy.k = {k} exceeds the number of agents n = {n}; Algorithm 3 samples k of "
            f"the n agents, so k <= n is required. Learn with a smaller k or use more agents."
        )


@lru_cache(maxsize=64)
def policy_tables(k: int, S_l: int):
    """Index tables of a k-agent policy over ``S_l`` local states (read-only arrays).

    Returns ``(comps_km1, comps_k, ck_s1, ck_rank)``: the compositions of ``k - 1`` and of ``k``
    into ``S_l`` parts in rank order, and for every composition ``c_k`` of ``k`` its canonical
    ``s_1`` (lowest state present) and ``rank(c_k - e_{s_1})``.
    """
    comps_km1 = compositions(k - 1, S_l)
    comps_k = compositions(k, S_l)
    ck_s1 = np.argmax(comps_k > 0, axis=1).astype(np.int64)
    ck_rank = np.empty(comps_k.shape[0], dtype=np.int64)
    for j in range(comps_k.shape[0]):
        c = comps_k[j].copy()
        c[ck_s1[j]] -= 1
        ck_rank[j] = rank(c)
    for arr in (comps_km1, comps_k, ck_s1, ck_rank):
        arr.setflags(write=False)
    return comps_km1, comps_k, ck_s1, ck_rank


@njit(cache=True)
def action_distributions_into(
    p_g, p_l, prob_g, prob_l, s_g, counts, comps_km1, comps_k, ck_s1, ck_rank, scratch
):
    """Kernel of eq. (10), (11): fill ``p_g`` (A_g,) and ``p_l`` (S_l, A_l) in place from the law
    tables ``prob_g``, ``prob_l`` (:class:`ActionLaws`; one-hot rows add exactly the weights a
    deterministic table would, so "first" results are unchanged bit for bit).

    ``comps_km1, comps_k, ck_s1, ck_rank`` come from :func:`policy_tables`; ``scratch`` is a
    float64 array of shape ``(S_l + 1, k + 1)``. See the module docstring for the formulas and
    the canonical representative of the global agent's sample.

    The hypergeometric weights ``prod_s C(N_s, c_s) / C(N, t)`` are evaluated in logs from
    falling factorials ``log N_s (N_s - 1) ... (N_s - c + 1)`` tabulated once per call for
    ``c <= k`` (``scratch[s, c]``), so a call costs ``O(S_l k)`` logarithms plus ``O(S_l)``
    additions per composition, whatever ``n``, and the weights keep full relative precision;
    each non-empty row is renormalised to sum to 1 (rounding drift of order 1e-15).

    ``s_g``, ``counts``: the count state (global state, local state counts over ``S_l``).
    """
    S_l = counts.shape[0]
    k = 0
    for q in range(S_l):
        k += comps_k[0, q]
    lf = scratch
    lgs = scratch[S_l]  # lgs[c] = log c!
    lgs[0] = 0.0
    for c in range(1, k + 1):
        lgs[c] = lgs[c - 1] + math.log(c)
    n = 0
    for q in range(S_l):
        n += counts[q]
        lf[q, 0] = 0.0
        for c in range(1, k + 1):
            if lf[q, c - 1] == -np.inf or counts[q] - c + 1 <= 0:
                lf[q, c] = -np.inf
            else:
                lf[q, c] = lf[q, c - 1] + math.log(counts[q] - c + 1)
    log_ff_n = 0.0  # log n (n-1) ... (n-k+1)
    for i in range(k):
        log_ff_n += math.log(n - i)
    p_g[:] = 0.0
    p_l[:, :] = 0.0
    # global agent, eq. (10): c_k ~ MVHG(k; counts)
    log_norm = log_ff_n - lgs[k]
    tot = 0.0
    for j in range(comps_k.shape[0]):
        lw = -log_norm
        for q in range(S_l):
            cq = comps_k[j, q]
            lw += lf[q, cq] - lgs[cq]
        if lw > -np.inf:
            w = math.exp(lw)
            for a in range(p_g.shape[0]):
                p_g[a] += w * prob_g[s_g, ck_s1[j], ck_rank[j], a]
            tot += w
    for a in range(p_g.shape[0]):
        p_g[a] /= tot
    # local agents, eq. (11): c ~ MVHG(k - 1; counts - e_s)
    log_norm = log_ff_n - math.log(n) - lgs[k - 1]
    for s in range(S_l):
        if counts[s] == 0:
            continue
        log_ns = math.log(counts[s])
        tot = 0.0
        for r in range(comps_km1.shape[0]):
            lw = -log_norm
            for q in range(S_l):
                cq = comps_km1[r, q]
                if q == s:  # falling factorial of counts[s] - 1
                    lw += lf[q, cq + 1] - log_ns - lgs[cq]
                else:
                    lw += lf[q, cq] - lgs[cq]
            if lw > -np.inf:
                w = math.exp(lw)
                for a in range(p_l.shape[1]):
                    p_l[s, a] += w * prob_l[s_g, s, r, a]
                tot += w
        for a in range(p_l.shape[1]):
            p_l[s, a] /= tot


def scratch_for(k: int, S_l: int) -> np.ndarray:
    """The ``scratch`` array :func:`action_distributions_into` needs.

    ``k``: the policy's sample size; ``S_l``: local states.
    """
    return np.zeros((S_l + 1, k + 1))


def validate_policy(policy, S_g: int, S_l: int, A_g: int, A_l: int, n: int | None = None):
    """Check a policy object (attributes ``k``, ``pi_g``, ``pi_l``) against a system and ``n``.

    Returns ``(k, pi_g, pi_l)`` as ``int``, int64 C-contiguous arrays. Raises ``ValueError``
    naming the offending attribute.

    ``S_g``, ``S_l``, ``A_g``, ``A_l``: the system's sizes; ``n``: agents, or ``None``.
    """
    for attr in ("k", "pi_g", "pi_l"):
        if not hasattr(policy, attr):
            raise ValueError(
                f"policy must have attributes k, pi_g, pi_l (e.g. a SubsampledQ from "
                f"smfq_lib.learn); {type(policy).__name__} has no attribute {attr!r}."
            )
    try:
        k = int(policy.k)
    except (TypeError, ValueError):
        raise ValueError(f"policy.k must be a positive integer; got {policy.k!r}.") from None
    if k != policy.k or k < 1:
        raise ValueError(f"policy.k must be a positive integer; got {policy.k!r}.")
    if n is not None:
        n = check_int("n", n, 1, fix="n is the number of local agents.")
    _check_k(k, n)
    Cs = n_compositions(k - 1, S_l)
    out = []
    for name, A in (("pi_g", A_g), ("pi_l", A_l)):
        arr = np.asarray(getattr(policy, name))
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"policy.{name} must be an integer array of action codes; got dtype {arr.dtype}."
            )
        if arr.shape != (S_g, S_l, Cs):
            raise ValueError(
                f"policy.{name} must have shape (S_g, S_l, C(k-1, S_l)) = ({S_g}, {S_l}, {Cs}) "
                f"for k = {k}; got {arr.shape}."
            )
        if arr.size and (arr.min() < 0 or arr.max() >= A):
            raise ValueError(
                f"policy.{name} holds action codes outside [0, {A}) (min {arr.min()}, "
                f"max {arr.max()}); each entry must be a valid action index."
            )
        out.append(np.ascontiguousarray(arr, dtype=np.int64))
    return k, out[0], out[1]


def action_distributions(pi_g, pi_l, k, s_g, counts, *, A_g=None, A_l=None):
    """Action distributions of ``pi_k^est`` (eq. 10, 11) for the population ``(s_g, counts)``
    under deterministic tables (rule ``"first"``; other rules: :meth:`ActionLaws.distributions`).

    ``pi_g``, ``pi_l``: int arrays ``(S_g, S_l, C(k-1, S_l))`` (the learned tables); ``k``: the
    sample size; ``counts``: agents per local state, summing to ``n >= k``. Returns
    ``(p_g, p_l)`` of shapes ``(A_g,)`` and ``(S_l, A_l)`` (``p_l[s]``: the action distribution
    of any agent in state ``s``; zero where ``counts[s] = 0``). ``A_g``, ``A_l`` default to one
    more than the largest action code in the tables; pass the system's sizes for full width.
    """
    pi_g, pi_l = np.asarray(pi_g), np.asarray(pi_l)
    if pi_g.ndim != 3:
        raise ValueError(f"pi_g must have shape (S_g, S_l, C(k-1, S_l)); got {pi_g.shape}.")
    S_g, S_l = pi_g.shape[0], pi_g.shape[1]
    counts = validate_counts(counts, S_l, None)
    n = int(counts.sum())
    A_g = (int(pi_g.max()) + 1 if pi_g.size else 1) if A_g is None else A_g
    A_l = (int(np.max(pi_l)) + 1 if pi_l.size else 1) if A_l is None else A_l
    tables = SimpleNamespace(k=k, pi_g=pi_g, pi_l=pi_l)
    return policy_laws(tables, "first", S_g, S_l, A_g, A_l, n).distributions(s_g, counts)
