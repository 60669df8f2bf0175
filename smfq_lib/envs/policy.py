"""Algorithm 3's decentralised policy ``pi_k^est`` acting inside the environment's loop: every
agent's action from its own observation (docs/design.md §11).

A learned policy (:class:`smfq_lib.SubsampledQ`, :class:`smfq_lib.LinearQ`, or its
:class:`~smfq_lib.learning.policy.ActionLaws`) is read through the law tables the package
already computes (:func:`smfq_lib.learning.policy.policy_laws`: ``prob_g[s_g, s_1, rank(c)]``,
``prob_l[s_g, s_1, rank(c)]`` under a tie rule), as :func:`smfq_lib.execute.rollout_agents` reads
them:

* a local agent observing ``(s_g, s_i, counts)`` samples ``k - 1`` of the other ``n - 1`` agents
  uniformly without replacement: their state counts ``c`` are a multivariate hypergeometric draw
  from ``counts - e_{s_i}``; it plays ``a_i ~ prob_l[s_g, s_i, rank(c)]``;
* the global agent observing ``(s_g, counts)`` samples ``k`` of the ``n`` agents: counts
  ``c_k ~ MVHG(counts, k)``, read at the canonical representative ``s_1`` = the lowest state in
  ``c_k``, ``c = c_k - e_{s_1}``; it plays ``a_g ~ prob_g[s_g, s_1, rank(c)]``.

Each agent draws its own sample and action, independently of the others, so the actions given
``(s_g, counts)`` have the laws ``p_g``, ``p_l[s]`` of eq. (10), (11), the process of
``rollout_agents`` in distribution (not draw for draw: the environment's generator is NumPy's).
Cost per call ``O(n)`` vectorised: one hypergeometric call per distinct observation (at most
``S_l`` in one step of one environment).
"""

from __future__ import annotations

import numpy as np

from smfq_lib.envs.parallel import GLOBAL, CooperativeParallelEnv
from smfq_lib.learning.policy import ActionLaws, policy_laws
from smfq_lib.linear.features import _ranks  # rank() of every row, in one kernel

__all__ = ["AgentPolicy", "agent_policy"]


