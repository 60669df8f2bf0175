"""Counter-based random numbers for kernels: the same numbers whatever the thread count.

A uniform is a pure function of ``(seed, stream, counter)``: ``splitmix64`` (Steele, Lea, Flood
2014) is applied to the seed, mixed with the stream, and mixed again with the counter; the top 53
bits give a float in ``[0, 1)``. Kernels key their draws by *what* is drawn (e.g. stream = the
flat index of a Q entry, counter = sample number and agent), never by which thread draws it, so a
parallel loop produces bit-identical samples on 1 or many threads. This is how the empirical
operators (8), (9) draw their ``m`` samples per entry once and for all (DESIGN §3, §9).

All functions are Numba kernels (``cache=True``), callable from Python and from other kernels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["splitmix64", "splitmix64_array", "stream_key", "uniform", "next_uniform", "categorical"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True)
def splitmix64(x):
    """The splitmix64 finaliser of ``x + golden``: a bijective 64-bit hash (uint64 -> uint64)."""
    z = np.uint64(x) + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def splitmix64_array(x):
    """:func:`splitmix64` of every element of a uint64 array (a new array)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = splitmix64(x[i])
    return out


@njit(cache=True)
def stream_key(seed, stream):
    """A uint64 key for stream ``stream`` (e.g. a Q-entry index) of generator ``seed``."""
    return splitmix64(splitmix64(np.uint64(seed)) ^ splitmix64(np.uint64(stream) * _M1))


@njit(cache=True)
def uniform(key, counter):
    """The ``counter``-th float in ``[0, 1)`` of the stream with key ``key`` (53 random bits)."""
    h = splitmix64(key ^ splitmix64(np.uint64(counter) + _M2))
    return float(h >> _S11) * _INV53


@njit(cache=True)
def next_uniform(state):
    """Next float in ``[0, 1)`` of the sequential splitmix64 generator whose state is ``state[0]``.

    Faster than :func:`uniform` where a kernel draws a long run of numbers from one stream (the
    agent-level executor: one stream per rollout, keyed by ``(seed, rollout)``).
    """
    x = state[0]
    state[0] = x + _GOLDEN
    return float(splitmix64(x) >> _S11) * _INV53


@njit(cache=True)
def categorical(cdf, last, u):
    """Inverse-CDF draw: the first ``s`` with ``u < cdf[s]`` (``cdf`` cumulative probabilities).

    If rounding leaves ``cdf[-1]`` slightly below ``u``, returns ``last``, the last outcome of
    positive probability, so an impossible outcome is never drawn.
    """
    for s in range(cdf.shape[0]):
        if u < cdf[s]:
            return s
    return last
