"""Argument checks shared by the package: one wording for each kind of bad input.

Every public function validates its arguments before any work starts and raises ``ValueError``
naming the argument, what it must be, and how to fix it. The checks used in more than one module
live here, so that the same mistake reads the same everywhere:

* :func:`check_int` -- an integer (not a bool) in ``[lo, hi]``. The upper end defaults to
  :data:`INT64_MAX`: the Numba kernels count agents, states and table entries in int64, so a
  larger number could never be run, and refusing it up front replaces an overflow (a crash or a
  silently wrong size) by a message.
* :func:`check_gamma` -- the discount factor of eq. (4), strictly between 0 and 1.
* :func:`check_seed` -- a seed of the random streams, an integer in ``[0, 2**63)``.
* :func:`real_array`, :func:`real_number` -- THE coercion of numbers entering the package: an
  array (or a scalar) of real finite numbers as ``float64``. One behaviour everywhere: what is
  not a real finite number is refused, never converted with a loss -- strings (also inside
  object arrays, where NumPy would parse them), bools, complex values (even with zero
  imaginary parts), masked arrays (their mask would be dropped), NaN and infinities. Python
  numbers of any real type (``int``, ``float``, ``Fraction``, NumPy scalars) are converted.
* :func:`format_count` -- an exact count of any size, printed readably in messages.
* :func:`validate_counts`, :func:`validate_index` -- a population's state counts, an action or
  state code.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "INT64_MAX",
    "check_gamma",
    "check_int",
    "check_seed",
    "format_count",
    "real_array",
    "real_number",
    "validate_counts",
    "validate_index",
]

#: The largest count any kernel can hold (int64).
INT64_MAX = 2**63 - 1
_INT64_TEXT = "2**63 - 1"


def check_int(name: str, value, lo: int = 0, hi: int = INT64_MAX, fix: str = "") -> int:
    """``value`` as a Python int, or ``ValueError`` unless it is an integer in ``[lo, hi]``.

    Booleans are refused (``True`` is not a count); NumPy integers are accepted. ``fix`` is
    appended to the message (how to choose a good value).

    ``name`` is the argument's name, used in the message.
    """
    hi_text = _INT64_TEXT if hi == INT64_MAX else str(hi)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an integer in [{lo}, {hi_text}]; got {value!r} "
            f"({type(value).__name__}). {fix}".rstrip()
        )
    value = int(value)
    if value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {value}. {fix}".rstrip())
    if value > hi:
        why = " (the kernels count in int64)" if hi == INT64_MAX else ""
        raise ValueError(
            f"{name} must be at most {hi_text} = {hi}{why}; got {format_count(value)}. "
            f"{fix}".rstrip()
        )
    return value


def check_gamma(gamma) -> float:
    """The discount factor ``gamma`` of eq. (4) as a float, strictly between 0 and 1."""
    ok = isinstance(gamma, numbers.Real) and not isinstance(gamma, bool)
    if ok:
        value = float(gamma)
        ok = 0.0 < value < 1.0  # False for nan
    if not ok:
        raise ValueError(
            f"gamma must be a real number strictly between 0 and 1 (the discount factor of "
            f"eq. 4); got {gamma!r}. Pass e.g. gamma=0.9."
        )
    return value


def check_seed(seed) -> int:
    """``seed`` as a Python int, or ``ValueError`` unless it is an integer in ``[0, 2**63)``.

    The documented range of every seed of the package (``learn`` and the executors): the
    generators take the seed whole (64-bit keys), so a larger one would have to be truncated,
    and two seeds would silently give the same numbers; refusing it replaces that by a message.
    """
    integer = isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
    if not (integer and 0 <= seed <= INT64_MAX):
        got = format_count(seed) if integer and seed > 0 else repr(seed)
        raise ValueError(
            f"seed must be an int in [0, 2**63); got {got}. Seeds are keys of the random "
            "streams: pass e.g. seed=0, 1, 2, ... for independent runs."
        )
    return int(seed)


def real_array(name: str, value, ndim: int | None = None) -> np.ndarray:
    """``value`` as a new ``float64`` array of real finite numbers (module docstring), with
    ``ndim`` dimensions if given; ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, np.ma.MaskedArray):
        raise ValueError(
            f"{name} must be a plain array of real numbers; got a masked array, whose mask would "
            "be lost. Pass np.ma.filled(x, fill_value) or x.data after deciding what masked "
            "entries mean."
        )
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be an array of real numbers; got {type(value).__name__} that is not "
            f"a rectangular array ({exc})."
        ) from None
    kind = raw.dtype.kind
    if kind == "O":  # Python objects: real numbers only (NumPy would parse strings)
        bad = [x for x in raw.flat if isinstance(x, bool) or not isinstance(x, numbers.Real)]
        kind = "f" if not bad else type(bad[0]).__name__
    elif kind == "c":
        kind = "complex"
    elif kind == "b":
        kind = "bool"
    if kind not in "iuf":
        raise ValueError(
            f"{name} must hold real numbers; got {kind if len(kind) > 1 else raw.dtype} values "
            f"(dtype {raw.dtype}). Pass real numbers (e.g. an array of float64)."
        )
    arr = np.array(raw, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions; got shape {arr.shape}.")
    bad_at = np.argwhere(~np.isfinite(arr))
    if bad_at.size:
        idx = tuple(int(i) for i in bad_at[0])
        where = f"{name}{list(idx)}" if idx else name
        raise ValueError(
            f"{where} = {arr[idx]} is not finite; every entry must be a finite number."
        )
    return arr


def real_number(name: str, value, lo: float, hi: float, what: str) -> float:
    """``value`` as a float in ``[lo, hi]`` (:func:`real_array` on a scalar); ``ValueError``
    naming ``name`` and saying ``what`` it must be otherwise."""
    try:
        x = float(real_array(name, value, 0))
    except ValueError:
        x = math.nan
    if not lo <= x <= hi:
        raise ValueError(f"{name} must be {what}; got {value!r}.")
    return x


def format_count(value) -> str:
    """An exact non-negative count for a message: all digits up to 10^15, else ``2.48e+27``
    (three significant digits), computed from the integer's logarithm, so any size works.

    ``value``: the count (a Python or NumPy integer ``>= 0``).
    """
    value = int(value)
    if value < 10**15:
        return str(value)
    exponent = math.log10(value)
    whole = math.floor(exponent)
    mantissa = 10 ** (exponent - whole)
    if mantissa >= 9.995:  # rounding to 3 digits carries into the exponent
        mantissa, whole = 1.0, whole + 1
    return f"{mantissa:.2f}e+{whole}"


def validate_counts(counts, S_l: int, n: int | None) -> np.ndarray:
    """``counts`` as an int64 vector of length ``S_l`` with non-negative entries summing to ``n``
    (to any total if ``n`` is None).

    Entries must be whole numbers (integers, or floats with integral values); the sum is taken
    exactly in Python integers, so it cannot wrap around in int64, and must not exceed
    ``2**63 - 1``. ``ValueError`` otherwise, naming ``counts``.
    """
    try:
        arr = np.asarray(counts)
    except ValueError:  # ragged nesting
        arr = np.asarray(counts, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != S_l:
        raise ValueError(
            f"counts must be a vector of length S_l = {S_l} (agents per local state); got shape "
            f"{arr.shape}."
        )
    values = []
    for x in arr.tolist():
        if isinstance(x, float) and math.isfinite(x) and x == round(x):
            x = int(x)
        if isinstance(x, bool) or not isinstance(x, numbers.Integral):
            raise ValueError(
                f"counts must hold whole numbers of agents; got {arr.tolist()!r} (entry {x!r})."
            )
        values.append(int(x))
    total = sum(values)
    if min(values) < 0 or (n is not None and total != n):
        target = "" if n is None else f" and sum to n = {format_count(n)}"
        raise ValueError(
            f"counts must be non-negative{target}; got {values} (sum {format_count(total)})."
        )
    check_int("the number of agents sum(counts)", total, 1)
    return np.array(values, dtype=np.int64)


def validate_index(name: str, value, size: int) -> int:
    """``value`` as an integer code in ``[0, size)`` (a state or action index); ``name`` is the
    argument's name in the ``ValueError`` otherwise."""
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer code in [0, {size}); got {value!r}.") from None
    if v != value or not 0 <= v < size:
        raise ValueError(f"{name} must be an integer code in [0, {size}); got {value!r}.")
    return v
