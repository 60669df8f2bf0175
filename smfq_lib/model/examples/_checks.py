"""Argument checks shared by the example factories: each raises a ``ValueError`` naming the
argument and the fix, before any array is built."""

from __future__ import annotations

import math
import numbers


def int_arg(name: str, value, minimum: int, fix: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}. {fix}".rstrip())
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}. {fix}".rstrip())
    return int(value)


def float_arg(
    name: str,
    value,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    open_lo: bool = False,
    open_hi: bool = False,
    fix: str = "",
) -> float:
    lo_s = ("(" if open_lo else "[") + f"{lo}, {hi}" + (")" if open_hi else "]")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number in {lo_s}; got {value!r}. {fix}".rstrip())
    v = float(value)
    ok = math.isfinite(v) and (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)
    if not ok:
        raise ValueError(f"{name} must be a finite number in {lo_s}; got {value!r}. {fix}".rstrip())
    return v
