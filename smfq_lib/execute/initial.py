"""The start state of Algorithm 3 (line 1: ``(s_g(0), s_[n](0)) ~ s_0``) for both executors.

A start state is given as ``(s_g, counts)``, as ``s_g`` with a full vector of local states, or as
a distribution ``initial=`` (an :class:`IIDInitial` from :func:`iid_initial`, or weights over the
count states, :func:`count_state_weights`, also used by :mod:`smfq_lib.evaluate`). Initial states
drawn from a distribution are sampled in NumPy before the kernels run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smfq_lib._utils.checks import real_array, validate_counts, validate_index
from smfq_lib.model.combinatorics import n_compositions, unrank
from smfq_lib.model.system import CooperativeSystem

__all__ = ["IIDInitial", "check_start", "count_state_weights", "draw_start", "iid_initial"]


@dataclass(frozen=True, eq=False)
class IIDInitial:
    """Initial distribution ``s_0`` (Algorithm 3, line 1): ``s_g ~ p_g`` and each agent's local
    state i.i.d. ``~ p_l``, so ``counts ~ Multinomial(n, p_l)``.

    Fields: ``p_g``, float array ``(S_g,)``; ``p_l``, float array ``(S_l,)``; each non-negative,
    summing to 1. Build it with :func:`iid_initial`, which checks them.
    """

    p_g: np.ndarray
    p_l: np.ndarray


def iid_initial(system: CooperativeSystem, p_g=None, p_l=None) -> IIDInitial:
    """An i.i.d. initial distribution ``s_0`` for the executors' and evaluators' ``initial=``.

    Parameters
    ----------
    system : CooperativeSystem
        The system, for its sizes ``S_g`` and ``S_l``.
    p_g : float array of shape (S_g,), or None
        Law of the start global state: non-negative, summing to 1 (within 1e-9; renormalised).
        Default ``None``: uniform over the ``S_g`` states.
    p_l : float array of shape (S_l,), or None
        Law of every agent's start local state, independently: non-negative, summing to 1.
        Default ``None``: uniform over the ``S_l`` states.

    Returns
    -------
    IIDInitial
        ``s_g(0) ~ p_g`` and ``s_i(0) ~ p_l`` i.i.d., so ``counts(0) ~ Multinomial(n, p_l)``.
    """
    out = []
    for name, p, size in (("p_g", p_g, system.S_g), ("p_l", p_l, system.S_l)):
        if p is None:
            p = np.full(size, 1.0 / size)
        p = real_array(name, p)
        if p.shape != (size,) or p.min() < 0:
            raise ValueError(f"{name} must be a non-negative vector of length {size}; got {p!r}.")
        if abs(p.sum() - 1.0) > 1e-9:
            raise ValueError(f"{name} must sum to 1; got sum {p.sum()!r}. Normalise it.")
        out.append(p / p.sum())
    return IIDInitial(out[0], out[1])


def count_state_weights(system: CooperativeSystem, n: int, initial) -> np.ndarray:
    """A start distribution as weights over the count states ``(s_g, counts)``.

    Parameters
    ----------
    system : CooperativeSystem
        The system, for ``S_g`` and ``S_l``.
    n : int
        Number of agents: the count states are the ``C = C(n + S_l - 1, S_l - 1)``
        compositions of ``n`` into ``S_l`` parts, in the rank order of
        :mod:`smfq_lib.model.combinatorics`.
    initial : IIDInitial or float array of shape (S_g, C) or (S_g * C,)
        An :class:`IIDInitial` (converted exactly: ``p_g[s_g] * Multinomial(counts; n, p_l)``,
        one pmf per composition), or weights indexed ``[s_g, rank(counts)]``, non-negative,
        summing to 1 (within 1e-9; renormalised).

    Returns
    -------
    float array of shape (S_g, C)
        The probability of every count state, ``[s_g, rank(counts)]``.
    """
    from smfq_lib.model.combinatorics import compositions, multinomial_pmf

    C = n_compositions(n, system.S_l)
    if isinstance(initial, IIDInitial):
        comps = compositions(n, system.S_l)
        pc = np.array([multinomial_pmf(c, initial.p_l) for c in comps])
        return initial.p_g[:, None] * pc[None, :]
    try:
        w = real_array("initial", initial)
    except ValueError as exc:
        raise ValueError(
            "initial must be None, an IIDInitial (see iid_initial) or an array of weights over "
            f"the count states; {exc}"
        ) from None
    if w.shape not in ((system.S_g, C), (system.S_g * C,)):
        raise ValueError(
            f"initial weights must have shape (S_g, C(n, S_l)) = ({system.S_g}, {C}) or "
            f"({system.S_g * C},), indexed [s_g, rank(counts)]; got {w.shape}."
        )
    if w.min() < 0 or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"initial weights must be non-negative and sum to 1; got sum {w.sum()!r}.")
    return (w / w.sum()).reshape(system.S_g, C)


def check_start(system, n, s_g, counts, initial, local_states, agent_level):
    """The checked start of the rollouts, ``(sg0, c0, loc, law)``, before anything is drawn.

    A fixed start: ``sg0`` of shape ``(1,)``, ``c0`` of shape ``(1, S_l)`` (one row, read by
    every rollout), ``loc`` the agents' local states (agent-level executor with
    ``local_states``, else None), ``law`` None. A start distribution ``initial``: ``sg0 = c0 =
    loc = None`` and ``law`` the checked :class:`IIDInitial` or weights ``(S_g, C)``, for
    :func:`draw_start`.
    """
    S_l = system.S_l
    if initial is not None:
        if s_g is not None or counts is not None or local_states is not None:
            raise ValueError(
                "pass either a start state (s_g, counts or local_states) or initial=, not both: "
                "with initial=, set s_g=None and counts=None."
            )
        if isinstance(initial, IIDInitial):
            if initial.p_g.shape != (system.S_g,) or initial.p_l.shape != (S_l,):
                raise ValueError("initial does not match the system; build it with iid_initial.")
            return None, None, None, initial
        return None, None, None, count_state_weights(system, n, initial)
    if s_g is None:
        raise ValueError("s_g is None: give the initial global state or initial=.")
    s_g = validate_index("s_g", s_g, system.S_g)
    loc = None
    if local_states is not None:
        loc = np.asarray(local_states)
        if loc.shape != (n,) or not np.issubdtype(loc.dtype, np.integer):
            raise ValueError(
                f"local_states must be an integer vector of length n = {n}; got shape "
                f"{loc.shape}, dtype {loc.dtype}."
            )
        if loc.min() < 0 or loc.max() >= S_l:
            raise ValueError(f"local_states must hold codes in [0, S_l = {S_l}).")
        loc = np.ascontiguousarray(loc, dtype=np.int64)
        c_loc = np.bincount(loc, minlength=S_l).astype(np.int64)
        if counts is not None and not np.array_equal(validate_counts(counts, S_l, n), c_loc):
            raise ValueError(
                "counts disagrees with local_states; pass counts=None with local_states."
            )
        counts = c_loc
        if not agent_level:
            loc = None  # the count-level executor needs the counts only
    elif counts is None:
        raise ValueError("counts is None: give the initial counts, local_states= or initial=.")
    c = validate_counts(counts, S_l, n)
    return np.array([s_g], np.int64), c[None, :].copy(), loc, None


def draw_start(system, n, law, rollouts, seed):
    """Per-rollout start states ``(sg0 (R,), c0 (R, S_l))`` drawn from ``law`` (an
    :class:`IIDInitial` or weights ``(S_g, C)``) with ``default_rng([seed, tag])``: the full seed,
    the same draws for the first rollouts whatever ``rollouts`` is."""
    S_l = system.S_l
    rng = np.random.default_rng([int(seed), 0x5EED1])
    if isinstance(law, IIDInitial):
        sg0 = rng.choice(system.S_g, size=rollouts, p=law.p_g)
        c0 = rng.multinomial(n, law.p_l, size=rollouts)
    else:
        C = law.shape[1]
        idx = rng.choice(law.size, size=rollouts, p=law.ravel())
        sg0 = idx // C
        ranks, which = np.unique(idx % C, return_inverse=True)
        c0 = np.stack([unrank(int(j), n, S_l) for j in ranks])[which.ravel()]
    return sg0.astype(np.int64, copy=False), np.ascontiguousarray(c0, dtype=np.int64)
