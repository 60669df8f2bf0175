"""The standard multi-agent API: a cooperative system or a generative oracle as a PettingZoo
``ParallelEnv``, and a learned policy as every agent's action function (docs/design.md §11).

``parallel_env(system_or_oracle, n, *, horizon, seed=0)`` (:mod:`~.parallel`) returns a
:class:`CooperativeParallelEnv`; ``agent_policy(policy, env, *, rule=None)`` (:mod:`~.policy`)
returns the :class:`AgentPolicy` giving every agent's action from its own observation
(Algorithm 3). What the environment steps, and how a system or an oracle is read:
:mod:`~.dynamics`.

The environment's choices:

* **Agents.** ``"global"`` and ``"local_0"`` .. ``"local_{n-1}"``, all live from ``reset`` to the
  end of the episode (``agents == possible_agents``), then none.
* **Observations** are what Algorithm 3 reads, as ``gymnasium.spaces.MultiDiscrete``: the global
  agent ``(s_g, counts)``, local agent ``i`` ``(s_g, s_i, counts)``, ``counts[s]`` the local
  agents in state ``s`` (``nvec``: ``S_g``, ``S_l``, then ``n + 1`` per count). The spaces are
  one object per role, shared by the local agents.
* **Actions** ``Discrete(A_g)`` and ``Discrete(A_l)``; ``step`` needs one per live agent.
* **Reward.** The cooperative team reward of eq. (3), the system's stage reward on the current
  state and actions (with its aggregate term and reward noise, Theorem 0.13, if it has them; an
  oracle's ``r_g + (1/n) sum_i r_l``), given to EVERY agent.
* **Episodes** are truncated at ``horizon`` steps, never terminated: the discounted return
  ``sum_{t < H} gamma^t r_t`` estimates ``V(s_0)`` (eq. 4) for ``gamma^H`` negligible.
* **Start.** ``reset`` draws ``s_0`` i.i.d. (``initial=``, default uniform, like
  :func:`smfq_lib.execute.iid_initial`) or takes ``options={"s_g": ..., "local_states": ...}``.
* **Random numbers.** One NumPy ``Generator`` (PCG64) per environment, seeded by ``seed=`` and
  restarted by ``reset(seed=...)``: the same seed and actions give the same episodes. The
  policy draws from the generator passed to it.
* ``state()`` is the joint state ``(s_g, s_1, ..., s_n)``; ``render_mode="ansi"`` renders the
  step, ``s_g`` and the counts; ``close()`` releases nothing.
"""

from smfq_lib.envs.parallel import CooperativeParallelEnv, parallel_env
from smfq_lib.envs.policy import AgentPolicy, agent_policy

__all__ = ["AgentPolicy", "CooperativeParallelEnv", "agent_policy", "parallel_env"]
