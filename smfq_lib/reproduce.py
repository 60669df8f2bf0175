"""Run the chapter notebooks: ``python -m smfq_lib.reproduce --profile quick|full [--only NN]``.

Each ``notebooks/NN_*.ipynb`` is executed in order with papermill (kernel ``python3``, working
directory ``notebooks/``, parameter ``profile``), and its executed copy is written to
``results/<profile>/NN_*.ipynb``. A notebook passes when every cell runs, including its final
check cell of ``assert`` statements; the run ends with a summary table and exits non-zero if any
notebook failed. Figures go where :func:`smfq_lib.plotting.figures_root` says: the run sets
``SMFQ_FIGURES`` for the kernels (unless already set) to ``<repo>/figures`` for ``--profile full``
and ``<repo>/results/<profile>/figures`` otherwise, so quick runs never overwrite the committed
figures.

Options: ``--only 01 03`` runs those chapters only; ``--notebooks DIR`` and ``--results DIR``
replace the notebook and output directories (tests use them).

The notebook pattern (every chapter follows it)
-----------------------------------------------
Cell 1 (markdown): what the chapter shows and which equation/theorem of the paper it checks.

Cell 2 (code, tagged ``parameters``): every knob. ``profile`` picks a column of ``PROFILES``;
each other knob defaults to ``None``, meaning "the profile's value", and papermill (``-p n_max
40``) or an edit can override it. One knob per line, ``name = value  # help``; keep ``=`` out of
the help comment (papermill's parameter parser then skips the line)::

    profile = "quick"  # "quick": minutes, CI-sized; "full": the paper-scale figures
    n_max = None  # largest number of agents; None = the profile's value
    k_max = None  # largest sample size k; None = the profile's value
    PROFILES = {
        "quick": {"n_max": 20, "k_max": 10},
        "full": {"n_max": 200, "k_max": 50},
    }

Cell 3 (code): resolve the knobs, passing each one by name (every knob of the profile must be
passed, so an override can never be silently ignored)::

    from smfq_lib.reproduce import settings
    cfg = settings(profile, PROFILES, n_max=n_max, k_max=k_max)
    cfg  # shows the resolved values in the executed notebook

then ``cfg.n_max``, ``cfg.profile`` etc. ``settings`` also refuses a papermill parameter that
the parameters cell does not define (``-p profil full`` would otherwise run the quick profile
and exit 0): see :func:`check_injected`. Further cells call ``smfq_lib`` (no algorithm is
implemented in a notebook), draw with :func:`smfq_lib.plotting.use_style` and save with
:func:`smfq_lib.plotting.save_figure` (``profile=cfg.profile``). A cell whose first line is
``# NBVAL_CHECK_OUTPUT`` prints the chapter's key numbers, rounded so that they reproduce exactly
(``pytest --nbval-lax`` compares that cell's output). The last cell holds explicit ``assert``
statements of what the chapter claims.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from smfq_lib.plotting import REPO

__all__ = ["Settings", "check_injected", "settings", "find_notebooks", "run", "main"]

PROFILE_NAMES = ("quick", "full")
_NB_NAME = re.compile(r"^(\d\d)_.*\.ipynb$")


# -- the notebooks' settings helper ----------------------------------------------------------
class Settings:
    """The resolved knobs of a notebook: attribute access (``cfg.n_max``), plus ``.profile``.

    Read-only. ``dict(cfg.items())`` gives the knobs; ``repr`` lists them, one per line.
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


