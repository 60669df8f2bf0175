"""A cooperative system (or a generative oracle) as a PettingZoo ``ParallelEnv`` on ``n`` local
agents: :func:`parallel_env` (docs/design.md §11; the choices are listed in
:mod:`smfq_lib.envs`).

One step (eq. 1-3): the actions ``a_g`` and ``a_i`` of every live agent come in; the stage reward
of eq. (3) is computed on the current state (:meth:`~.dynamics.Dynamics.reward`); then
``s_g' ~ P_g(. | s_g, a_g)`` and ``s_i' ~ P_l(. | s_i, s_g, a_i)`` by ONE call of each sampler
(all ``n`` locals in one call); the observations of the new state are built from
``counts = bincount(s')``. Cost ``O(n)`` per step, vectorised, plus the ``O(n)`` Python dicts of
the PettingZoo API. Random numbers come from one :class:`numpy.random.Generator` (PCG64) per
environment, used in a fixed order per step (reward noise, global sampler, local sampler), so a
run is a function of the seed.
"""

from __future__ import annotations

import numpy as np
from gymnasium import logger
from gymnasium.spaces import Discrete, MultiDiscrete
from pettingzoo import ParallelEnv

from smfq_lib._utils.checks import check_int, check_seed, validate_index
from smfq_lib.envs.dynamics import Dynamics, as_dynamics
from smfq_lib.execute.initial import IIDInitial, iid_initial

__all__ = ["GLOBAL", "CooperativeParallelEnv", "local_name", "parallel_env"]

#: The global agent's name; local agent ``i`` is :func:`local_name` ``(i)``.
GLOBAL = "global"
_START_KEYS = ("s_g", "local_states", "initial")


def local_name(i: int) -> str:
    """The name of local agent ``i``: ``"local_i"``."""
    return f"local_{i}"


