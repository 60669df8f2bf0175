"""The notebooks' settings helper: ``cfg = settings(profile, PROFILES, knob=knob, ...)``.

Every chapter's parameters cell holds its knobs (``None`` meaning "the profile's value") and a
``PROFILES`` dict; :func:`settings` resolves them and refuses a misspelt or unknown knob,
papermill-injected ones included (:func:`check_injected`). The whole notebook pattern is in the
docstring of :mod:`smfq_lib.chapters.reproduce`, which re-exports these names.

:data:`PARAMETERS` declares every chapter's parameters, knobs and plain ones (seeds), with what
each value must be: ``settings(..., chapter=...)`` checks every value against it before any work
(a papermill ``-p n_max True`` or ``-p k_max -3`` is refused there, not met later as a meaningless
run or a raw NumPy error), and ``docs/parameters.md`` is generated from it
(:func:`parameters_markdown`; a test keeps the two equal).
"""

from __future__ import annotations

import ast
import json
import math
import numbers
import re
from pathlib import Path

__all__ = ["PARAMETERS", "Settings", "check_injected", "check_parameter", "settings"]

_SIZES = {"S_g": "int >= 1", "S_l": "int >= 1", "A_g": "int >= 1", "A_l": "int >= 1"}
_GAMMA = "float in (0, 1)"
_SHARE = "float in [0, 1]"

#: Every chapter's parameters (knobs of its ``PROFILES`` and plain ones such as seeds): name ->
#: what a value must be. A spec reads ``int >= 1``, ``float > 0``, ``float in (0, 1)`` (``[``,
#: ``]`` closed, ``(``, ``)`` open), ``ints >= 1`` (a non-empty list of such ints) or ``str in
#: {a, b}``; ints are never bools, floats are finite (an int is a float).
PARAMETERS: dict[str, dict[str, str]] = {
    "01_system_and_examples": {
        "gs_loads": "int >= 1", "gs_mu": "float >= 0", "gs_sigma": "float > 0",
        "ce_M": "int >= 1", "ce_d": "int >= 1", "ce_slip": _SHARE, "n_check": "int >= 1",
        "n_checks": "int >= 1", "n_sizes": "int >= 1", "seed": "int >= 0",
    },
    "02_table_sizes": {
        "n_max": "int >= 1", "n_points": "int >= 1", "n_fixed": "int >= 1", "k_max": "int >= 1",
        "Z_max": "int >= 1",
    },
    "03_learning": {
        **_SIZES, "gamma": _GAMMA, "k": "int >= 1", "m": "int >= 1", "tol": "float > 0",
        "system_seed": "int >= 0", "sample_seed": "int >= 0",
    },
    "04_bellman_noise": {
        **_SIZES, "gamma": _GAMMA, "ks": "ints >= 1", "m_max_log2": "int >= 0",
        "n_seeds": "int >= 1", "m_fit_min": "int >= 1", "tol": "float > 0",
        "system_seed": "int >= 0",
    },
    "05_execution": {
        "M": "int >= 1", "d": "int >= 1", "slip": _SHARE, "gamma": _GAMMA, "ks": "ints >= 1",
        "horizon": "int >= 1", "n_exact": "int >= 1", "rollouts_exact": "int >= 1",
        "n_side": "int >= 1", "rollouts_side": "int >= 1", "ns": "ints >= 1",
        "agent_max_n": "int >= 1", "rollouts_n": "int >= 1", "seed": "int >= 0",
    },
    "06_gaussian_squeeze": {
        "loads": "int >= 1", "mu": "float >= 0", "sigma": "float > 0", "gamma": _GAMMA,
        "n": "int >= 1", "rollouts": "int >= 1", "horizon": "int >= 1", "seed": "int >= 0",
        "algorithm": "str in {auto, paper, tabular, mean_field}", "paper_loads": "int >= 1",
        "paper_mu": "float >= 0", "paper_sigma": "float > 0", "paper_ns": "ints >= 1",
        "paper_k_max": "int >= 1", "k_explain": "int >= 1", "repeats": "int >= 1",
    },
    "07_constrained_exploration": {
        "slip": _SHARE, "gamma": _GAMMA, "n_exact": "int >= 1", "mc_ns": "ints >= 1",
        "k_max": "int >= 1", "rollouts": "int >= 2", "horizon": "int >= 1", "seed": "int >= 0",
        "repeats": "int >= 1", "heat_ks": "ints >= 1", "heat_n": "int >= 1",
        "heat_rollouts": "int >= 1", "heat_times": "ints >= 0",
    },
    "08_optimality_gap": {
        "n": "int >= 1", "flip": _SHARE, "gamma": _GAMMA, "start_share": _SHARE,
        "rules_k_max": "int >= 1", **_SIZES, "n_random": "int >= 1", "tol": "float > 0",
        "system_seed": "int >= 0", "scan_seeds": "int >= 1", "scan_n": "int >= 1",
    },
    "09_extensions": {
        "gamma": _GAMMA, "system_seed": "int >= 0", "w_g": "float >= 0", "w_l": "float >= 0",
        "n": "int >= 1", "ks": "ints >= 1", "m": "int >= 1", "seeds": "int >= 1",
        "types_pair": "int >= 0", "types_n": "int >= 2", "rollouts": "int >= 2",
        "horizon": "int >= 1", "gap_floor": "float >= 0",
    },
    "10_linear_function_approximation": {
        "gamma": _GAMMA, "ns": "ints >= 1", "squeeze_ks": "ints >= 1",
        "squeeze_tab_ks": "ints >= 1", "squeeze_M": "int >= 1", "squeeze_ridge": "float >= 0",
        "grid": "int >= 1", "explore_ks": "ints >= 1", "explore_tab_ks": "ints >= 1",
        "explore_M": "int >= 1", "explore_m": "int >= 1", "explore_Ms": "ints >= 1",
        "rollouts": "int >= 2", "horizon": "int >= 1", "tol": "float > 0", "seed": "int >= 0",
    },
    "11_sample_complexity": {
        "mm_n": "int >= 2", "mm_ks": "ints >= 1", "mm_ms": "ints >= 1", "mm_base_ms": "ints >= 1",
        "rs_n": "int >= 2", "rs_ks": "ints >= 1", "rs_ms": "ints >= 1", "rs_base_ms": "ints >= 1",
        "seeds": "int >= 1",
    },
    "12_logarithmic_k": {
        "flip": _SHARE, "gamma": _GAMMA, "cs": "floats > 0", "log10_n_max": "int >= 1",
        "per_decade": "int >= 1", "m": "int >= 1", "repeats": "int >= 1", "mf_ns": "ints >= 2",
        "mf_fit_min": "int >= 1", "n_extrapolate": "int >= 1", "n_exact": "int >= 0",
        "start_share": _SHARE, "rollouts": "int >= 2", "horizon": "int >= 1", "seed": "int >= 0",
    },
    "13_online_learning": {
        "gamma": _GAMMA, "flip": _SHARE, "mm_n": "int >= 1", "mm_ks": "ints >= 1",
        "tz_n": "int >= 1", "tz_ks": "ints >= 1", "steps_max": "int >= 100", "seeds": "int >= 1",
        "epsilon": _SHARE, "omega": "float in (0.5, 1]", "restart": "int >= 1",
        "start_share": _SHARE, "delta": "float >= 0", "large_n": "int >= 1",
        "large_steps": "int >= 1", "rollouts": "int >= 2", "horizon": "int >= 1",
    },
}  # fmt: skip

