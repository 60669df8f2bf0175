"""Algorithm 3 (SUBSAMPLE-MFQ: Execution) on ``n`` agents: two executors of one process.

* :func:`rollout_agents` (:mod:`~.agents`) is the literal algorithm, cost O(n k) per step.
* :func:`rollout_counts` (:mod:`~.counts`) runs the same process in distribution on the
  sufficient statistic ``(s_g, counts)``, at a cost per step independent of ``n``.

Both run many rollouts in parallel (chunks of rollouts on ``numba.get_num_threads()`` threads,
through ``nogil`` kernels: see :func:`run_chunks`) and return a :class:`Rollouts`.

What they share: the start state ``s_0`` (line 1; :mod:`~.initial`: :class:`IIDInitial`,
:func:`iid_initial`, :func:`count_state_weights`), the per-rollout random streams, the reward
noise and the result type :class:`Rollouts` (:mod:`~.rollouts`), the argument checks, the memory
guard (``memory_budget=``, ``keep="returns"``) and the aggregate term (:mod:`~.run`), and the
parallel loop :func:`run_chunks` (:mod:`smfq_lib._utils.chunks`, shared with the learners and
the exact evaluation).
"""

from smfq_lib._utils.chunks import run_chunks
from smfq_lib.execute.agents import rollout_agents
from smfq_lib.execute.counts import rollout_counts
from smfq_lib.execute.initial import IIDInitial, count_state_weights, iid_initial
from smfq_lib.execute.rollouts import Rollouts

__all__ = [
    "IIDInitial",
    "Rollouts",
    "count_state_weights",
    "iid_initial",
    "rollout_agents",
    "rollout_counts",
    "run_chunks",
]
