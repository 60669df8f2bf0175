"""Exact binomial draws on the counter-based uniforms of :mod:`smfq_lib._utils.rng`.

The count-level executor draws every random quantity as binomials (multinomials by sequential
binomials, the reward-noise signs as ``Binomial(m, 1/2)``), and its numbers must be a function of
``(seed, rollout)`` only, whatever the thread. :func:`binomial` draws ``X ~ Binomial(n, p)``
from the stream ``state = [key, counter]`` (:func:`smfq_lib._utils.rng.next_counter_uniform`), so it
shares the generator's 128 bits of input per number and its thread independence.

Algorithm (the two-regime design of the standard samplers: NumPy uses inversion and BTPE):

* ``p > 1/2`` is drawn as ``n - Binomial(n, 1 - p)``, so both regimes see ``p <= 1/2``;
  ``p = 0`` gives 0 and ``p = 1`` gives ``n`` without a number.
* ``n p < 10``: **inversion** (Devroye 1986, *Non-Uniform Random Variate Generation*, X.4.3):
  one uniform ``U``, then the sequential search ``x = 0, 1, ...`` subtracting
  ``f(x) = C(n, x) p^x q^(n-x)`` from ``U`` until ``U < f(x)``, with ``f(0) = exp(n log1p(-p))``
  and ``f(x) = f(x-1) (n - x + 1) p / (x q)``; expected ``1 + n p`` steps. Should rounding leave
  ``U`` above the summed ``f`` (probability about 1e-16), the draw restarts with a new ``U``.
* ``n p >= 10``: **BTRD**, transformed rejection with decomposition (W. Hormann, "The generation
  of binomial random variates", *J. Statist. Comput. Simul.* 46 (1993) 101-110), in the form used
  by TensorFlow's ``random_binomial``: per trial two uniforms ``U - 1/2`` and ``V``, the candidate
  ``K = floor((2a / (1/2 - |U|) + b) U + c)``; accepted at once inside the box
  ``|U| <= 0.43, V <= v_r`` (about 79% of trials for large means), otherwise accepted iff
  ``log(V alpha / (a / us^2 + b)) <= log(f(K) / f(m))`` with ``m = floor((n + 1) p)`` the mode,
  the log-ratio written with Stirling's series ``fc`` (tabulated for ``k <= 9``, else
  ``1/12 - 1/360 + 1/1260`` terms in ``1 / (k + 1)``, error below ``3e-11``). Expected trials
  about 1.15, whatever ``n`` (``n`` up to ``2**63 - 1``).

Both regimes are exact up to floating-point rounding (and the ``3e-11`` of the series in
BTRD's log-ratio): ``tests/test_binomial.py`` checks the draws against ``scipy.stats.binom``
by chi-square on a grid of ``(n, p)`` from ``n = 1`` to ``n = 10**6``.

Built on it, the two draws of the count chain's step, shared by the count-level executor
(:mod:`smfq_lib.execute.counts`) and the online learner (:mod:`smfq_lib.learning.online`):
:func:`sample_dist` (one categorical draw by inverse CDF) and :func:`multinomial_add`
(a multinomial by sequential binomials).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from smfq_lib._utils.rng import next_counter_uniform

__all__ = ["binomial", "multinomial_add", "sample_dist"]

#: ``fc(k) = log(k!) - (k + 1/2) log(k + 1) + (k + 1) - log(2 pi) / 2`` for ``k = 0 .. 9``
#: (Stirling's remainder, Hormann 1993), from ``math.lgamma``.
_FC = np.array(
    [
        math.lgamma(k + 1) - (k + 0.5) * math.log(k + 1) + (k + 1) - 0.5 * math.log(2 * math.pi)
        for k in range(10)
    ]
)

#: ``n p`` at and above which :func:`binomial` uses BTRD (Hormann's validity bound).
BTRD_MIN_MEAN = 10.0


@njit(cache=True)
def _fc(k):
    """Stirling's remainder ``fc(k)`` (module docstring): tabulated for ``k <= 9``, else the
    series ``(1/12 - (1/360 - 1/(1260 (k+1)^2)) / (k+1)^2) / (k+1)``."""
    if k <= 9:
        return _FC[np.int64(k)]
    kp1 = k + 1.0
    kp1sq = kp1 * kp1
    return (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / 1260.0 / kp1sq) / kp1sq) / kp1


@njit(cache=True)
def _inversion(state, n, p):
    """``Binomial(n, p)`` for ``p <= 1/2``, ``n p < 10`` by sequential-search inversion."""
    q = 1.0 - p
    ratio = p / q
    f0 = math.exp(n * math.log1p(-p))
    while True:
        u = next_counter_uniform(state)
        f = f0
        x = 0
        while u >= f and f > 0.0:  # f(n + 1) = 0 ends the search
            u -= f
            x += 1
            f *= ratio * (n - x + 1) / x
        if u < f:
            return x
        # rounding left u above the total mass (or f underflowed): draw a new u


@njit(cache=True)
def _btrd(state, n, p):
    """``Binomial(n, p)`` for ``p <= 1/2``, ``n p >= 10`` by BTRD (Hormann 1993)."""
    q = 1.0 - p
    nf = float(n)
    spq = math.sqrt(nf * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = nf * p + 0.5
    v_r = 0.92 - 4.2 / b
    r = p / q
    alpha = (2.83 + 5.1 / b) * spq
    m = math.floor((nf + 1.0) * p)
    h = math.nan  # log f(m) up to the terms in K: computed at the first trial outside the box
    while True:
        u = next_counter_uniform(state) - 0.5
        v = next_counter_uniform(state)
        us = 0.5 - abs(u)
        if us <= 0.0:
            continue  # u = -1/2 exactly (probability 2**-53): outside the hat's support
        kf = math.floor((2.0 * a / us + b) * u + c)
        if kf < 0.0 or kf > nf:
            continue
        if us >= 0.07 and v <= v_r:
            return np.int64(kf)
        v = math.log(v * alpha / (a / (us * us) + b))
        if math.isnan(h):
            h = (m + 0.5) * math.log((m + 1.0) / (r * (nf - m + 1.0))) + _fc(m) + _fc(nf - m)
        bound = (
            h
            + (nf + 1.0) * math.log((nf - m + 1.0) / (nf - kf + 1.0))
            + (kf + 0.5) * math.log(r * (nf - kf + 1.0) / (kf + 1.0))
            - _fc(kf)
            - _fc(nf - kf)
        )
        if v <= bound:
            return np.int64(kf)


@njit(cache=True)
def binomial(state, n, p):
    """A draw of ``Binomial(n, p)`` (int64) from the counter stream ``state = [key, counter]``.

    ``n``: number of trials, an integer ``>= 0`` (up to ``2**63 - 1``); ``p``: the success
    probability, a float in ``[0, 1]`` (values above 1 from rounding count as 1). Inversion for
    ``n min(p, 1-p) < 10``, BTRD above (module docstring); ``state[1]`` advances by the number of
    uniforms used.
    """
    if math.isnan(p):
        raise ValueError("binomial: the probability p is NaN")
    if n <= 0 or p <= 0.0:
        return np.int64(0)
    if p >= 1.0:
        return np.int64(n)
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    if n * pp < BTRD_MIN_MEAN:
        x = _inversion(state, n, pp)
    else:
        x = _btrd(state, n, pp)
    return np.int64(n - x) if flip else np.int64(x)


@njit(cache=True)
def sample_dist(p, u):
    """Inverse-CDF draw from the probability vector ``p`` (sums to 1 up to rounding); if
    rounding leaves ``u`` above the total, the last outcome of positive probability."""
    acc = 0.0
    last = p.shape[0] - 1
    for j in range(last):
        acc += p[j]
        if u < acc:
            return j
    # fall through: the last index with positive probability
    for j in range(last, -1, -1):
        if p[j] > 0.0:
            return j
    return last


@njit(cache=True)
def multinomial_add(m, p, out, st):
    """``out += Multinomial(m, p)`` by sequential binomials on exact tail sums, drawn from the
    counter stream ``st`` (:func:`smfq_lib._utils.binomial.binomial`)."""
    rem = m
    d = p.shape[0]
    for j in range(d):
        if rem == 0:
            return
        tail = 0.0
        for q in range(j, d):
            tail += p[q]
        if tail <= 0.0:
            break
        pj = p[j] / tail
        if pj >= 1.0:
            out[j] += rem
            return
        if pj > 0.0:
            x = binomial(st, rem, pj)
            out[j] += x
            rem -= x
    if rem > 0:  # only reachable through rounding: give them to the last positive entry
        for j in range(d - 1, -1, -1):
            if p[j] > 0.0:
                out[j] += rem
                return