# -- running notebooks -----------------------------------------------------------------------
def find_notebooks(notebooks_dir: Path, only=None) -> list[Path]:
    """``NN_*.ipynb`` files of ``notebooks_dir`` in order, restricted to the numbers in ``only``."""
    notebooks_dir = Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise ValueError(f"notebooks directory {notebooks_dir} does not exist.")
    found = sorted(p for p in notebooks_dir.iterdir() if _NB_NAME.match(p.name))
    if only:
        wanted = {f"{int(x):02d}" if str(x).isdigit() else str(x) for x in only}
        by_number = {_NB_NAME.match(p.name).group(1): p for p in found}
        absent = sorted(wanted - set(by_number))
        if absent:
            raise ValueError(
                f"--only {' '.join(absent)}: no such notebook in {notebooks_dir} "
                f"(have {' '.join(sorted(by_number)) or 'none'})."
            )
        found = [p for p in found if _NB_NAME.match(p.name).group(1) in wanted]
    if not found:
        raise ValueError(f"no NN_*.ipynb notebooks in {notebooks_dir}.")
    return found


@dataclass
class Outcome:
    notebook: str
    seconds: float
    passed: bool
    error: str = ""


def run(
    profile: str,
    only=None,
    notebooks_dir: Path | None = None,
    results_dir: Path | None = None,
    progress: bool = True,
) -> list[Outcome]:
    """Execute the notebooks with papermill; return one :class:`Outcome` per notebook.

    Executed copies go to ``results_dir`` (default ``<repo>/results/<profile>``). Every notebook
    runs even if an earlier one fails.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile must be one of {PROFILE_NAMES}; got {profile!r}.")
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else REPO / "notebooks"
    results_dir = Path(results_dir) if results_dir else REPO / "results" / profile
    notebooks = find_notebooks(notebooks_dir, only)
    results_dir.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("SMFQ_FIGURES"):
        from smfq_lib.plotting import figures_root

        os.environ["SMFQ_FIGURES"] = str(figures_root(profile))  # inherited by the kernels
    print(f"profile {profile}: {len(notebooks)} notebook(s) from {notebooks_dir}")
    print(f"executed copies -> {results_dir}; figures -> {os.environ['SMFQ_FIGURES']}")
    outcomes = []
    for nb in notebooks:
        out = results_dir / nb.name
        print(f"\n== {nb.name}", flush=True)
        start = time.perf_counter()
        error = ""
        try:
            pm.execute_notebook(
                str(nb),
                str(out),
                parameters={"profile": profile},
                kernel_name="python3",
                cwd=str(nb.parent),
                progress_bar=progress,
            )
            passed = True
        except PapermillExecutionError as exc:
            passed = False
            error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        except Exception as exc:  # kernel death, bad JSON, ...: report, go on
            passed = False
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        outcomes.append(Outcome(nb.name, seconds, passed, error))
        if error:
            print(f"FAILED {nb.name}: {error}", flush=True)
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    """The table printed at the end of a run."""
    width = max([len("notebook")] + [len(o.notebook) for o in outcomes])
    lines = [f"{'notebook':<{width}}  {'seconds':>8}  check passed", "-" * (width + 24)]
    for o in outcomes:
        lines.append(f"{o.notebook:<{width}}  {o.seconds:8.1f}  {'yes' if o.passed else 'NO'}")
    total = sum(o.seconds for o in outcomes)
    failed = [o for o in outcomes if not o.passed]
    lines.append("-" * (width + 24))
    lines.append(f"{'total':<{width}}  {total:8.1f}  {len(outcomes) - len(failed)}/{len(outcomes)}")
    for o in failed:
        lines.append(f"{o.notebook}: {o.error}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smfq_lib.reproduce",
        description="Execute the chapter notebooks with papermill and check them.",
    )
    parser.add_argument("--profile", choices=PROFILE_NAMES, required=True)
    parser.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers, e.g. 01 03")
    parser.add_argument("--notebooks", type=Path, help="notebook directory (default notebooks/)")
    parser.add_argument(
        "--results",
        type=Path,
        help="executed copies go here (default results/<profile>/); figures follow "
        "$SMFQ_FIGURES or the profile rule, not this option",
    )
    parser.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    args = parser.parse_args(argv)
    try:
        outcomes = run(
            args.profile,
            only=args.only,
            notebooks_dir=args.notebooks,
            results_dir=args.results,
            progress=not args.no_progress,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print("\n" + summary(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
