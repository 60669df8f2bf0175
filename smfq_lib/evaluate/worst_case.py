"""The exact optimality gap at every count state and its worst case over start states.

Theorem 0.11 bounds ``V*(s) - V^{pi_k^est}(s)`` for EVERY start state ``s``. The gap at one
start state is often 0 already at ``k = 1`` (docs/design.md §9), so the quantity that tests the
theorem's rate is the worst case over start states. Both come from the exact value tables of
:mod:`smfq_lib.evaluate` (``optimal_value_table`` and ``policy_value_table``, indexed
``[s_g, rank(counts)]``), which are permutation invariant, so the maximum over count states is
the maximum over the joint states ``S_g x S_l^n``.

* :func:`gap_table`: ``V* - V^{pi_k^est}`` at every count state, shape ``(S_g, C(n, S_l))``.
* :func:`worst_case_gap`: its maximum and a count state ``(s_g, counts)`` attaining it (the
  first in index order among the states within :data:`~smfq_lib._utils.rounding.ROUNDOFF` of the
  maximum, so that mirror-image states whose gaps differ only by round-off give one answer on
  every processor).

``k_or_q`` is either the sample size ``k`` (the policy is then learned here:
``learn(system, k, None)``, the exact operator, eq. 12) or a learned policy (a ``SubsampledQ``,
:class:`~smfq_lib.learning.policy.ActionLaws`, or an object with integer ``k``, ``pi_g``, ``pi_l``),
as :func:`smfq_lib.evaluate.policy_value` takes it.
"""

from __future__ import annotations

import numbers

import numpy as np

from smfq_lib._utils.budget import check_budget
from smfq_lib._utils.checks import check_int
from smfq_lib._utils.rounding import canonical_argmax
from smfq_lib.evaluate.values import optimal_value_table, policy_value_table
from smfq_lib.learning.policy import RULES, policy_laws
from smfq_lib.model.combinatorics import unrank
from smfq_lib.model.system import CooperativeSystem

__all__ = ["gap_table", "worst_case_gap"]


def _policy(system, n, k_or_q, rule, algorithm, tol, memory_budget):
    """Check every argument, then the policy: ``k_or_q`` itself, or ``learn(system, k)``."""
    if not isinstance(system, CooperativeSystem):
        raise ValueError(
            f"system must be a smfq_lib.CooperativeSystem; got {type(system).__name__}."
        )
    n = check_int("n", n, 1, fix="n is the number of local agents.")
    if rule is not None and rule not in RULES:
        raise ValueError(f"rule must be None (the default) or one of {RULES}; got {rule!r}.")
    memory_budget = check_budget(memory_budget)
    if isinstance(k_or_q, numbers.Integral) and not isinstance(k_or_q, bool):
        k = check_int(
            "k_or_q", k_or_q, 1, n, fix="As an integer it is the sample size k, 1 <= k <= n."
        )
        from smfq_lib.learning import learn

        return n, learn(
            system, k, None, algorithm=algorithm, tol=tol, progress=False,
            memory_budget=memory_budget,
        )  # fmt: skip
    if isinstance(k_or_q, bool | numbers.Number | str) or k_or_q is None:
        raise ValueError(
            "k_or_q must be the sample size k (an integer, 1 <= k <= n) or a learned policy "
            f"(a SubsampledQ, ActionLaws, or an object with k, pi_g, pi_l); got {k_or_q!r}."
        )
    if (algorithm, tol) != ("auto", 1e-8):
        raise ValueError(
            "algorithm= and tol= say how to learn the policy of a sample size k; with a learned "
            f"policy (k_or_q = {type(k_or_q).__name__}) leave them at their defaults."
        )
    sizes = (system.S_g, system.S_l, system.A_g, system.A_l)
    policy_laws(k_or_q, rule, *sizes, n, fingerprint=system.fingerprint)  # checks k <= n, system
    return n, k_or_q


def gap_table(
    system: CooperativeSystem,
    n: int,
    k_or_q,
    *,
    rule=None,
    algorithm: str = "auto",
    tol: float = 1e-8,
    memory_budget=None,
) -> np.ndarray:
    """Exact ``V*(s) - V^{pi_k^est}(s)`` (the left side of Theorem 0.11) at every count state
    ``s = (s_g, counts)`` of ``n`` agents, shape ``(S_g, C(n + S_l - 1, S_l - 1))``, indexed
    ``[s_g, rank(counts)]`` like :func:`smfq_lib.evaluate.optimal_value_table`.

    ``k_or_q``: the sample size ``k`` (``1 <= k <= n``; the policy is learned with
    ``learn(system, k, None, algorithm=algorithm, tol=tol)``) or a learned policy
    (``algorithm`` and ``tol`` must then keep their defaults); ``rule``: the tie rule
    (``smfq_lib.learning.policy.RULES``; None: the policy's own, "coordinated" for a SubsampledQ);
    ``memory_budget``: bytes allowed to each
    solve (default half the available memory). Every argument is checked before any work.
    Values are exact to the solvers' tolerance: ``V*`` to 1e-12, the policy's value to rounding
    (the policy itself is learned to ``tol``), so gaps within about 1e-9 of 0 are 0.
    """
    n, policy = _policy(system, n, k_or_q, rule, algorithm, tol, memory_budget)
    V_star = optimal_value_table(system, n, memory_budget=memory_budget)
    return V_star - policy_value_table(system, policy, n, rule=rule, memory_budget=memory_budget)


def worst_case_gap(
    system: CooperativeSystem,
    n: int,
    k_or_q,
    *,
    rule=None,
    algorithm: str = "auto",
    tol: float = 1e-8,
    memory_budget=None,
) -> tuple[float, tuple[int, tuple[int, ...]]]:
    """``max_s V*(s) - V^{pi_k^est}(s)`` over every start state ``s`` of ``n`` agents, and the
    maximising state: ``(gap, (s_g, counts))`` with ``counts`` a tuple over ``S_l`` summing to
    ``n`` (canonical: the first state in index order whose gap is within
    :data:`~smfq_lib._utils.rounding.ROUNDOFF` of the maximum). Arguments (``system``, ``n``,
    ``k_or_q``, ``rule``, ``algorithm``, ``tol``, ``memory_budget``) as in :func:`gap_table`.
    """
    table = gap_table(
        system, n, k_or_q, rule=rule, algorithm=algorithm, tol=tol, memory_budget=memory_budget
    )
    s_g, r = np.unravel_index(canonical_argmax(table), table.shape)
    counts = unrank(int(r), n, system.S_l)
    return float(table.max()), (int(s_g), tuple(int(c) for c in counts))
