"""The operator of each algorithm (docs/design.md §3): Algorithm 1 is
:class:`~.tabular.TabularOperator`, Algorithm 2 :class:`~.mean_field.MeanFieldOperator`, both
behind the interface :class:`~.operator.Operator`, which imports neither of them.
"""

from __future__ import annotations

from smfq_lib.learning.mean_field import MeanFieldOperator
from smfq_lib.learning.operator import Operator
from smfq_lib.learning.tabular import TabularOperator

__all__ = ["operator_class"]


def operator_class(algorithm: str) -> type[Operator]:
    """The operator of the resolved ``algorithm`` (``"tabular"`` or ``"mean_field"``; ``"auto"``
    and ``"paper"`` are resolved by :func:`~.learner.choose_algorithm` first)."""
    return {"tabular": TabularOperator, "mean_field": MeanFieldOperator}[algorithm]
