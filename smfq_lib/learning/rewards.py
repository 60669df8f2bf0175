"""Surrogate reward tables of a k-agent subsystem, eq. (6), tabulated before any kernel (in NumPy;
the count MDP's, rebuilt for every ``V*`` solve, in one small Numba pass when there is no
aggregate).

``r_Delta(s, a) = r_g[s_g, a_g] + (1/k) sum_{i in Delta} r_l[s_i, s_g, a_i]`` (eq. 6), plus, when
the system has an :class:`~smfq_lib.model.system.Aggregate`, ``rho(s_g, a_g, xbar)`` with
``xbar = (1/k) sum_{i in Delta} phi[s_i, a_i]`` over the same ``k`` agents. ``rho`` is a Python
callable: it is evaluated here, vectorized, never inside a kernel.

These are the MEAN rewards. With stochastic rewards (``system.reward_noise``, Theorem 0.13) the
sampled learners add the average of each entry's ``m`` fixed noise draws on top
(:mod:`smfq_lib.learning.reward_noise`); the exact operator (``m=None``) is the expectation and uses
these tables as they are.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from smfq_lib.model.combinatorics import cell_sums

__all__ = ["count_reward", "mean_field_reward", "tabular_reward"]


def mean_field_reward(system, k: int, Zt: np.ndarray) -> np.ndarray:
    """``R[s_g, s_1, r, a_1, a_g]`` of Algorithm 2, eq. (6), shape ``(S_g, S_l, Cz, A_l, A_g)``.

    ``Zt`` is ``compositions(k - 1, Z_l)`` (rank order): row ``r`` is the (state, action)
    composition ``zc`` of the ``k - 1`` other agents, cell ``z = s * A_l + a``. Then
    ``R = r_g[s_g, a_g] + (r_l[s_1, s_g, a_1] + sum_z zc[z] r_l[z_s, s_g, z_a]) / k`` and, with an
    aggregate, ``+ rho(s_g, a_g, (phi[s_1, a_1] + sum_z zc[z] phi[z]) / k)``.
    """
    S_g, S_l, A_l = system.S_g, system.S_l, system.A_l
    others, phi_others = _cell_sums(system, Zt)
    local = system.r_l.transpose(1, 0, 2)[:, :, None, :, None] + others.T[:, None, :, None, None]
    phi = None
    if system.aggregate is not None:
        phi = system.aggregate.phi[None, :, None, :, None] + phi_others[None, None, :, None, None]
    return _reward(system, k, local, phi, (S_g, S_l, Zt.shape[0], A_l, system.A_g))


def count_reward(system, n: int, Zt: np.ndarray) -> np.ndarray:
    """``R[s_g, r, a_g]``: the stage reward (3) of the whole ``n``-agent system at a count state
    and action, shape ``(S_g, Cz, A_g)`` (eq. 6 with ``Delta`` = every agent, none kept apart).

    ``Zt`` is ``compositions(n, Z_l)`` (rank order): row ``r`` is the (state, action) composition
    ``zc`` of the ``n`` agents. ``R = r_g[s_g, a_g] + (1/n) sum_z zc[z] r_l[z_s, s_g, z_a]`` and,
    with an aggregate, ``+ rho(s_g, a_g, (1/n) sum_z zc[z] phi[z])``.
    """
    if system.aggregate is None:  # one pass, the same operations as below (count MDPs are
        R = np.empty((system.S_g, Zt.shape[0], system.A_g))  # rebuilt for every V* solve)
        _count_reward_table(Zt, _rl_cells(system), system.r_g, n, R)
        return R
    others, phi_others = _cell_sums(system, Zt)
    phi = None if phi_others is None else phi_others[None, :, None]
    return _reward(system, n, others.T[:, :, None], phi, (system.S_g, Zt.shape[0], system.A_g))


@njit(cache=True)
def _count_reward_table(Zt, rl_z, r_g, n, out):
    """``out[s_g, r, a_g] = r_g[s_g, a_g] + (sum_z Zt[r, z] rl_z[z, s_g]) / n``, the cells ``z``
    summed in ascending order as :func:`~smfq_lib.model.combinatorics.cell_sums` does."""
    for sg in range(out.shape[0]):
        for r in range(Zt.shape[0]):
            acc = 0.0
            for z in range(Zt.shape[1]):
                acc += Zt[r, z] * rl_z[z, sg]
            loc = acc / n
            for ag in range(out.shape[2]):
                out[sg, r, ag] = r_g[sg, ag] + loc


def _rl_cells(system):
    """``r_l`` as ``(Z_l, S_g)``, cell ``z = s * A_l + a``."""
    rl = system.r_l.transpose(0, 2, 1).reshape(system.Z_l, system.S_g)
    return np.array(rl, order="C")  # a writable copy whatever the shape: one kernel signature


def _cell_sums(system, Zt):
    """Per composition ``zc`` (rows of ``Zt``, cells ``z = s * A_l + a``): ``sum_z zc[z]
    r_l[z_s, s_g, z_a]``, shape ``(Cz, S_g)``, and ``sum_z zc[z] phi[z]`` (``(Cz,)``; None
    without an aggregate)."""
    Z_l = system.Z_l
    others = cell_sums(Zt, _rl_cells(system))
    if system.aggregate is None:
        return others, None
    return others, cell_sums(Zt, system.aggregate.phi.reshape(Z_l, 1).astype(np.float64))[:, 0]


def _reward(system, k, local, phi, shape):
    """``r_g[s_g, a_g] + local / k`` (+ ``rho(s_g, a_g, phi / k)``) on a table of ``shape``
    (axis 0 ``s_g``, last axis ``a_g``): ``local`` and ``phi`` are the sums over the ``k``
    agents of ``r_l`` and of the aggregate's ``phi``, broadcastable to ``shape`` (``local``
    with a last axis of 1: it does not depend on ``a_g``)."""
    mid = (None,) * (len(shape) - 2)
    r_g = system.r_g[(slice(None),) + mid + (slice(None),)]
    local = np.broadcast_to(local / k, shape[:-1] + (1,))[..., 0]
    R = np.empty(shape)
    for a_g in range(shape[-1]):  # one a_g at a time: NumPy's inner loops then run along the
        np.add(r_g[..., a_g], local, out=R[..., a_g])  # long axes, not along the short a_g
    if system.aggregate is not None:
        s_g = np.arange(shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))
        a_g = np.arange(shape[-1]).reshape((1,) * (len(shape) - 1) + (-1,))
        xbar = np.broadcast_to(phi / k, shape)
        R += system.aggregate(np.broadcast_to(s_g, shape), np.broadcast_to(a_g, shape), xbar)
    return R


def tabular_reward(system, k: int) -> np.ndarray:
    """``R[s_g, s_1..s_k, a_g, a_1..a_k]`` of Algorithm 1, eq. (6) (+ aggregate over the k agents).

    Shape ``(S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k``, the layout of the tabular Q.
    """
    S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
    shape = (S_g,) + (S_l,) * k + (A_g,) + (A_l,) * k
    ndim = len(shape)

    def along(table, axes):
        # place a 2-D/3-D table along the given axes of the full layout
        view_shape = [1] * ndim
        for ax, n in zip(axes, table.shape, strict=True):
            view_shape[ax] = n
        return table.reshape(view_shape)

    R = np.zeros(shape)
    R += along(system.r_g, (0, k + 1))
    rl = system.r_l.transpose(1, 0, 2)  # (S_g, S_l, A_l)
    for i in range(k):
        R += along(rl, (0, 1 + i, k + 2 + i)) / k
    if system.aggregate is not None:
        phi = system.aggregate.phi
        xbar = np.zeros(shape)
        for i in range(k):
            xbar += along(phi, (1 + i, k + 2 + i))
        xbar /= k
        s_g = np.broadcast_to(along(np.arange(S_g), (0,)), shape)
        a_g = np.broadcast_to(along(np.arange(A_g), (k + 1,)), shape)
        R += system.aggregate(s_g, a_g, xbar)
    return R