_NUMBER_SPEC = re.compile(r"^(int|float)(s?) (?:(>=|>) (\S+)|in ([\[(])(\S+), (\S+)([\])]))$")


def _spec_text(spec: str) -> str:
    """A spec as a message reads it: ``an int >= 1``, ``a non-empty list of ints >= 1``."""
    if spec.startswith("str in {"):
        return "one of " + ", ".join(repr(c) for c in spec[8:-1].split(", "))
    kind, rest = spec.split(" ", 1)
    if kind.endswith("s"):
        return f"a non-empty list of {kind} {rest}"
    return f"{'an' if kind == 'int' else 'a'} {kind} {rest}"


def _fits(spec: str, value) -> bool:
    if spec.startswith("str in {"):
        return isinstance(value, str) and value in spec[8:-1].split(", ")
    kind, plural, op, bound, left, lo, hi, right = _NUMBER_SPEC.match(spec).groups()
    if plural and (not isinstance(value, list | tuple) or not value):
        return False
    for x in value if plural else [value]:
        numeric = numbers.Integral if kind == "int" else numbers.Real
        if isinstance(x, bool) or not isinstance(x, numeric):
            return False
        if kind == "float" and not math.isfinite(x):
            return False
        if op is not None:
            ok = x >= float(bound) if op == ">=" else x > float(bound)
        else:
            ok = (x >= float(lo) if left == "[" else x > float(lo)) and (
                x <= float(hi) if right == "]" else x < float(hi)
            )
        if not ok:
            return False
    return True


