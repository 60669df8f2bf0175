"""Exact evaluation on systems small enough to enumerate the count states (docs/design.md §5).

* :mod:`~.values`: ``V^{pi_k^est}`` (eq. 13) of the randomized policy as a Markov chain on the
  count states (its rows: :mod:`~.count_chain`), ``V*`` (policy iteration on the count MDP,
  :mod:`~.count_mdp`: Algorithm 2's exact operator at ``k = n``), hence the exact gap of eq.
  (4) at a start state or under a distribution ``s_0``;
* :mod:`~.worst_case`: the gap at every count state (:func:`gap_table`) and its maximum over
  start states (:func:`worst_case_gap`), the left side of Theorem 0.11;
* :mod:`~.gap_study`: chapter 8's gap curves over ``k`` beside the bound, and their slopes.
"""

from smfq_lib.evaluate.values import (
    clear_cache,
    gap,
    optimal_value,
    optimal_value_table,
    policy_value,
    policy_value_table,
)
from smfq_lib.evaluate.worst_case import gap_table, worst_case_gap

__all__ = [
    "clear_cache",
    "gap",
    "gap_table",
    "optimal_value",
    "optimal_value_table",
    "policy_value",
    "policy_value_table",
    "worst_case_gap",
]
