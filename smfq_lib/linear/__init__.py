"""SUBSAMPLE-MFQ with a linear model (Definition 0.14, Theorem 0.15): the non-tabular setting.

``learn_linear(system, k, features)`` (:mod:`~.learner`) fits ``Q(s_g, s_1, F, a_1, a_g) =
theta[s_g, s_1, a_1, a_g] . phi(F)`` by fitted value iteration on the k-agent mean-field
subsystem (design and targets: :mod:`~.fitted`) and returns a :class:`LinearQ` (:mod:`~.result`).
Feature maps: :mod:`~.features`. The greedy step in closed form for features affine in ``F``:
:mod:`~.greedy`. Execution with the function policy, per sampled agent: :func:`rollout_linear`
(:mod:`~.execute`). Chapter 10's runs and figure panels: :mod:`~.experiments`, :mod:`~.figures`.
docs/design.md §10.
"""

from smfq_lib.linear.execute import rollout_linear
from smfq_lib.linear.features import (
    Features,
    affine_features,
    custom_features,
    linear_features,
    mean_features,
    one_hot_features,
)
from smfq_lib.linear.learner import learn_linear
from smfq_lib.linear.result import LinearQ

__all__ = [
    "Features",
    "LinearQ",
    "affine_features",
    "custom_features",
    "learn_linear",
    "linear_features",
    "mean_features",
    "one_hot_features",
    "rollout_linear",
]