def check_parameter(chapter: str, name: str, value) -> None:
    """``ValueError`` unless ``value`` fits ``PARAMETERS[chapter][name]``."""
    spec = PARAMETERS[chapter][name]
    if not _fits(spec, value):
        raise ValueError(
            f"parameter {name} of chapter {chapter} must be {_spec_text(spec)}; got {value!r} "
            f"({type(value).__name__}). Fix it in the parameters cell, or pass e.g. papermill "
            f"-p {name} <value> with such a value."
        )


class Settings:
    """The resolved knobs of a notebook: attribute access (``cfg.n_max``), plus ``.profile``.

    Read-only. ``dict(cfg.items())`` gives the knobs; ``repr`` lists them, one per line.

    Built by :func:`settings` from ``profile`` and the resolved knob ``values`` (a dict).
    """

    __slots__ = ("_profile", "_values")

    def __init__(self, profile: str, values: dict):
        object.__setattr__(self, "_profile", profile)
        object.__setattr__(self, "_values", dict(values))

    @property
    def profile(self) -> str:
        return self._profile

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"no knob {key!r}; the knobs are {sorted(self._values)}") from None

    def __setattr__(self, key, value):
        raise AttributeError("Settings are read-only; change the parameters cell instead.")

    def __getitem__(self, key):
        return self._values[key]

    def items(self):
        return self._values.items()

    def __repr__(self) -> str:
        lines = [f"Settings(profile={self._profile!r})"]
        lines += [f"  {key} = {value!r}" for key, value in self._values.items()]
        return "\n".join(lines)


def settings(profile: str, PROFILES: dict, chapter: str | None = None, **explicit) -> Settings:
    """Resolve a notebook's knobs: an explicit value wins, ``None`` takes ``PROFILES[profile]``.

    ``chapter`` (e.g. ``"02_table_sizes"``) names the chapter's entry of :data:`PARAMETERS`,
    which must declare every knob: each resolved value, and each plain parameter of the
    declaration that the kernel holds (seeds, papermill-injected or edited), must fit it
    (:func:`check_parameter`), else ``ValueError`` before any work. Without ``chapter``
    (a notebook outside the package's chapters) no types are checked.

    ``PROFILES`` maps each profile name to a dict of knob values; every profile must define the
    same knobs. Every knob must be passed by name in ``explicit`` (its value from the parameters
    cell, usually ``None``), so that a papermill override of any knob is honoured; a misspelt or
    missing knob raises ``ValueError``. Run in a notebook kernel, it also refuses a parameter
    that papermill injected but the parameters cell does not define (:func:`check_injected`).
    See the module docstring for the whole pattern.
    """
    if not isinstance(PROFILES, dict) or not PROFILES:
        raise ValueError("PROFILES must be a non-empty dict {profile name: {knob: value}}.")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}; got {profile!r}.")
    knobs = set(PROFILES[profile])
    for name, values in PROFILES.items():
        if not isinstance(values, dict):
            raise ValueError(f"PROFILES[{name!r}] must be a dict of knob values.")
        if set(values) != knobs:
            diff = sorted(knobs.symmetric_difference(values))
            raise ValueError(
                f"PROFILES[{name!r}] and PROFILES[{profile!r}] must define the same knobs; "
                f"they differ in {diff}."
            )
    unknown = sorted(set(explicit) - knobs)
    if unknown:
        raise ValueError(
            f"unknown knob(s) {unknown}: not in PROFILES[{profile!r}] (knobs: {sorted(knobs)}). "
            "Add them to every profile or fix the spelling."
        )
    missing = sorted(knobs - set(explicit))
    if missing:
        raise ValueError(
            f"pass every knob to settings(...) by name; missing {missing} "
            f"(e.g. settings(profile, PROFILES, {missing[0]}={missing[0]}, ...))."
        )
    check_injected(knobs, _kernel_history())
    values = {
        key: (explicit[key] if explicit[key] is not None else PROFILES[profile][key])
        for key in PROFILES[profile]
    }
    if chapter is not None:
        _check_types(chapter, values)
    return Settings(profile, values)


def _check_types(chapter: str, values: dict) -> None:
    """The knobs' resolved ``values`` and the kernel's plain parameters against
    ``PARAMETERS[chapter]``."""
    if chapter not in PARAMETERS:
        raise ValueError(f"chapter must be one of {sorted(PARAMETERS)}; got {chapter!r}.")
    undeclared = sorted(set(values) - set(PARAMETERS[chapter]))
    if undeclared:
        raise ValueError(
            f"knob(s) {undeclared} of chapter {chapter} are not declared in "
            "smfq_lib.chapters.settings.PARAMETERS; declare what their values must be there."
        )
    for name, value in values.items():
        check_parameter(chapter, name, value)
    namespace = _kernel_namespace()
    for name in sorted(set(PARAMETERS[chapter]) - set(values)):
        if name in namespace:
            check_parameter(chapter, name, namespace[name])


