"""Grid points of a sweep: their values, their keys and the expansion of a grid.

A value (a parameter of a point, or an output of its task) is a scalar the results store keeps
exactly: ``int`` (64-bit), ``float`` (bit for bit), ``bool``, ``str`` (any UTF-8 text) or
``None``; NumPy scalars are converted to these. Anything else is refused with a ValueError.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["META_COLUMNS", "canonical_params", "check_name", "expand_grid", "point_key", "scalar"]

META_COLUMNS = (
    "key",
    "status",
    "error",
    "attempts",
    "wall_time",
    "version",
    "task",
    "finished_at",
)
"""Columns of the results store beside the parameters and outputs (names a task cannot use)."""

#: Names SQLite gives the row id of every table: a column of that name would hide it, and the
#: store reads rows in row-id order.
_ROWID_NAMES = ("rowid", "oid", "_rowid_")
_RESERVED = frozenset(META_COLUMNS + _ROWID_NAMES)
_KEY_HEX = 16  # 64 bits of sha256: collisions are negligible for any sweep
_INT64 = (-(2**63), 2**63 - 1)


def scalar(value, what: str):
    """``value`` as a plain Python scalar the store keeps exactly, else a ValueError."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(
                f"{what} is the int {value}, outside the 64-bit range the results store keeps; "
                "pass it as a float or a str."
            )
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"{what} is a string that is not valid Unicode text ({value!r}, a lone "
                "surrogate); decode it properly or pass a plain label."
            ) from None
        return str(value)
    raise ValueError(
        f"{what} must be a scalar (int, float, bool, str or None); got {type(value).__name__}. "
        "Reduce arrays to scalars (e.g. a mean or a max), or save them to a file and return "
        "its path."
    )


def check_name(name, where: str) -> None:
    """A parameter or output name: a non-empty string, not a column of the store."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(
            f"{where}: names must be non-empty strings without NUL characters; got {name!r}."
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{where}: the name {name!r} is not valid Unicode text (a lone surrogate); rename it."
        ) from None
    if name.lower() in _RESERVED:
        raise ValueError(
            f"{where}: the name {name!r} is reserved by the results store "
            f"({', '.join(META_COLUMNS + _ROWID_NAMES)}; case is ignored); rename it."
        )


def canonical_params(params, where: str) -> dict:
    """The parameters of one point as a dict of plain scalars, checked."""
    if not isinstance(params, Mapping):
        raise ValueError(
            f"{where} must be a dict of parameter name -> scalar; got {type(params).__name__}."
        )
    out = {}
    folded: dict[str, str] = {}
    for name, value in params.items():
        check_name(name, where)
        if name.lower() in folded:
            raise ValueError(
                f"{where}: parameters {folded[name.lower()]!r} and {name!r} differ only in case, "
                "which the results store (SQLite columns) does not tell apart; rename one."
            )
        folded[name.lower()] = name
        out[name] = scalar(value, f"{where}: parameter {name!r}")
    return out


def point_key(params: Mapping) -> str:
    """Stable key of one grid point: the first 16 hex digits of the sha256 of its canonical JSON.

    Canonical JSON: keys sorted, no spaces, values as Python scalars (NumPy scalars converted).
    The key depends on the parameter names, values and types only (``k=2`` and ``k=2.0`` are
    different points), never on the order of the keys, the process or the machine.

    ``params``: the point, a mapping of parameter name -> scalar.
    """
    canon = canonical_params(params, "params")
    text = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:_KEY_HEX]


def expand_grid(grid) -> list[dict]:
    """The grid points, in a deterministic order.

    ``grid`` is either a dict of lists (the cartesian product, the first key varying slowest,
    as in nested loops written in the dict's order), or a list of dicts (the points as given).
    Every value is a scalar (int, float, bool, str or None); duplicate points are refused.
    """
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid is an empty dict; give at least one parameter with its values.")
        names = list(grid)
        axes = []
        for name in names:
            values = grid[name]
            if isinstance(values, str | bytes) or not isinstance(values, Iterable):
                raise ValueError(
                    f"grid[{name!r}] must be a list of values; got {type(values).__name__}. "
                    f"Write grid[{name!r}] = [{values!r}] for a single value."
                )
            values = list(values)
            if not values:
                raise ValueError(f"grid[{name!r}] is empty; give at least one value.")
            axes.append(values)
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    elif isinstance(grid, Sequence) and not isinstance(grid, str | bytes):
        points = list(grid)
        if not points:
            raise ValueError("grid is an empty list; give at least one point (a dict).")
    else:
        raise ValueError(
            f"grid must be a dict of lists or a list of dicts; got {type(grid).__name__}."
        )
    canon = [canonical_params(p, f"grid point {i}") for i, p in enumerate(points)]
    seen: dict[str, int] = {}
    for i, p in enumerate(canon):
        key = point_key(p)
        if key in seen:
            raise ValueError(
                f"grid points {seen[key]} and {i} are the same point {p}; remove the duplicate."
            )
        seen[key] = i
    return canon
