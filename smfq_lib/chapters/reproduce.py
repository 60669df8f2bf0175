"""Run the chapter notebooks: ``python -m smfq_lib.reproduce --profile quick|full [--only NN]``.

Each ``notebooks/NN_*.ipynb`` is executed in order with papermill (kernel ``python3``, working
directory ``notebooks/``, parameter ``profile``), and its executed copy is written to
``results/<profile>/NN_*.ipynb``. A notebook passes when every cell runs, including its final
check cell of ``assert`` statements; the run ends with a summary table and exits non-zero if any
notebook failed. Figures go where :func:`smfq_lib.chapters.plotting.figures_root` says: the run sets
``SMFQ_FIGURES`` for the kernels (unless already set) to ``<repo>/figures`` for ``--profile full``
and ``<repo>/results/<profile>/figures`` otherwise, so quick runs never overwrite the committed
figures. A chapter's sweep results store is ``<results root>/<notebook>.sqlite``
(:func:`chapter_store`), the root being ``$SMFQ_RESULTS`` if set, else ``<repo>/results/<profile>``
(the test session points both variables at a temporary folder). The summary table says, per
notebook, how many sweep points were computed and how many were reused from a store: every
:func:`smfq_lib.sweep.run_sweep` in a kernel appends its counts to the file named by
``SMFQ_SWEEP_LOG``, which the run sets per notebook. Kernels are started with CurveZMQ transport
encryption (``KernelManager.transport_encryption = "auto"``), so ipykernel does not warn that it
runs over TCP without encryption.

Options: ``--only 01 03`` runs those chapters only; ``--notebooks DIR`` and ``--results DIR``
replace the notebook and output directories (tests use them). ``--summary`` runs no notebook: it
rewrites README.md's block of findings from the figures' CSVs (``--figures DIR``, default
``figures/``; :mod:`smfq_lib.chapters.results`).

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

    from smfq_lib.chapters.settings import settings
    cfg = settings(profile, PROFILES, chapter="NN_name", n_max=n_max, k_max=k_max)
    cfg  # shows the resolved values in the executed notebook

then ``cfg.n_max``, ``cfg.profile`` etc. ``settings`` also refuses a papermill parameter that
the parameters cell does not define (``-p profil full`` would otherwise run the quick profile
and exit 0): see :func:`check_injected`; and, with ``chapter``, a value that does not fit the
chapter's declaration in :data:`smfq_lib.chapters.settings.PARAMETERS` (``-p n_max True``).
Further cells call ``smfq_lib`` (no algorithm is implemented in a notebook), draw with
:func:`smfq_lib.chapters.plotting.use_style` and save with
:func:`smfq_lib.chapters.plotting.save_figure` (``profile=cfg.profile``). A cell whose first line is
``# NBVAL_CHECK_OUTPUT`` prints the chapter's key numbers, rounded so that they reproduce exactly
(``pytest --nbval-lax`` compares that cell's output). The last cell holds explicit ``assert``
statements of what the chapter claims.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from smfq_lib.chapters.plotting import REPO
from smfq_lib.chapters.settings import Settings, check_injected, settings
from smfq_lib.sweep.run import SWEEP_LOG_ENV

__all__ = [
    "RESULTS_ENV",
    "Settings",
    "chapter_store",
    "check_injected",
    "find_notebooks",
    "main",
    "results_root",
    "run",
    "settings",
]

PROFILE_NAMES = ("quick", "full")
#: Environment variable overriding the directory of the chapters' results stores.
RESULTS_ENV = "SMFQ_RESULTS"
_NB_NAME = re.compile(r"^(\d\d)_.*\.ipynb$")
_NB_STEM = re.compile(r"^\d\d_[A-Za-z0-9_]+$")


# -- where a chapter's results go ------------------------------------------------------------
def results_root(profile: str) -> Path:
    """Directory of the chapters' sweep results stores for a run with ``profile``:
    ``$SMFQ_RESULTS`` if set, else ``<repo>/results/<profile>``."""
    env = os.environ.get(RESULTS_ENV, "").strip()
    if env:
        return Path(env)
    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile must be one of {PROFILE_NAMES}; got {profile!r}.")
    return REPO / "results" / profile


def chapter_store(notebook: str, profile: str) -> Path:
    """The results store of chapter ``notebook`` (e.g. ``"06_gaussian_squeeze"``) for a run with
    ``profile``: ``<results_root(profile)>/<notebook>.sqlite``, for
    :func:`smfq_lib.sweep.run_sweep` (``store=``)."""
    if not isinstance(notebook, str) or not _NB_STEM.match(notebook):
        raise ValueError(
            f"notebook must be a chapter name like '06_gaussian_squeeze'; got {notebook!r}."
        )
    return results_root(profile) / f"{notebook}.sqlite"


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
    """One executed notebook: its wall time, whether its check passed, and its sweeps' counts
    (points computed, reused from a store, failed; ``None`` if it ran no sweep)."""

    notebook: str
    seconds: float
    passed: bool
    error: str = ""
    computed: int | None = None
    reused: int | None = None
    failed: int | None = None


def _read_sweep_log(path: Path) -> dict:
    """Sum the ``run_sweep`` summaries a kernel appended to ``path`` (empty dict if none)."""
    if not path.exists():
        return {}
    totals = {"computed": 0, "reused": 0, "failed": 0}
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            for key in totals:
                totals[key] += int(entry[key])
    return totals


def _kernel_config():
    """nbclient's config: CurveZMQ transport encryption where the kernel supports it."""
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": "auto"}})


