"""Counter-based random numbers for kernels: the same numbers whatever the thread count.

A uniform is a pure function of ``(seed, stream, counter)``: ``splitmix64`` (Steele, Lea, Flood
2014) is applied to the seed, mixed with the stream, and mixed again with the counter; the top 53
bits give a float in ``[0, 1)``. Kernels key their draws by *what* is drawn (e.g. stream = the
flat index of a Q entry, counter = sample number and agent), never by which thread draws it, so a
parallel loop produces bit-identical samples on 1 or many threads. This is how the empirical
operators (8), (9) draw their ``m`` samples per entry once and for all (docs/design.md).

All functions are Numba kernels (``cache=True``), callable from Python and from other kernels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "categorical",
    "counter_hash",
    "counter_hashes",
    "next_counter_uniform",
    "next_uniform",
    "splitmix64",
    "start_sequential",
    "stream_key",
    "uniform",
    "uniform_hashed",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
_GAMMA_TAG = np.uint64(0x6A33A_5EED_7A60)
_ALTERNATING = np.uint64(0xAAAAAAAAAAAAAAAA)


@njit(cache=True)
def splitmix64(x):
    """The splitmix64 finaliser of ``x + golden``: a bijective 64-bit hash (uint64 -> uint64)."""
    z = np.uint64(x) + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def stream_key(seed, stream):
    """A uint64 key for stream ``stream`` (e.g. a Q-entry index) of generator ``seed``."""
    return splitmix64(splitmix64(np.uint64(seed)) ^ splitmix64(np.uint64(stream) * _M1))


@njit(cache=True)
def counter_hash(counter):
    """The hash of ``counter`` that :func:`uniform` mixes into the key: it does not depend on
    the key, so a kernel drawing the same counters from many streams computes it once
    (:func:`counter_hashes`, :func:`uniform_hashed`)."""
    return splitmix64(np.uint64(counter) + _M2)


@njit(cache=True)
def counter_hashes(n):
    """``counter_hash(c)`` for ``c = 0 .. n - 1`` (uint64)."""
    out = np.empty(n, dtype=np.uint64)
    for c in range(n):
        out[c] = counter_hash(c)
    return out


@njit(cache=True)
def uniform_hashed(key, h):
    """``uniform(key, counter)`` from ``h = counter_hash(counter)``: the same float, one hash
    instead of two."""
    return float(splitmix64(key ^ h) >> _S11) * _INV53


@njit(cache=True)
def uniform(key, counter):
    """The ``counter``-th float in ``[0, 1)`` of the stream with key ``key`` (53 random bits)."""
    return uniform_hashed(key, counter_hash(counter))


@njit(cache=True)
def next_counter_uniform(state):
    """Next float in ``[0, 1)`` of the counter stream ``state = [key, counter]`` (uint64):
    ``uniform(key, counter)``, then ``counter += 1``.

    Every number is a hash of the 128 bits ``(key, counter)``, so two streams with different keys
    never run in step with a shift (as two windows of one sequential generator can): the
    count-level executor's streams (one key per rollout, :mod:`smfq_lib.execute.rollouts`).
    """
    u = uniform(state[0], state[1])
    state[1] += np.uint64(1)
    return u


@njit(cache=True)
def start_sequential(state, key):
    """Start the sequential generator ``state`` (two uint64) for the stream keyed ``key``:
    ``state[0] = key`` and ``state[1]``, the stream's own odd Weyl increment ``gamma``.

    ``gamma`` is a splitmix64 hash of the key, made odd and, if its bit pattern has fewer than 24
    transitions (``popcount(g ^ (g >> 1)) < 24``), xored with ``0xAAAA...``: the ``mixGamma``
    of SplittableRandom (Steele, Lea, Flood 2014). With one shared increment, every stream would
    be a window of one sequence, and two streams whose keys fall within a stream's length of each
    other would share a whole run of numbers; with an increment per stream they can meet only at
    isolated numbers.
    """
    g = splitmix64(key ^ _GAMMA_TAG) | np.uint64(1)
    t = g ^ (g >> np.uint64(1))
    transitions = 0
    while t != 0:
        transitions += 1
        t &= t - np.uint64(1)
    if transitions < 24:
        g ^= _ALTERNATING
    state[0] = key
    state[1] = g


@njit(cache=True)
def next_uniform(state):
    """Next float in ``[0, 1)`` of the sequential splitmix64 generator ``state``
    (:func:`start_sequential`): ``splitmix64(x)`` of ``x = key + t gamma`` at the ``t``-th call.

    Faster than :func:`uniform` (one 64-bit hash per number) where a kernel draws a long run of
    numbers from one stream (the agent-level executor: one stream per rollout).
    """
    x = state[0]
    state[0] = x + state[1]
    return float(splitmix64(x) >> _S11) * _INV53


@njit(cache=True)
def categorical(cdf, last, u):
    """Inverse-CDF draw: the first ``s`` with ``u < cdf[s]`` (``cdf`` cumulative probabilities,
    non-decreasing as a cumulative sum of non-negative numbers is).

    If rounding leaves ``cdf[-1]`` slightly below ``u``, returns ``last``, the last outcome of
    positive probability, so an impossible outcome is never drawn.

    Computed without branching on ``u``: for a non-decreasing ``cdf`` the first ``s`` with
    ``u < cdf[s]`` is the number of ``s`` with ``cdf[s] <= u`` (a branch on a random ``u``
    mispredicts about every other draw, which cost more than the draw's hashes).
    """
    s = 0
    for c in range(cdf.shape[0]):
        s += u >= cdf[c]
    return last if s == cdf.shape[0] else s