class CooperativeParallelEnv(ParallelEnv):
    """The PettingZoo ``ParallelEnv`` of :func:`parallel_env` (see there and :mod:`smfq_lib.envs`).

    Built by :func:`parallel_env`, which checks its arguments: ``dynamics`` (a checked
    :class:`~.dynamics.Dynamics`), ``n`` local agents, ``horizon`` steps per episode, ``seed`` of
    the generator, ``initial`` (the default start law, an ``IIDInitial``), ``render_mode``. They
    are attributes too (``seed`` aside), with ``t``, the steps taken in the episode.
    """

    metadata = {"name": "smfq_cooperative_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, dynamics: Dynamics, n: int, horizon: int, seed: int, initial, render_mode):
        self.dynamics = dynamics
        self.n = n
        self.horizon = horizon
        self.initial = initial
        self.render_mode = render_mode
        self.possible_agents = [GLOBAL] + [local_name(i) for i in range(n)]
        self._index = {name: i for i, name in enumerate(self.possible_agents)}  # global: 0
        self.agents = []
        d = dynamics
        self._spaces = {
            "obs_global": MultiDiscrete([d.S_g] + [n + 1] * d.S_l),
            "obs_local": MultiDiscrete([d.S_g, d.S_l] + [n + 1] * d.S_l),
            "act_global": Discrete(d.A_g),
            "act_local": Discrete(d.A_l),
        }
        self.state_space = MultiDiscrete([d.S_g] + [d.S_l] * n)
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self.t = 0
        self._s_g = 0
        self._s = np.zeros(n, np.int64)

    # spaces ------------------------------------------------------------------------------------
    def _role(self, agent) -> str:
        if agent == GLOBAL:
            return "global"
        if agent in self._index:
            return "local"
        raise ValueError(
            f"unknown agent {agent!r}; the agents are 'global' and 'local_0' .. "
            f"'local_{self.n - 1}'."
        )

    def observation_space(self, agent) -> MultiDiscrete:
        """``MultiDiscrete``: ``(s_g, counts)`` for the global agent, ``(s_g, s_i, counts)`` for
        a local agent (one space object per role, shared by the local agents)."""
        return self._spaces["obs_" + self._role(agent)]

    def action_space(self, agent) -> Discrete:
        """``Discrete(A_g)`` for the global agent, ``Discrete(A_l)`` for a local agent (one
        space object per role)."""
        return self._spaces["act_" + self._role(agent)]

    @property
    def observation_spaces(self) -> dict:
        return {a: self.observation_space(a) for a in self.possible_agents}

    @property
    def action_spaces(self) -> dict:
        return {a: self.action_space(a) for a in self.possible_agents}

    # the episode -------------------------------------------------------------------------------
    def reset(self, seed=None, options=None):
        """Start an episode at ``s_0`` (Algorithm 3, line 1); returns ``(observations, infos)``.

        ``seed``: an int in ``[0, 2**63)`` restarts the environment's generator from it (the
        episode is then a function of ``seed`` and the actions); ``None`` continues it.
        ``options``: ``None``, or a dict with ``"s_g"`` and ``"local_states"`` (a fixed start:
        the global state and every agent's local state) or ``"initial"`` (an
        :class:`~smfq_lib.execute.IIDInitial` for this episode); without them ``s_0`` is drawn
        from the environment's ``initial``. Other keys are ignored (PettingZoo's
        ``parallel_api_test`` passes ``{"options": 1}``).
        """
        if seed is not None:
            self._rng = np.random.Generator(np.random.PCG64(check_seed(seed)))
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options must be None or a dict; got {type(options).__name__}.")
        start = {key: options[key] for key in _START_KEYS if options and key in options}
        d = self.dynamics
        if "s_g" in start or "local_states" in start:
            if set(start) != {"s_g", "local_states"}:
                raise ValueError(
                    "options: a fixed start needs both 's_g' and 'local_states' (and no "
                    f"'initial'); got the keys {sorted(start)}."
                )
            self._s_g = validate_index("options['s_g']", start["s_g"], d.S_g)
            self._s = _local_states(start["local_states"], self.n, d.S_l)
        else:
            law = self.initial
            if "initial" in start:
                law = _initial(start["initial"], d, "options['initial']")
            self._s_g = int(self._rng.choice(d.S_g, p=law.p_g))
            self._s = self._rng.choice(d.S_l, size=self.n, p=law.p_l).astype(np.int64)
        self.t = 0
        self.agents = self.possible_agents[:]
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions):
        """One step of eq. (1)-(3) (module docstring) from the actions of every live agent.

        Returns ``(observations, rewards, terminations, truncations, infos)``, each a dict over
        the agents live before the step: the team reward of eq. (3) to every agent, no
        termination, truncation at ``horizon`` steps (the agents then leave: reset to go on).
        """
        if not self.agents:
            raise ValueError(
                "step() needs a running episode: call reset() first (after a truncation too)."
            )
        a_g, a = self._actions(actions)
        d, rng, s_g, s = self.dynamics, self._rng, self._s_g, self._s
        reward = d.reward(s_g, a_g, s, a, rng)
        self._s_g, self._s = d.step(s_g, a_g, s, a, rng)
        self.t += 1
        done = self.t >= self.horizon
        agents = self.agents
        out = (
            self._observations(),
            dict.fromkeys(agents, reward),
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, done),
            {agent: {} for agent in agents},
        )
        if done:
            self.agents = []
        return out

    def _actions(self, actions):
        """``(a_g, a)`` from the actions dict, checked: one per live agent, none else, integer
        codes in range."""
        if not isinstance(actions, dict):
            raise ValueError(
                f"actions must be a dict agent -> action; got {type(actions).__name__}."
            )
        if actions.keys() != self._index.keys():  # every agent is live while stepping
            missing = [name for name in self.agents if name not in actions]
            extra = [name for name in actions if name not in self._index]
            raise ValueError(
                "actions must hold exactly one action per live agent ('global', 'local_0' .. "
                f"'local_{self.n - 1}'); missing {missing[:5]}, unknown {extra[:5]}."
            )
        d = self.dynamics
        a_g = _codes("actions['global']", [actions[GLOBAL]], d.A_g)[0]
        local = list(map(actions.__getitem__, self.possible_agents[1:]))
        a = _codes("the local agents' actions", local, d.A_l)
        return int(a_g), a

    def _observations(self) -> dict:
        """``{global: (s_g, counts), local_i: (s_g, s_i, counts)}`` of the current state: rows
        of one fresh int64 array."""
        counts = np.bincount(self._s, minlength=self.dynamics.S_l)
        rows = np.empty((self.n, 2 + counts.size), np.int64)
        rows[:, 0] = self._s_g
        rows[:, 1] = self._s
        rows[:, 2:] = counts
        obs = {GLOBAL: np.concatenate([[self._s_g], counts]).astype(np.int64)}
        obs.update(zip(self.possible_agents[1:], rows, strict=True))
        return obs

    def state(self) -> np.ndarray:
        """The joint state ``(s_g, s_1, ..., s_n)`` (``state_space``, for centralised
        training)."""
        return np.concatenate([[self._s_g], self._s]).astype(np.int64)

    def render(self):
        """``render_mode="ansi"``: the step, ``s_g`` and the counts as a string; ``None``
        (with a gymnasium warning) without a render mode."""
        if self.render_mode is None:
            logger.warn("render() was called without a render_mode; pass render_mode='ansi'.")
            return None
        counts = np.bincount(self._s, minlength=self.dynamics.S_l)
        return f"t={self.t} s_g={self._s_g} counts={counts.tolist()}"

    def close(self):
        """Nothing to release."""