def _kernel_manager_class():
    """nbclient's kernel manager, without the SIGINT that ``shutdown_kernel`` sends first.

    jupyter_client interrupts a kernel before asking it to shut down; nbclient shuts it down only
    after the last cell has finished (or failed), so there is nothing to interrupt, and the
    signal only makes ipykernel log ``ERROR | KeyboardInterrupt caught in kernel.`` when it lands
    in a message handler. A timed-out cell is still interrupted (nbclient calls
    ``interrupt_kernel`` itself)."""
    from jupyter_client.manager import AsyncKernelManager

    class ShutdownWithoutInterrupt(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return ShutdownWithoutInterrupt


def run(
    profile: str,
    only=None,
    notebooks_dir: Path | None = None,
    results_dir: Path | None = None,
    progress: bool = True,
) -> list[Outcome]:
    """Execute the notebooks with papermill; return one :class:`Outcome` per notebook.

    ``profile`` is ``"quick"`` or ``"full"``; ``only`` a list of chapter numbers (all if
    ``None``); ``notebooks_dir`` the chapters' directory (default ``<repo>/notebooks``).
    Executed copies go to ``results_dir`` (default ``<repo>/results/<profile>``). Relative
    paths, these and ``$SMFQ_FIGURES``, ``$SMFQ_RESULTS``, are taken relative to the working
    directory of the call (made absolute before any kernel starts in the notebooks' folder). With
    ``progress``, papermill's bar over the cells. Every notebook runs even if an earlier one
    fails.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile must be one of {PROFILE_NAMES}; got {profile!r}.")
    # every path against the caller's working directory: the kernels run in the notebooks' one
    notebooks_dir = Path(notebooks_dir).absolute() if notebooks_dir else REPO / "notebooks"
    results_dir = Path(results_dir).absolute() if results_dir else REPO / "results" / profile
    for name in ("SMFQ_FIGURES", RESULTS_ENV):
        if os.environ.get(name, "").strip():
            os.environ[name] = str(Path(os.environ[name].strip()).absolute())
    notebooks = find_notebooks(notebooks_dir, only)
    results_dir.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("SMFQ_FIGURES"):
        from smfq_lib.chapters.plotting import figures_root

        os.environ["SMFQ_FIGURES"] = str(figures_root(profile))  # inherited by the kernels
    if not os.environ.get(RESULTS_ENV, "").strip():
        os.environ[RESULTS_ENV] = str(results_root(profile))
    print(f"profile {profile}: {len(notebooks)} notebook(s) from {notebooks_dir}")
    print(f"executed copies -> {results_dir}; figures -> {os.environ['SMFQ_FIGURES']}")
    print(f"sweep results stores -> {os.environ[RESULTS_ENV]}")
    outcomes = []
    for nb in notebooks:
        out = results_dir / nb.name
        log = results_dir / f"{nb.stem}.sweeps.jsonl"
        log.unlink(missing_ok=True)
        os.environ[SWEEP_LOG_ENV] = str(log)
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
                config=_kernel_config(),
                kernel_manager_class=_kernel_manager_class(),
            )
            passed = True
        except PapermillExecutionError as exc:
            passed = False
            error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        except Exception as exc:  # kernel death, bad JSON, ...: report, go on
            passed = False
            error = f"{type(exc).__name__}: {exc}"
        finally:
            os.environ.pop(SWEEP_LOG_ENV, None)
        seconds = time.perf_counter() - start
        outcomes.append(Outcome(nb.name, seconds, passed, error, **_read_sweep_log(log)))
        if error:
            print(f"FAILED {nb.name}: {error}", flush=True)
    return outcomes


def _points(computed, reused, failed) -> str:
    if computed is None:
        return "-"
    text = f"{computed} computed, {reused} reused"
    return text + (f", {failed} FAILED" if failed else "")


def summary(outcomes: list[Outcome]) -> str:
    """The table printed at the end of a run: per notebook its seconds, its sweep points
    (computed this run, reused from a results store) and whether its check passed."""
    width = max([len("notebook")] + [len(o.notebook) for o in outcomes])
    points = [_points(o.computed, o.reused, o.failed) for o in outcomes]
    pw = max([len("sweep points")] + [len(p) for p in points])
    rule = "-" * (width + pw + 28)
    lines = [f"{'notebook':<{width}}  {'seconds':>8}  {'sweep points':<{pw}}  check passed", rule]
    for o, p in zip(outcomes, points, strict=True):
        passed = "yes" if o.passed else "NO"
        lines.append(f"{o.notebook:<{width}}  {o.seconds:8.1f}  {p:<{pw}}  {passed}")
    total = sum(o.seconds for o in outcomes)
    failed = [o for o in outcomes if not o.passed]
    swept = [o for o in outcomes if o.computed is not None]
    sums = [sum(getattr(o, key) for o in swept) for key in ("computed", "reused", "failed")]
    p = _points(*sums) if swept else "-"
    lines.append(rule)
    passed = f"{len(outcomes) - len(failed)}/{len(outcomes)}"
    lines.append(f"{'total':<{width}}  {total:8.1f}  {p:<{pw}}  {passed}")
    if swept and sums[1]:
        lines.append(
            f"{sums[1]} sweep point(s) were read from the results stores under "
            f"{os.environ.get(RESULTS_ENV) or 'results/<profile>'}, not computed: delete them "
            "to recompute (and after changing the library)."
        )
    for o in failed:
        lines.append(f"{o.notebook}: {o.error}")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m smfq_lib.reproduce``: parse ``argv`` (default ``sys.argv[1:]``), run the
    notebooks, print the summary; returns the exit status (0 if every notebook passed)."""
    parser = argparse.ArgumentParser(
        prog="python -m smfq_lib.reproduce",
        description="Execute the chapter notebooks with papermill and check them.",
    )
    parser.add_argument("--profile", choices=PROFILE_NAMES, help="required unless --summary")
    parser.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers, e.g. 01 03")
    parser.add_argument("--notebooks", type=Path, help="notebook directory (default notebooks/)")
    parser.add_argument(
        "--results",
        type=Path,
        help="executed copies go here (default results/<profile>/); figures follow "
        "$SMFQ_FIGURES or the profile rule, not this option",
    )
    parser.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="run no notebook: rewrite README.md's block of findings from the figures' CSVs "
        "(smfq_lib.chapters.results)",
    )
    parser.add_argument("--figures", type=Path, help="with --summary: figures (default figures/)")
    args = parser.parse_args(argv)
    if args.summary:
        from smfq_lib.chapters.results import write_readme

        figures = args.figures or REPO / "figures"
        changed = write_readme(figures, REPO / "README.md")
        state = "rewritten" if changed else "already up to date"
        print(f"README.md's findings from {figures}: {state}")
        return 0
    if args.profile is None:
        parser.error("--profile is required (or --summary)")
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
