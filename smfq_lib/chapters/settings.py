"""The notebooks' settings helper: ``cfg = settings(profile, PROFILES, knob=knob, ...)``.

Every chapter's parameters cell holds its knobs (``None`` meaning "the profile's value") and a
``PROFILES`` dict; :func:`settings` resolves them and refuses a misspelt or unknown knob,
papermill-injected ones included (:func:`check_injected`). The whole notebook pattern is in the
docstring of :mod:`smfq_lib.chapters.reproduce`, which re-exports these names.
"""

from __future__ import annotations

import ast

__all__ = ["Settings", "check_injected", "settings"]


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


def settings(profile: str, PROFILES: dict, **explicit) -> Settings:
    """Resolve a notebook's knobs: an explicit value wins, ``None`` takes ``PROFILES[profile]``.

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
    return Settings(profile, values)


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
