"""The model of the paper's Problem Formulation: what the algorithms learn on and act in.

* :mod:`~.system`: :class:`CooperativeSystem` ``(P_g, P_l, r_g, r_l, gamma)`` of eq. (1)-(3),
  validated, with the optional :class:`Aggregate` reward term and :class:`RewardNoise`
  (Theorem 0.13);
* :mod:`~.oracle`: :class:`GenerativeOracle`, the black-box oracle of Algorithms 1, 2 (samplers of
  eq. 1, 2 and the rewards of eq. 3, no transition tables);
* :mod:`~.combinatorics`: empirical distributions (eq. 5, 7; Definition 0.8) as compositions,
  ranked, and the count states ``(s_g, counts)`` they index (docs/design.md §2);
* :mod:`~.examples`: Examples 0.1 and 0.2, the instances built so that ``k`` matters, random
  systems and agent types (Remark 0.6).
"""

from smfq_lib.model.oracle import GenerativeOracle
from smfq_lib.model.system import Aggregate, CooperativeSystem, RewardNoise

__all__ = ["Aggregate", "CooperativeSystem", "GenerativeOracle", "RewardNoise"]
