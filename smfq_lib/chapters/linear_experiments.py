"""Chapter 10's experiments: the linear learner at the paper's sizes, the tabular learner beside
it where it fits, and the terms of Theorem 0.15 (docs/design.md §10).

:func:`linear_vs_k` learns ``theta`` once per ``k`` (the learner does not depend on ``n``) and
runs Algorithm 3 on every population size ``n >= k`` with :func:`~.execute.rollout_linear`;
:func:`tabular_vs_k` does the same with ``learn(..., algorithm="mean_field")`` (exact operator)
and the count-level executor. Both return one row per ``(k, n)`` with the mean discounted return
and its 95% Student-t half-width. :func:`theorem_015_terms` evaluates the bound's three terms.
"""

from __future__ import annotations

import math
import time

from smfq_lib.execute import rollout_counts
from smfq_lib.learning import learn
from smfq_lib.linear.execute import rollout_linear
from smfq_lib.linear.learner import learn_linear

__all__ = ["linear_vs_k", "tabular_vs_k", "theorem_015_terms"]


def linear_vs_k(
    system, ks, ns, start, features, *, M, m, rule, rollouts, horizon, seed, tol, ridge=0.0
):
    """Rows ``{"k", "n", "M", "ret", "ci95", "seconds", "iterations", "converged", "fit_rmse"}``:
    ``learn_linear(system, k, features, M=M, m=m, tol=tol, ridge=ridge, seed=seed)`` once per
    ``k``, then ``rollout_linear`` under ``rule`` from ``start(n)`` (a ``(s_g, counts)`` pair)
    for every ``n`` in ``ns`` with ``n >= k``. ``seconds``: the learning time; a ``k = 1`` fit
    runs first so that no row is charged for compiling the kernels."""
    learn_linear(system, 1, features, M=4, m=1, max_iter=2)  # load the kernels before timing
    rows = []
    for k in ks:
        t0 = time.perf_counter()
        q = learn_linear(system, k, features, M=M, m=m, tol=tol, ridge=ridge, seed=seed)
        seconds = time.perf_counter() - t0
        for n in (n for n in ns if n >= k):
            s_g, counts = start(n)
            r = rollout_linear(
                system, q, n, s_g, counts, horizon, rollouts, seed, rule=rule, keep="returns"
            )
            rows.append(
                dict(k=k, n=n, M=M, ret=r.mean(), ci95=r.ci(), seconds=seconds,
                     iterations=len(q.residuals), converged=q.converged, fit_rmse=q.fit_rmse)
            )  # fmt: skip
    return rows


def tabular_vs_k(system, ks, ns, start, *, rule, rollouts, horizon, seed):
    """The same rows for Algorithm 2 with the exact operator (``Q_k*``) and the count-level
    executor, for the ``k`` whose table fits."""
    learn(system, 1, None, algorithm="mean_field", progress=False)  # load the kernels
    rows = []
    for k in ks:
        q = learn(system, k, None, algorithm="mean_field", progress=False)
        for n in (n for n in ns if n >= k):
            s_g, counts = start(n)
            r = rollout_counts(
                system, q, n, s_g, counts, horizon, rollouts, seed, rule=rule, keep="returns"
            )
            rows.append(dict(k=k, n=n, ret=r.mean(), ci95=r.ci(), seconds=q.seconds))
    return rows


def theorem_015_terms(k, M, phi_norm, gamma, r_tilde, phibar_norm=None) -> dict:
    """The three terms inside Theorem 0.15's ``O~( . )`` and the probability of its event:
    ``1/sqrt(k)``, ``log(2 k^2) ||phi_k||^5 / sqrt(M)`` and ``2/sqrt(k) * gamma r~ / (1 - gamma)
    * ||phibar_k||`` (``phibar_norm`` defaults to ``phi_norm``: the paper does not define
    ``phibar_k`` in the main text), and ``Pr[E] >= (1 - 1/(100 sqrt k)) (1 - 2/sqrt k)``. The
    ``O~`` hides constants and logarithms: these are the terms' shapes, not a bound."""
    phibar = phi_norm if phibar_norm is None else phibar_norm
    sampling = 1.0 / math.sqrt(k)
    fit = math.log(2 * k * k) * phi_norm**5 / math.sqrt(M)
    spectral = 2.0 / math.sqrt(k) * gamma * r_tilde / (1.0 - gamma) * phibar
    prob = (1.0 - 1.0 / (100.0 * math.sqrt(k))) * (1.0 - 2.0 / math.sqrt(k))
    return dict(sampling=sampling, fit=fit, spectral=spectral, total=sampling + fit + spectral,
                probability=prob)  # fmt: skip
