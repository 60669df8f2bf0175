"""Feature maps ``phi(F)`` of the others' empirical (state, action) distribution ``F`` (eq. 7):
the ``phi`` of the linear model ``Q(s_g, s_1, F, a_1, a_g) = theta[s_g, s_1, a_1, a_g] . phi(F)``
(Definition 0.14, Theorem 0.15; docs/design.md §10).

``F`` is the composition ``zc`` of the ``t = k - 1`` others over the cells ``z = s * A_l + a``
divided by ``t`` (``F = 0`` when ``k = 1``: there are no others). Two kinds:

* **affine** ``phi(F) = b + W F`` (``b`` of length ``d``, ``W`` of shape ``(d, Z_l)``). Then
  ``theta . phi(F) = theta . b + sum_z (theta W)_z F_z`` is a sum over the others' cells, and the
  greedy step's max over the others' action split separates by state (each state's agents go to
  the action with the largest coefficient): :mod:`smfq_lib.linear.greedy`, ``O(S_l A_l)`` per
  reading. :func:`linear_features` (``[1, F]``, the default), :func:`mean_features`
  (``[1, sum_z v_z F_z]``, e.g. the others' mean load) and :func:`affine_features`.
* **general** ``phi(F) = fn(F)``: any map. The greedy step then needs the max over every
  composition ``zc`` with the given state marginal, so the model is tabulated over all
  compositions of ``k - 1`` into ``Z_l`` parts (refused when that does not fit).
  :func:`one_hot_features` (the composition index: the tabular Algorithm 2 as a special case)
  and :func:`custom_features`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from smfq_lib._utils.checks import check_int, real_array
from smfq_lib.model.combinatorics import n_compositions, rank

__all__ = [
    "Features",
    "affine_features",
    "custom_features",
    "linear_features",
    "mean_features",
    "one_hot_features",
]


@dataclass(frozen=True, eq=False)
class Features:
    """A feature map of ``d`` features over the others' ``Z_l`` cells (module docstring).

    ``b``, ``W``: the affine map ``phi(F) = b + W F`` (``None`` for a general map); ``fn``: a
    general map ``fn(F) -> (N, d)`` on a batch ``F`` of shape ``(N, Z_l)``; ``k``: the sample
    size a map is tied to (the one-hot composition index), else ``None``. Use the constructors.
    """

    name: str
    d: int
    Z_l: int
    b: np.ndarray | None = None
    W: np.ndarray | None = None
    fn: Callable | None = None
    k: int | None = None

    @property
    def affine(self) -> bool:
        """Whether ``phi`` is affine in ``F`` (the closed-form greedy step applies)."""
        return self.W is not None

    def __call__(self, zc) -> np.ndarray:
        """``phi(F)`` for a batch of the others' compositions ``zc`` (int, ``(N, Z_l)``, every
        row summing to ``t = k - 1``), as a float array ``(N, d)``."""
        zc = np.asarray(zc, dtype=np.int64)
        t = int(zc[0].sum()) if zc.shape[0] else 0
        F = zc / max(t, 1)
        if self.affine:
            return self.b[None, :] + F @ self.W.T
        out = real_array(f"features {self.name!r}: fn(F)", self.fn(F))
        if out.shape != (zc.shape[0], self.d):
            raise ValueError(
                f"features {self.name!r} returned shape {out.shape} (or non-finite values) for "
                f"{zc.shape[0]} distributions; fn(F) must map (N, Z_l) to finite (N, d = {self.d})."
            )
        return out


def _matrix(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    arr = real_array(name, value)
    if arr.shape != shape:
        raise ValueError(f"{name} must be a finite array of shape {shape}; got shape {arr.shape}.")
    arr.setflags(write=False)
    return arr


def affine_features(W, b=None, name: str = "affine") -> Features:
    """``phi(F) = b + W F``: ``W`` of shape ``(d, Z_l)``, ``b`` of length ``d`` (default: a
    constant feature 1 in front, i.e. ``phi = [1, W F]`` with ``d = rows of W + 1``)."""
    W = real_array("W", W)
    if W.ndim != 2 or 0 in W.shape:
        raise ValueError(f"W must be a 2-D array (d, Z_l) of feature weights; got shape {W.shape}.")
    if b is None:
        W = np.vstack([np.zeros((1, W.shape[1])), W])
        b = np.eye(1, W.shape[0])[0]
    d, Z_l = W.shape
    return Features(name, d, Z_l, _matrix("b", b, (d,)), _matrix("W", W, (d, Z_l)))


def linear_features(Z_l: int) -> Features:
    """``phi(F) = [1, F]`` (``d = 1 + Z_l``): linear in every cell of ``F``. The default."""
    Z_l = check_int("Z_l", Z_l, 1, fix="Z_l = S_l * A_l is the number of (state, action) cells.")
    return affine_features(np.eye(Z_l), name="[1, F]")


def mean_features(v) -> Features:
    """``phi(F) = [1, sum_z v_z F_z]`` (``d = 2``): a constant and the others' mean of a per-cell
    quantity ``v`` (shape ``(S_l, A_l)`` or ``(Z_l,)``), e.g. the Gaussian squeeze's load
    ``system.aggregate.phi``: the model is then linear in the others' mean load."""
    v = real_array("v", v).ravel()
    return affine_features(v[None, :], name="[1, mean]")


@njit(cache=True)
def _ranks(zc):
    out = np.empty(zc.shape[0], np.int64)
    for i in range(zc.shape[0]):
        out[i] = rank(zc[i])
    return out


def one_hot_features(k: int, Z_l: int) -> Features:
    """``phi(F) = e_{rank(zc)}`` over the ``C(k - 1 + Z_l - 1, Z_l - 1)`` compositions of the
    ``k - 1`` others: ``theta`` is then the table of Algorithm 2, and fitted value iteration over
    every composition is its value iteration (the exact special case)."""
    k = check_int("k", k, 1)
    Z_l = check_int("Z_l", Z_l, 1)
    d = check_int(
        "the number of compositions C(k - 1 + Z_l - 1, Z_l - 1)",
        n_compositions(k - 1, Z_l),
        1,
        2**24,
        fix="One-hot features have one feature per composition; use a smaller k.",
    )

    def fn(F):
        zc = np.rint(F * max(k - 1, 1)).astype(np.int64)
        return np.eye(d)[_ranks(zc)]

    return Features("one-hot composition", d, Z_l, fn=fn, k=k)


def custom_features(fn: Callable, d: int, Z_l: int, name: str = "custom") -> Features:
    """A general map: ``fn(F)`` takes a float array ``(N, Z_l)`` of distributions and returns
    ``(N, d)``. Not affine, so the greedy step tabulates over compositions (small ``k`` only)."""
    if not callable(fn):
        raise ValueError(f"fn must be a callable fn(F) -> (N, d) array; got {type(fn).__name__}.")
    d = check_int("d", d, 1)
    Z_l = check_int("Z_l", Z_l, 1)
    return Features(name, d, Z_l, fn=fn)