def _codes(name: str, values: list, size: int) -> np.ndarray:
    """``values`` as an int64 vector of codes in ``[0, size)``, else ``ValueError`` (booleans,
    floats and out-of-range codes are refused, never converted)."""
    arr = np.asarray(values)
    ok = arr.dtype.kind in "iu" and arr.ndim == 1
    ok = ok and not any(issubclass(t, bool | np.bool_) for t in set(map(type, values)))
    if ok and arr.size:
        ok = int(arr.min()) >= 0 and int(arr.max()) < size
    if not ok:
        bad = next(v for v in values if not _is_code(v, size))
        raise ValueError(f"{name} must be integer codes in [0, {size}); got {bad!r}.")
    return arr.astype(np.int64, copy=False)


def _is_code(v, size: int) -> bool:
    kind = np.asarray(v).dtype.kind
    return np.ndim(v) == 0 and kind in "iu" and not isinstance(v, bool) and 0 <= int(v) < size


def _local_states(value, n: int, S_l: int) -> np.ndarray:
    arr = np.asarray(value)
    if (
        arr.shape != (n,)
        or arr.dtype.kind not in "iu"
        or (n and not 0 <= arr.min() <= arr.max() < S_l)
    ):
        raise ValueError(
            f"options['local_states'] must be an integer array of shape ({n},) with states in "
            f"[0, {S_l}); got {value!r}."
        )
    return arr.astype(np.int64)


def _initial(value, dynamics, name: str) -> IIDInitial:
    """``value`` (``None``: uniform) as a checked :class:`~smfq_lib.execute.IIDInitial`."""
    if value is None:
        return iid_initial(dynamics)
    if not isinstance(value, IIDInitial):
        raise ValueError(
            f"{name} must be None (uniform) or an smfq_lib.execute.IIDInitial (made by "
            f"iid_initial(system, p_g, p_l)); got {type(value).__name__}."
        )
    return iid_initial(dynamics, value.p_g, value.p_l)


def parallel_env(
    system_or_oracle, n, *, horizon, seed=0, initial=None, render_mode=None
) -> CooperativeParallelEnv:
    """A cooperative system (eq. 1-3) or a generative oracle as a PettingZoo ``ParallelEnv``.

    Parameters
    ----------
    system_or_oracle : CooperativeSystem or generative oracle
        A :class:`smfq_lib.CooperativeSystem`, or any object with ``S_g, S_l, A_g, A_l, gamma,
        r_g, r_l, sample_global, sample_local`` (the protocol of :mod:`smfq_lib.envs.dynamics`,
        e.g. an ``smfq_lib.GenerativeOracle``).
    n : int
        Local agents, ``>= 1``: the agents are ``"global"`` and ``"local_0"`` ..
        ``"local_{n-1}"``.
    horizon : int
        Keyword. Steps per episode, ``>= 1``; the episode is truncated there (never terminated).
    seed : int
        Keyword. Seed of the environment's generator, in ``[0, 2**63)`` (default 0): the same
        seed and actions give the same episodes. ``reset(seed=...)`` restarts it.
    initial : IIDInitial or None
        Keyword. The law of ``s_0`` (Algorithm 3, line 1): ``s_g ~ p_g`` and every local state
        i.i.d. ``~ p_l`` (:func:`smfq_lib.execute.iid_initial`); ``None`` (default) uniform.
        ``reset(options=...)`` can fix a start instead.
    render_mode : None or "ansi"
        Keyword. ``"ansi"``: ``render()`` returns the step, ``s_g`` and the counts.

    Returns
    -------
    CooperativeParallelEnv
        Observations ``(s_g, counts)`` (global) and ``(s_g, s_i, counts)`` (local ``i``) as
        ``MultiDiscrete``, actions ``Discrete(A_g)``, ``Discrete(A_l)``, the team reward of
        eq. (3) for every agent; ``state()`` the joint state ``(s_g, s_1, ..., s_n)``.

    Raises
    ------
    ValueError
        On a bad argument, naming it, before anything is built.
    """
    dynamics = as_dynamics(system_or_oracle)
    n = check_int("n", n, 1, fix="Pass the number of local agents.")
    horizon = check_int("horizon", horizon, 1, fix="Episodes are truncated at horizon steps.")
    seed = check_seed(seed)
    initial = _initial(initial, dynamics, "initial")
    if render_mode not in (None, "ansi"):
        raise ValueError(f"render_mode must be None or 'ansi'; got {render_mode!r}.")
    return CooperativeParallelEnv(dynamics, n, horizon, seed, initial, render_mode)
