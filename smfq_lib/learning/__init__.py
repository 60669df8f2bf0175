"""SUBSAMPLE-MFQ learning (Algorithms 1 and 2) on a ``k``-agent subsystem.

``learn`` (:mod:`~.learner`: arguments, algorithm choice, memory guard, iteration loop) returns a
``SubsampledQ`` (:mod:`~.result`). Algorithm 1 is :mod:`~.tabular`, Algorithm 2
:mod:`~.mean_field`; both implement :class:`~.operator.Operator`. Their Numba kernels:
:mod:`~.tabular_kernels`, :mod:`~.mean_field_kernels`, :mod:`~.sampled` (the fixed samples'
gather, shared; :mod:`~.oracle_samples`: the same samples drawn through a
``GenerativeOracle``), :mod:`~.argmax` (greedy tables, shared), :mod:`~.tie_rules` (the laws of
each tie rule, ``SubsampledQ.action_laws``); reward tables of eq. (6): :mod:`~.rewards`,
:mod:`~.reward_noise`. ``learn_online`` (:mod:`~.online`): Algorithm 2's table learned from one
trajectory of the n-agent system, without a generative oracle.
"""

from smfq_lib.learning.learner import choose_algorithm, learn, table_bytes
from smfq_lib.learning.online import learn_online
from smfq_lib.learning.result import SubsampledQ

__all__ = ["learn", "learn_online", "SubsampledQ", "choose_algorithm", "table_bytes"]