def _kernel_namespace() -> dict:
    """The IPython kernel's user namespace ({} outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook tools
        return {}
    shell = get_ipython()
    return {} if shell is None else dict(shell.user_ns)


def parameters_markdown(notebooks_dir) -> str:
    """``docs/parameters.md``: per chapter, every parameter of :data:`PARAMETERS` with what it
    must be, its ``quick`` and ``full`` values and the comment of its line in the chapter's
    parameters cell (``notebooks_dir``: the folder of the chapters)."""
    lines = [
        "# The chapters' parameters",
        "",
        "Generated from `smfq_lib.chapters.settings.PARAMETERS` and the notebooks' parameters",
        "cells (`tests/test_docs.py` checks that it is current). Every value, from the parameters",
        "cell or from `papermill -p`, is checked against the second column before any work.",
    ]
    for chapter, specs in PARAMETERS.items():
        book = json.loads((Path(notebooks_dir) / f"{chapter}.ipynb").read_text())
        (cell,) = [c for c in book["cells"] if "parameters" in c["metadata"].get("tags", [])]
        source = "".join(cell["source"])
        namespace: dict = {}
        exec(source, namespace)  # the committed parameters cell: literals only
        profiles = namespace["PROFILES"]
        comments = dict(re.findall(r"^(\w+) = .*?# (.*)$", source, flags=re.M))
        lines += ["", f"## {chapter}", "", "| parameter | must be | quick | full | meaning |"]
        lines += ["|---|---|---|---|---|"]
        for name, spec in specs.items():
            quick, full = (
                (profiles["quick"][name], profiles["full"][name])
                if name in profiles["quick"]
                else (namespace[name], namespace[name])
            )
            meaning = comments.get(name, "").replace("|", "\\|")
            lines.append(
                f"| `{name}` | {_spec_text(spec)} | `{quick!r}` | `{full!r}` | {meaning} |"
            )
    return "\n".join(lines) + "\n"


# papermill's injected cell starts with this comment (its Python translator's header)
_INJECTED_HEADER = "# Parameters"


def _kernel_history() -> list[str]:
    """The sources of the cells the IPython kernel has run, oldest first ([] outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook tools
        return []
    shell = get_ipython()
    if shell is None or getattr(shell, "history_manager", None) is None:
        return []
    return [str(cell) for cell in shell.history_manager.input_hist_raw]


def _assigned_names(source: str) -> set[str]:
    """Names a cell assigns at top level (``name = ...``, ``name: type = ...``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: no names known
        return set()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def check_injected(knobs, history: list[str]) -> None:
    """Refuse a papermill parameter that the notebook does not define.

    papermill (``-p name value``) puts the parameters it is given in a cell of their own,
    tagged ``injected-parameters``, right after the cell tagged ``parameters``, and assigns them
    whether or not the notebook uses them, so a misspelt name would be silently ignored. The
    kernel does not see cell tags, but it keeps the source of every cell it ran: ``history``
    (IPython's input history, oldest first). The last cell starting with papermill's
    ``# Parameters`` header is the injected one, and the cell run just before it is the
    notebook's parameters cell. Every injected name must be assigned in that parameters cell,
    be a knob of ``PROFILES`` or ``profile``, or be one of papermill's own
    ``PAPERMILL_*`` path names (``--inject-paths``); otherwise ``ValueError`` names the unknown
    parameter and the known ones. Without an injected cell (an interactive session, a plain
    ``python`` run) there is nothing to check.

    ``knobs``: the names of ``PROFILES``' knobs.
    """
    injected = [i for i, cell in enumerate(history) if cell.lstrip().startswith(_INJECTED_HEADER)]
    if not injected:
        return
    i = injected[-1]
    known = set(knobs) | {"profile", "PROFILES"}
    if i > 0:
        known |= _assigned_names(history[i - 1])
    names = _assigned_names(history[i])
    unknown = sorted(n for n in names - known if not n.startswith("PAPERMILL_"))
    if unknown:
        raise ValueError(
            f"papermill was given parameter(s) {unknown} that this notebook does not have; "
            f"its parameters are {sorted(known - {'PROFILES'})}. Fix the spelling "
            "(e.g. -p profile full)."
        )
