"""Fitted value iteration with a linear model on the k-agent mean-field subsystem: the
non-tabular SUBSAMPLE-MFQ of Definition 0.14 and Theorem 0.15 (docs/design.md §10).

``learn_linear(system, k, features)`` fits ``Q(s_g, s_1, F, a_1, a_g) = theta[s_g, s_1, a_1, a_g]
. phi(F)`` from ``Q^0 = 0`` by repeating, until the fitted values stop moving:

1. targets ``Y = r_Delta + gamma/m sum_j V_theta(next_j)`` (eq. 6, 9) at the ``M`` design
   compositions, each with every ``(s_g, s_1, a_1, a_g)`` (:mod:`~.fitted`); ``V_theta`` is the
   max of the model over the next state's actions and the others' action split, in closed form
   for affine features (:mod:`~.greedy`), else read from the model tabulated over every
   composition;
2. ``theta`` = the least-squares fit of ``Y`` on ``phi(F)`` (one design matrix for every
   ``(s_g, s_1, a_1, a_g)``: one pseudo-inverse, or the ridge solve ``(Phi^T Phi + ridge I)^-1
   Phi^T``, computed once).

``M=None`` takes every composition once as the design and ``m=None`` the exact expectation
(eq. 12; needs ``M=None``): with one-hot features (:func:`~.features.one_hot_features`) the fit
is the identity and this IS Algorithm 2's value iteration, so it reproduces ``Q_k*`` (and, with
the same ``seed`` and ``m``, ``Q_{k,m}^est``: the samples are the tabular learner's).
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np

from smfq_lib._utils.blas import one_blas_thread
from smfq_lib._utils.budget import check_budget, check_fits, default_budget
from smfq_lib._utils.checks import check_int, check_seed, format_count, real_number
from smfq_lib._utils.rng import splitmix64
from smfq_lib.learning.mean_field_exact import apply_exact_mean_field, exact_tables
from smfq_lib.learning.mean_field_kernels import binom_table
from smfq_lib.learning.reward_noise import add_mean_field_noise
from smfq_lib.learning.rewards import mean_field_reward
from smfq_lib.learning.sampled import cdf_tables
from smfq_lib.linear.features import Features, linear_features
from smfq_lib.linear.fitted import (
    ALPHA_MAX,
    ALPHA_MIN,
    draw_fixed_samples,
    fitted_targets,
    max_change,
    polya_design,
    stored_targets,
    stored_values,
    unique_bounded,
    unrank_states,
)
from smfq_lib.linear.greedy import value_tables
from smfq_lib.linear.result import LinearQ, tabulate_value
from smfq_lib.model.combinatorics import compositions, n_compositions
from smfq_lib.model.system import CooperativeSystem

__all__ = ["learn_linear"]

#: Key tag of the design's stream (the targets' streams are keyed by the seed itself).
_DESIGN_TAG = 0x11E_A2DE_5161


@one_blas_thread
def learn_linear(
    system: CooperativeSystem,
    k: int,
    features: Features | None = None,
    *,
    M: int | None = 1000,
    m: int | None = 1,
    alpha: float = 0.1,
    ridge: float = 0.0,
    tol: float = 1e-6,
    max_iter: int = 1000,
    seed: int = 0,
    memory_budget=None,
) -> LinearQ:
    """Fitted value iteration of ``theta`` (module docstring) on ``k`` sampled agents.

    Parameters
    ----------
    system : CooperativeSystem
    k : int >= 1, the sample size (agent 1 and ``k - 1`` others).
    features : :class:`~.features.Features` over the system's ``Z_l`` cells; default
        ``linear_features(Z_l)`` (``[1, F]``).
    M : int >= 1, design compositions (drawn once, :func:`~.fitted.polya_design`), or None:
        every composition of ``k - 1`` into ``Z_l`` parts once (small ``k`` only).
    m : int >= 1, next-state samples per subsystem state (eq. 9), or None: the exact expectation
        (eq. 12; needs ``M=None``).
    alpha : float in ``[1e-100, 1e100]`` (:data:`~.fitted.ALPHA_MIN`, ``ALPHA_MAX``), the
        design's Dirichlet concentration per cell.
    ridge : float >= 0, the ridge penalty ``lambda`` of ``(Phi^T Phi + lambda I)``; 0: least
        squares (minimum-norm ``theta`` where ``Phi`` has dependent columns).
    tol : float > 0; stop when the fitted values at the design move by at most
        ``tol (1 - gamma) / gamma`` in one iteration (value iteration's rule).
    max_iter : int >= 1; at most this many iterations (``LinearQ.converged`` says whether the
        rule was met: a projected Bellman operator need not contract).
    seed : int in ``[0, 2**63)``, key of the design and of the samples.
    memory_budget : bytes, or None (half the available memory).

    Returns
    -------
    LinearQ
    """
    t0 = time.perf_counter()
    features, M, design_size, budget, alpha, ridge, tol = _validate(
        system, k, features, M, m, alpha, ridge, tol, max_iter, seed, memory_budget
    )
    S_g, S_l, A_l, A_g, Z_l = system.S_g, system.S_l, system.A_l, system.A_g, system.Z_l
    if M is None:
        Zd = compositions(k - 1, Z_l)
    else:
        Zd = np.zeros((M, Z_l), np.int64)
        key_seed = np.uint64(splitmix64(np.uint64(seed) ^ np.uint64(_DESIGN_TAG)))
        polya_design(M, k - 1, Z_l, float(alpha), key_seed, Zd)
    R = mean_field_reward(system, k, Zd)  # eq. (6), (S_g, S_l, M, A_l, A_g)
    if m is not None and system.reward_noise is not None:  # Theorem 0.13: m fixed draws
        flat = R.ravel()
        add_mean_field_noise(flat, system, k, m, Zd, seed)
        R = flat.reshape(R.shape)
    Phi = features(Zd)
    if ridge == 0.0:
        proj = np.linalg.pinv(Phi)
    else:
        proj = np.linalg.solve(Phi.T @ Phi + ridge * np.eye(Phi.shape[1]), Phi.T)
    blocks = S_g * S_l * A_l * A_g
    theta = np.zeros((S_g, S_l, A_l, A_g, features.d))
    fit_old = np.zeros((design_size, blocks))
    R = np.ascontiguousarray(R)
    Y = np.empty_like(R)  # C-contiguous, like R: the flat views below share their memory
    Yt = np.empty((design_size, blocks))  # the stored samples' targets, in the fit's layout
    cdf = cdf_tables(system.P_g, system.P_l)
    btab = binom_table(k - 1 + S_l, S_l)
    exact = exact_tables(system.P_l, S_g, A_l, k - 1) if m is None else None
    closed = features.affine and m is not None  # else the model is tabulated (V table)
    Phi_all = None if closed or M is None else features(compositions(k - 1, Z_l))
    if M is None:
        Phi_all = Phi
    stored = None
    if m is not None:
        stored = _store_samples(system, k, Zd, cdf, m, seed, closed, budget)
    stop = tol * (1.0 - system.gamma) / system.gamma
    residuals = []
    converged = False
    for _ in range(max_iter):
        Yd = None  # the targets as (design row, block), the fit's right-hand side
        if closed:
            B, mw = value_tables(theta, features)
            Vtab = np.zeros((1, 1, 1))
        else:
            B, mw = np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1, 1))
            Vtab = tabulate_value(theta, features, k, S_l, Phi_all)
        if m is None:
            Q5 = np.ascontiguousarray(_design_values(Phi, theta).reshape(R.shape))
            apply_exact_mean_field(R, Vtab, system.P_g, system.P_l, exact, system.gamma, Q5, Y)
        elif stored is not None:  # the fixed samples, drawn once (same draws, same bits)
            uniq, inv, states = stored
            if closed:
                Vu = np.empty(uniq.shape[0])
                stored_values(B, mw, *states, 1.0 / max(k - 1, 1), Vu)
            else:
                Vu = np.ascontiguousarray(Vtab.reshape(-1)[uniq])
            P = A_l * A_g
            stored_targets(R.reshape(-1), inv, Vu, m, system.gamma, design_size, P, Yt.reshape(-1))
            Yd = Yt
        else:
            fitted_targets(
                R, Zd, *cdf, m, np.uint64(seed), system.gamma, closed, B, mw,
                Vtab, btab, Y,
            )  # fmt: skip
        if Yd is None:
            Yd = Y.transpose(2, 0, 1, 3, 4).reshape(design_size, blocks)
        theta = (proj @ Yd).T
        theta = np.ascontiguousarray(theta.reshape(S_g, S_l, A_l, A_g, features.d))
        fit = Phi @ theta.reshape(blocks, features.d).T
        residuals.append(float(max_change(fit, fit_old)))
        fit_old = fit
        if not math.isfinite(residuals[-1]):
            raise FloatingPointError(
                f"fitted value iteration diverged (residual {residuals[-1]} at iteration "
                f"{len(residuals)}); pass ridge > 0 or more design points M."
            )
        if residuals[-1] <= stop:
            converged = True
            break
    last = Yd  # the targets the last fit projected
    return LinearQ(
        k=k, m=m, M=M, features=features, theta=theta, design=Zd, residuals=np.array(residuals),
        converged=converged, seconds=time.perf_counter() - t0, seed=seed, ridge=float(ridge),
        alpha=float(alpha), sizes=(S_g, S_l, A_g, A_l),
        fit_rmse=float(np.sqrt(np.mean((fit - last) ** 2))),
        system_fingerprint=system.fingerprint,
    )  # fmt: skip


def _store_samples(system, k, Zd, cdf, m, seed, closed, budget):
    """The fixed next-state samples of the targets, drawn once
    (:func:`~.fitted.draw_fixed_samples`): ``(distinct flat indices, index of each sample among
    them, their states (s_g, s_1, counts) for the closed form)``; None (the targets then redraw
    them every iteration, :func:`~.fitted.fitted_targets`) when the flat index would not fit an
    int64 or the samples (about 40 bytes each while sorted) would not fit the memory budget."""
    S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
    entries = S_g * S_l * Zd.shape[0] * A_l * A_g
    if S_g * S_l * n_compositions(k - 1, S_l) >= 2**62:
        return None
    if 40 * entries * m > (default_budget() if budget is None else budget):
        return None
    flat = np.empty(entries * m, np.int64)
    draw_fixed_samples(Zd, S_g, S_l, A_l, A_g, *cdf, m, np.uint64(seed), flat)
    uniq, inv = unique_bounded(flat, S_g * S_l * n_compositions(k - 1, S_l))
    del flat
    states = None
    if closed:
        nu = uniq.shape[0]
        states = (np.empty(nu, np.int64), np.empty(nu, np.int64), np.empty((nu, S_l), np.int64))
        unrank_states(uniq, k - 1, S_l, *states)
    return uniq, np.ascontiguousarray(inv.reshape(-1), dtype=np.int64), states


def _design_values(Phi, theta):
    """The model at the design, shaped like Algorithm 2's ``Q``: ``(S_g, S_l, M, A_l, A_g)``."""
    return np.einsum("id,gsabd->gsiab", Phi, theta)


def _validate(system, k, features, M, m, alpha, ridge, tol, max_iter, seed, budget):
    """Checked ``(features, M, design size, memory budget, alpha, ridge, tol)`` (numbers as floats);
    ``ValueError`` naming the argument."""
    if not isinstance(system, CooperativeSystem):
        raise ValueError(
            f"system must be an smfq_lib.CooperativeSystem; got {type(system).__name__}."
        )
    k = check_int("k", k, 1, fix="k is the number of sampled agents.")
    Z_l = system.Z_l
    if features is None:
        features = linear_features(Z_l)
    if not isinstance(features, Features):
        raise ValueError(
            f"features must be an smfq_lib.linear.Features (e.g. linear_features(Z_l)); got "
            f"{type(features).__name__}."
        )
    if features.Z_l != Z_l:
        raise ValueError(
            f"features are over Z_l = {features.Z_l} cells; this system has Z_l = S_l * A_l = "
            f"{Z_l}."
        )
    if features.k is not None and features.k != k:
        raise ValueError(f"features were built for k = {features.k}; learn_linear got k = {k}.")
    if M is not None:
        M = check_int("M", M, 1, fix="M is the number of design compositions (or None: all).")
    if m is not None:
        m = check_int("m", m, 1, fix="m is the number of next-state samples (or None: exact).")
    elif M is not None:
        raise ValueError(
            "m=None (the exact expectation, eq. 12) needs M=None (every composition as the "
            "design); pass an int m for a sampled design."
        )

    alpha = real_number(
        "alpha",
        alpha,
        ALPHA_MIN,
        ALPHA_MAX,
        f"a float in [{ALPHA_MIN:g}, {ALPHA_MAX:g}] (the design's Dirichlet concentration per "
        "cell; e.g. 0.1)",
    )
    ridge = real_number("ridge", ridge, 0, math.inf, "a finite float >= 0 (0: least squares)")
    tol = real_number("tol", tol, 5e-324, math.inf, "a finite float > 0 (e.g. 1e-6)")
    check_int("max_iter", max_iter, 1)
    check_seed(seed)
    budget = check_budget(budget)
    S_g, S_l, A_l, A_g = system.S_g, system.S_l, system.A_l, system.A_g
    Cz = n_compositions(k - 1, Z_l)
    size = Cz if M is None else M
    blocks = S_g * S_l * A_l * A_g
    nbytes = 8 * (4 * size * blocks + 2 * size * features.d + Z_l * size)
    nbytes += 16 * (k - 1) * numba.get_num_threads()  # each thread's agents (design, targets)
    what = (
        f"the fit at M = {format_count(size)} design compositions x {blocks} (s_g, s_1, a_1, a_g)"
        f" and each thread's k - 1 = {format_count(k - 1)} agents"
    )
    check_fits(what, nbytes, budget, hint="Pass a smaller M (or k).")
    if not features.affine or M is None:  # the model tabulated over every composition
        check_fits(
            f"the model tabulated over all C(k - 1 + Z_l - 1, Z_l - 1) = {format_count(Cz)} "
            f"compositions (features {features.name!r} are not affine in F, or M=None)",
            8 * 3 * Cz * blocks + 8 * Cz * features.d,
            budget,
            hint="Use affine features (linear_features, mean_features, affine_features), whose "
            "greedy step is in closed form, with an int M; or a smaller k.",
        )
    return features, M, int(size), budget, alpha, ridge, tol
