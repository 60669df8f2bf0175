"""Outputs that do not hang on the last bit (docs/design.md §2, determinism).

Exact values agree across BLAS kernels only to round-off (:mod:`smfq_lib._utils.blas`), and Monte
Carlo means of exactly zero can come out as ``-0.0``. What a chapter prints, and which of several
equal states a function names, must not depend on those last bits. Three helpers, one tolerance:

* :data:`ROUNDOFF` (1e-9): quantities within it of each other are equal, and within it of 0 are
  0. Exact values are solved to 1e-12 (``V*``) or to rounding (a policy's value, a dense solve of
  a well-conditioned ``I - gamma P``), so round-off stays orders of magnitude below it, while
  every gap a chapter reports as non-zero is far above it.
* :func:`settle`: entries within ``atol`` of 0 become ``+0.0``.
* :func:`fmt`, :func:`fmt_all`: ``format`` of the settled value(s), never a signed zero such as
  ``-0.000``.
* :func:`canonical_argmax`: among the entries within ``atol`` of the maximum, the first in C
  (index) order, so that mirror-image states with equal values always give the same answer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ROUNDOFF", "canonical_argmax", "fmt", "fmt_all", "settle"]

#: Round-off tolerance of exact values: equal within it, 0 within it of 0.
ROUNDOFF = 1e-9


def settle(x, atol: float = ROUNDOFF):
    """``x`` (a number or an array) with every entry ``|x| <= atol`` replaced by ``+0.0``;
    a float for a scalar, a new float array otherwise."""
    a = np.asarray(x, dtype=float)
    out = np.where(np.abs(a) <= atol, 0.0, a)
    return float(out) if out.ndim == 0 else out


def fmt(x, spec: str = ".4f", atol: float = ROUNDOFF) -> str:
    """``format(settle(x, atol), spec)``; a negative value that rounds to zero at ``spec``'s
    precision prints as zero, without its sign (``fmt(-1e-7, ".4f") == "0.0000"``)."""
    text = format(settle(x, atol), spec)
    if text.lstrip().startswith("-") and float(text) == 0.0:
        text = format(0.0, spec)
    return text


def canonical_argmax(values, atol: float = ROUNDOFF) -> int:
    """The flat index (C order) of the first entry of ``values`` within ``atol`` of its
    maximum: the canonical maximiser when several are equal up to round-off."""
    a = np.asarray(values, dtype=float).ravel()
    if a.size == 0 or np.isnan(a).any():
        raise ValueError("values must be a non-empty array of numbers without NaN.")
    return int(np.flatnonzero(a >= a.max() - atol)[0])


def fmt_all(values, spec: str = ".4f", sep: str = ", ", atol: float = ROUNDOFF) -> str:
    """:func:`fmt` of every entry of ``values``, joined by ``sep``."""
    return sep.join(fmt(v, spec, atol) for v in np.asarray(values, dtype=float).ravel())
