"""``LinearQ``: the fitted linear model of :func:`smfq_lib.linear.learn_linear`, its greedy policy
and the policy's laws under each tie rule (docs/design.md §4, §10).

A ``LinearQ`` is a policy wherever a :class:`smfq_lib.SubsampledQ` is: it has ``k`` and
``action_laws(rule)``, so :func:`smfq_lib.execute.rollout_agents`,
:func:`smfq_lib.execute.rollout_counts` and :func:`smfq_lib.evaluate.policy_value` take it as
they are, through its law tables over the ``C(k - 1 + S_l - 1, S_l - 1)`` state compositions of a
reading. Those tables are computed in closed form for affine features under rules ``"first"`` and
``"coordinated"`` (:func:`~.greedy.closed_form_laws`), otherwise from the model tabulated over
every (state, action) composition (the learners' own :func:`~smfq_lib.learning.argmax.mf_argmax`
and :func:`~smfq_lib.learning.tie_rules.action_laws`); each is refused with its size when it does
not fit. Where the tables do not fit (large ``k``), :func:`smfq_lib.linear.rollout_linear`
evaluates the policy per sampled agent instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from smfq_lib._utils.blas import one_blas_thread
from smfq_lib._utils.budget import check_fits
from smfq_lib._utils.checks import format_count
from smfq_lib.learning.argmax import mf_argmax
from smfq_lib.learning.policy import (
    DEFAULT_RULE,
    RULES,
    ActionLaws,
    validate_counts,
    validate_index,
)
from smfq_lib.learning.tie_rules import action_laws
from smfq_lib.linear.features import Features
from smfq_lib.linear.greedy import closed_form_laws, first_reading, reading_tables
from smfq_lib.model.combinatorics import compositions, marginal_ranks, n_compositions

__all__ = ["LinearQ", "model_table", "tabulate_value"]

#: Rules with a closed-form greedy step (codes of :func:`~.greedy.closed_form_laws`).
CLOSED_RULES = {"first": 0, "coordinated": 1}


@one_blas_thread
def model_table(theta, features: Features, k: int, Phi_all=None) -> np.ndarray:
    """The model over every composition of the ``k - 1`` others, shaped like Algorithm 2's ``Q``:
    ``(S_g, S_l, Cz, A_l, A_g)`` (``Phi_all``: the features of ``compositions(k - 1, Z_l)``)."""
    if features.k is not None:  # one-hot composition index: theta is the table
        return np.ascontiguousarray(theta.transpose(0, 1, 4, 2, 3))
    if Phi_all is None:
        Phi_all = features(compositions(k - 1, features.Z_l))
    return np.ascontiguousarray(np.einsum("rd,gsabd->gsrab", Phi_all, theta))


def tabulate_value(theta, features: Features, k: int, S_l: int, Phi_all=None) -> np.ndarray:
    """``V[s_g, s_1, rank(c)]``: the max of the tabulated model over ``a_1``, ``a_g`` and every
    split with state marginal ``c`` (:func:`~smfq_lib.learning.argmax.mf_argmax`)."""
    Q5 = model_table(theta, features, k, Phi_all)
    S_g, A_l = Q5.shape[0], Q5.shape[3]
    Cs = int(n_compositions(k - 1, S_l))
    V = np.empty((S_g, S_l, Cs))
    pi = np.empty((2, S_g, S_l, Cs), np.int64)
    mf_argmax(Q5, marginal_ranks(k - 1, S_l, A_l), V, pi[0], pi[1])
    return V


@dataclass(eq=False)
class LinearQ:
    """Result of :func:`smfq_lib.linear.learn_linear`.

    ``theta``: shape ``(S_g, S_l, A_l, A_g, d)``, the model ``Q(s_g, s_1, F, a_1, a_g) =
    theta[s_g, s_1, a_1, a_g] . phi(F)``; ``features``: ``phi``; ``k, m, M``: sample size,
    next-state samples (None: exact), design size (None: every composition); ``design``: the
    design compositions ``(M, Z_l)``; ``residuals``: the largest change of the fitted values at
    the design per iteration; ``converged``: whether it fell below the stopping rule;
    ``fit_rmse``: the root-mean-square of the last least-squares residual (the projection error
    at the design); ``seconds``, ``seed``, ``ridge``, ``alpha``; ``sizes``: ``(S_g, S_l, A_g,
    A_l)``; ``system_fingerprint``: the :attr:`~smfq_lib.CooperativeSystem.fingerprint` of the
    system it was learned on (the executors refuse another); ``_laws``: the law tables computed
    so far, by rule (a cache of :meth:`action_laws`).
    """

    k: int
    m: int | None
    M: int | None
    features: Features
    theta: np.ndarray
    design: np.ndarray
    residuals: np.ndarray
    converged: bool
    seconds: float
    seed: int
    ridge: float
    alpha: float
    sizes: tuple[int, int, int, int]
    fit_rmse: float
    system_fingerprint: str | None = None
    _laws: dict = field(default_factory=dict, init=False, repr=False)

    def q_table(self, memory_budget=None) -> np.ndarray:
        """The model over every (state, action) composition of the others, shaped like
        Algorithm 2's ``Q`` (``SubsampledQ.Q`` with ``algorithm="mean_field"``)."""
        S_g, S_l, A_g, A_l = self.sizes
        Cz = n_compositions(self.k - 1, S_l * A_l)
        check_fits(
            f"the model over all {format_count(Cz)} compositions",
            8 * S_g * S_l * A_l * A_g * Cz,
            memory_budget,
            hint="The closed-form greedy step (affine features) needs no table.",
        )
        return model_table(self.theta, self.features, self.k)

    def value(self, s_g, s_1, counts) -> float:
        """``V(s_g, s_1, c)``: the model's max over ``a_g``, ``a_1`` and the others' action split,
        ``counts`` the others' state counts (summing to ``k - 1``)."""
        return self._read(s_g, s_1, counts)[2]

    def greedy(self, s_g, s_1, counts) -> tuple[int, int, np.ndarray]:
        """Rule ``"first"``'s maximizer at ``(s_g, s_1, c)``: ``(a_g, a_1, zc)`` with ``zc`` the
        others' (state, action) composition (shape ``(S_l, A_l)``). Affine features only."""
        a1, ag, _, x = self._read(s_g, s_1, counts, full=True)
        S_l, A_l = self.sizes[1], self.sizes[3]
        c = validate_counts(counts, S_l, None) if self.k > 1 else np.zeros(S_l, np.int64)
        zc = np.zeros((S_l, A_l), np.int64)
        for s in range(S_l):
            if c[s]:
                zc[s, x[s]] = c[s]
        return ag, a1, zc

    def _read(self, s_g, s_1, counts, full=False):
        S_g, S_l = self.sizes[0], self.sizes[1]
        if not self.features.affine:
            raise ValueError(
                f"features {self.features.name!r} are not affine in F: read the model through "
                "q_table() or action_laws(rule)."
            )
        s_g = validate_index("s_g", s_g, S_g)
        s_1 = validate_index("s_1", s_1, S_l)
        c = validate_counts(counts, S_l, self.k - 1) if self.k > 1 else np.zeros(S_l, np.int64)
        B, w, mws = reading_tables(self.theta, self.features)
        x, xb, present = (np.empty(S_l, np.int64) for _ in range(3))
        q = np.empty(B.shape[2] * B.shape[3])
        a1, ag, V = first_reading(
            B, w, mws, s_g, s_1, c, 1.0 / max(self.k - 1, 1), x, xb, present, q
        )
        return (int(a1), int(ag), float(V), xb) if full else (int(a1), int(ag), float(V))

    def action_laws(self, rule: str | None = None, memory_budget=None) -> ActionLaws:
        """The :class:`~smfq_lib.learning.policy.ActionLaws` of the greedy policy under ``rule``
        (``None``: ``DEFAULT_RULE``), over every state composition of a reading (module
        docstring)."""
        rule = DEFAULT_RULE if rule is None else rule
        if rule not in RULES:
            raise ValueError(f"rule must be None or one of {RULES}; got {rule!r}.")
        if rule not in self._laws:
            self._laws[rule] = self._compute_laws(rule, memory_budget)
        return self._laws[rule]

    def _compute_laws(self, rule, budget):
        S_g, S_l, A_g, A_l = self.sizes
        k = self.k
        Cs = n_compositions(k - 1, S_l)
        check_fits(
            f"the law tables over C(k - 1 + S_l - 1, S_l - 1) = {format_count(Cs)} state "
            f"compositions (k = {k})",
            8 * S_g * S_l * Cs * (A_g + A_l),
            budget,
            hint="Execute with smfq_lib.linear.rollout_linear, which reads the policy per "
            "sampled agent.",
        )
        Cs = int(Cs)
        if self.features.affine and rule in CLOSED_RULES:
            B, w, mws = reading_tables(self.theta, self.features)
            prob_g, prob_l = np.empty((S_g, S_l, Cs, A_g)), np.empty((S_g, S_l, Cs, A_l))
            closed_form_laws(B, w, mws, k, CLOSED_RULES[rule], prob_g, prob_l)
            return ActionLaws(k, rule, prob_g, prob_l)
        Q5 = self.q_table(budget)
        if rule == "first":
            V = np.empty((S_g, S_l, Cs))
            pi = np.empty((2, S_g, S_l, Cs), np.int64)
            mf_argmax(Q5, marginal_ranks(k - 1, S_l, A_l), V, pi[0], pi[1])
            return ActionLaws.one_hot(k, pi[0], pi[1], A_g, A_l)
        return action_laws(Q5, k, "mean_field", rule)
