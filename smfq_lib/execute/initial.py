"""The start state of Algorithm 3 (line 1: ``(s_g(0), s_[n](0)) ~ s_0``) for both executors.

A start state is given as ``(s_g, counts)``, as ``s_g`` with a full vector of local states, or as
a distribution ``initial=`` (an :class:`IIDInitial` from :func:`iid_initial`, or weights over the
count states, :func:`count_state_weights`, also used by :mod:`smfq_lib.evaluate`). Initial states
drawn from a distribution are sampled in NumPy before the kernels run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smfq_lib.combinatorics import n_compositions, unrank
from smfq_lib.policy import validate_counts, validate_index
from smfq_lib.system import CooperativeSystem

__all__ = ["IIDInitial", "count_state_weights", "iid_initial", "initial_states"]


@dataclass(frozen=True, eq=False)
class IIDInitial:
    """Initial distribution ``s_0``: ``s_g ~ p_g`` and each local state i.i.d. ``~ p_l``."""

    p_g: np.ndarray
    p_l: np.ndarray


def iid_initial(system: CooperativeSystem, p_g=None, p_l=None) -> IIDInitial:
    """An i.i.d. initial distribution (uniform over states by default), for ``initial=``."""
    out = []
    for name, p, size in (("p_g", p_g, system.S_g), ("p_l", p_l, system.S_l)):
        if p is None:
            p = np.full(size, 1.0 / size)
        p = np.asarray(p, dtype=np.float64)
        if p.shape != (size,) or not np.all(np.isfinite(p)) or p.min() < 0:
            raise ValueError(f"{name} must be a non-negative vector of length {size}; got {p!r}.")
        if abs(p.sum() - 1.0) > 1e-9:
            raise ValueError(f"{name} must sum to 1; got sum {p.sum()!r}. Normalise it.")
        out.append(p / p.sum())
    return IIDInitial(out[0], out[1])


def count_state_weights(system: CooperativeSystem, n: int, initial) -> np.ndarray:
    """``initial`` as weights over the count states, shape ``(S_g, C(n, S_l))`` (rank order).

    ``initial`` is an :class:`IIDInitial` (converted exactly: ``p_g[s_g] * Multinomial(counts;
    n, p_l)``) or an array of weights of shape ``(S_g, C)`` or ``(S_g * C,)``, non-negative,
    summing to 1.
    """
    from smfq_lib.combinatorics import compositions, multinomial_pmf

    C = n_compositions(n, system.S_l)
    if isinstance(initial, IIDInitial):
        comps = compositions(n, system.S_l)
        pc = np.array([multinomial_pmf(c, initial.p_l) for c in comps])
        return initial.p_g[:, None] * pc[None, :]
    try:
        w = np.asarray(initial, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "initial must be None, an IIDInitial (see iid_initial) or an array of weights over "
            f"the count states; got {type(initial).__name__}."
        ) from None
    if w.shape not in ((system.S_g, C), (system.S_g * C,)):
        raise ValueError(
            f"initial weights must have shape (S_g, C(n, S_l)) = ({system.S_g}, {C}) or "
            f"({system.S_g * C},), indexed [s_g, rank(counts)]; got {w.shape}."
        )
    if not np.all(np.isfinite(w)) or w.min() < 0 or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"initial weights must be non-negative and sum to 1; got sum {w.sum()!r}.")
    return (w / w.sum()).reshape(system.S_g, C)


def initial_states(system, n, s_g, counts, initial, local_states, rollouts, seed, agent_level):
    """Per-rollout initial ``(s_g (R,), counts (R, S_l))`` and the optional agent vector."""
    S_l = system.S_l
    if initial is not None:
        if s_g is not None or counts is not None or local_states is not None:
            raise ValueError(
                "pass either a start state (s_g, counts or local_states) or initial=, not both: "
                "with initial=, set s_g=None and counts=None."
            )
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED1])
        if isinstance(initial, IIDInitial):
            if initial.p_g.shape != (system.S_g,) or initial.p_l.shape != (S_l,):
                raise ValueError("initial does not match the system; build it with iid_initial.")
            sg0 = rng.choice(system.S_g, size=rollouts, p=initial.p_g).astype(np.int64)
            c0 = rng.multinomial(n, initial.p_l, size=rollouts).astype(np.int64)
        else:
            w = count_state_weights(system, n, initial)
            C = w.shape[1]
            idx = rng.choice(w.size, size=rollouts, p=w.ravel())
            sg0 = (idx // C).astype(np.int64)
            c0 = np.stack([unrank(int(j % C), n, S_l) for j in idx]).astype(np.int64)
        return sg0, np.ascontiguousarray(c0), None
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
    return np.full(rollouts, s_g, np.int64), np.tile(c, (rollouts, 1)), loc