def _draw(rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One action per law row (inverse CDF: the index ``j`` with ``cdf[j-1] <= u < cdf[j]``)."""
    cdf = np.cumsum(rows, axis=1)
    cdf /= cdf[:, -1:]
    return (cdf <= u[:, None]).sum(axis=1)


class AgentPolicy:
    """``pi_k^est`` under one tie rule for the agents of one environment (:func:`agent_policy`).

    Call it with the observations dict of a step and a :class:`numpy.random.Generator`: it
    returns the actions dict of the same agents (module docstring). :meth:`action` is one
    agent's action from its own observation. Built by :func:`agent_policy` from the policy's
    ``laws`` (:class:`ActionLaws`, checked against ``env``); attributes ``laws``, ``k``, ``rule``.
    """

    def __init__(self, laws: ActionLaws, env: CooperativeParallelEnv):
        self.laws = laws
        self.k = laws.k
        self.rule = laws.rule
        self._env = env

    def __call__(self, observations, rng) -> dict:
        """The actions dict of every agent in ``observations`` (a dict agent -> observation)."""
        if not isinstance(rng, np.random.Generator):
            raise ValueError(
                f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)); got "
                f"{type(rng).__name__}."
            )
        if not isinstance(observations, dict):
            raise ValueError(
                f"observations must be the dict agent -> observation of the environment; got "
                f"{type(observations).__name__}."
            )
        unknown = observations.keys() - self._env.possible_agents
        if unknown:
            self._env.observation_space(min(unknown))  # the ValueError naming the agents
        actions = {}
        if GLOBAL in observations:
            actions[GLOBAL] = self._global(self._rows([GLOBAL], observations, 1)[0], rng)
        names = [name for name in observations if name != GLOBAL]
        if names:
            local = self._locals(self._rows(names, observations, 2), rng)
            actions.update(zip(names, local, strict=True))
        return actions

    def action(self, agent, observation, rng) -> int:
        """One agent's action from its own observation (:meth:`__call__` for that agent)."""
        return self({agent: observation}, rng)[agent]

    def _rows(self, names, observations, lead: int) -> np.ndarray:
        """The observations of ``names`` as an int64 array, checked (vectorised): in the agent's
        space, counts summing to ``n``, and a local agent's own state among them."""
        space = self._env.observation_space(names[0])
        n = self._env.n

        def valid(arr):  # arr: (m, len) integers
            good = np.all((arr >= 0) & (arr < space.nvec), axis=1)
            good &= arr[:, lead:].sum(axis=1) == n
            if lead == 2:
                own = np.clip(arr[:, 1], 0, space.nvec[1] - 1)
                good &= arr[np.arange(arr.shape[0]), 2 + own] >= 1
            return bool(good.all())

        def ok(arr):  # arr: (m, ...) stacked observations
            return arr.shape[1:] == space.shape and arr.dtype.kind in "iu" and valid(arr)

        try:
            arr = np.stack([observations[name] for name in names])
        except ValueError:  # shapes differ
            arr = None
        if arr is not None and ok(arr):
            return arr.astype(np.int64, copy=False)
        rows = [np.asarray(observations[name]) for name in names]
        bad = next(i for i, row in enumerate(rows) if not ok(row[None]))
        what = "(s_g, counts)" if lead == 1 else "(s_g, s_i, counts)"
        raise ValueError(
            f"observations[{names[bad]!r}] must be {what} of this environment: integers in its "
            f"observation space, counts summing to n = {n}; got {rows[bad]!r}."
        )

    def _global(self, row: np.ndarray, rng) -> int:
        ck = rng.multivariate_hypergeometric(row[1:], self.k)
        s1 = int(np.argmax(ck > 0))
        ck[s1] -= 1
        law = self.laws.prob_g[row[0], s1, _ranks(ck[None, :].astype(np.int64))[0]]
        return int(_draw(law[None, :], rng.random(1))[0])

    def _locals(self, rows: np.ndarray, rng) -> list[int]:
        order = np.lexsort(rows.T[::-1])  # agents grouped by distinct observation
        ordered = rows[order]
        new = np.flatnonzero(np.r_[True, (np.diff(ordered, axis=0) != 0).any(axis=1)])
        comps = np.empty((rows.shape[0], rows.shape[1] - 2), np.int64)
        for lo, hi in zip(new, np.r_[new[1:], rows.shape[0]], strict=True):
            others = ordered[lo, 2:].copy()
            others[ordered[lo, 1]] -= 1  # Delta_i: k - 1 of the other n - 1 agents
            comps[order[lo:hi]] = rng.multivariate_hypergeometric(others, self.k - 1, size=hi - lo)
        laws = self.laws.prob_l[rows[:, 0], rows[:, 1], _ranks(comps)]
        return _draw(laws, rng.random(rows.shape[0])).tolist()


def agent_policy(policy, env, *, rule=None) -> AgentPolicy:
    """The learned ``policy`` as the action function of every agent of ``env`` (Algorithm 3).

    Parameters
    ----------
    policy : SubsampledQ, LinearQ, ActionLaws, or an object with ``k``, ``pi_g``, ``pi_l``
        What :func:`smfq_lib.execute.rollout_agents` accepts; ``policy.k <= env.n``. A policy
        learned on a :class:`~smfq_lib.CooperativeSystem` is refused on an environment of
        another system or oracle (its fingerprint); a duck-typed oracle without a ``fingerprint``
        checks the sizes only.
    env : CooperativeParallelEnv
        From :func:`smfq_lib.envs.parallel_env`.
    rule : str or None
        Keyword. The tie rule (``smfq_lib.learning.policy.RULES``); ``None`` the policy's own
        (``DEFAULT_RULE`` for a learned ``Q``).

    Returns
    -------
    AgentPolicy
        ``pol(observations, rng)`` -> the actions dict; ``pol.action(agent, obs, rng)``.
    """
    if not isinstance(env, CooperativeParallelEnv):
        raise ValueError(
            f"env must come from smfq_lib.envs.parallel_env; got {type(env).__name__}."
        )
    d = env.dynamics
    laws = policy_laws(policy, rule, d.S_g, d.S_l, d.A_g, d.A_l, env.n, fingerprint=d.fingerprint)
    return AgentPolicy(laws, env)
