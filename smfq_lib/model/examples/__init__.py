"""The paper's two examples as :class:`~smfq_lib.model.system.CooperativeSystem` s, plus test
systems.

* :func:`gaussian_squeeze` -- Example 0.1 (traffic controllers sending loads onto a main road).
* :func:`constrained_exploration` -- Example 0.2 (a global agent confines local agents to a
  ``d x d`` box of an ``M x M`` warehouse grid so that they clean a hazard zone).
* :func:`two_zone_exploration` -- Example 0.2 with two hazard zones of different value, so that
  the box's best position depends on where the agents are (``k`` matters).
* :func:`majority_mode` -- a mode the local agents are rewarded for matching: the best global
  action is the majority of the local states, which a sample of ``k`` agents estimates (the
  instance on which the optimality gap of Theorem 0.11 falls like its ``sqrt((n-k+1)/(nk))``).
* :func:`random_system` -- Dirichlet transitions and uniform rewards, for tests and benchmarks.
* :func:`with_types` -- heterogeneous agents by folding a type set into ``S_l`` (Remark 0.6).

The paper states the examples in one paragraph each and leaves the experiment details to its
supplementary section J, which we do not have. Every modelling choice made here to turn them into
finite ``(P_g, P_l, r_g, r_l)`` arrays is listed in the docstring of the function that makes it;
:func:`describe` renders that docstring as Markdown (chapter 1 shows all four examples).
"""

from smfq_lib.model.examples.describe import describe
from smfq_lib.model.examples.exploration import (
    ACTIONS,
    box_cells,
    constrained_exploration,
    hazard_cells,
    two_zone_exploration,
)
from smfq_lib.model.examples.majority import majority_mode
from smfq_lib.model.examples.squeeze import GaussianSqueezeRho, gaussian_squeeze
from smfq_lib.model.examples.synthetic import random_system, with_types

__all__ = [
    "ACTIONS",
    "GaussianSqueezeRho",
    "box_cells",
    "constrained_exploration",
    "describe",
    "gaussian_squeeze",
    "hazard_cells",
    "majority_mode",
    "random_system",
    "two_zone_exploration",
    "with_types",
]
