"""No wall time is asserted anywhere: not in the tests, not in a chapter's check cell, not in a
benchmark's exit code (speed is measured by ``benchmarks/``, never asserted: a timing depends on
the machine and its load, and an assertion on it fails on the next machine).

The check reads every test module, benchmark and notebook code cell with ``ast``: a name is a
*timing* if it is a clock call (``time.*``, ``perf_counter``, ...), contains a timing word
(``seconds``, ``elapsed``, ``speedup``, ...), or is assigned from an expression that reads a timing
(followed through the whole file or notebook, so ``median = np.median(seconds)`` is one too). An
``assert`` or an exit (``sys.exit``, ``raise SystemExit``) that reads a timing fails the test.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLOCKS = {"time", "perf_counter", "perf_counter_ns", "monotonic", "process_time", "time_ns"}
WORDS = {"seconds", "secs", "elapsed", "speedup", "speedups", "timing", "timings", "wall"}
WORDS |= {"duration", "perf", "timeit"}


def _is_timing_name(name: str) -> bool:
    return name in CLOCKS or bool(WORDS & set(re.split(r"[_\W]+", name.lower())))


def _names(node) -> set[str]:
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
    return out


def _bound(target) -> set[str]:
    """The variables an assignment target binds: ``x`` of ``x``, ``x[i]``, ``x.a[i]`` (the
    index ``i`` is read, not bound)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Attribute):
        return {target.attr}
    if isinstance(target, ast.Subscript | ast.Starred):
        return _bound(target.value)
    if isinstance(target, ast.Tuple | ast.List):
        return {n for t in target.elts for n in _bound(t)}
    return set()


def _targets(node) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n for t in targets for n in _bound(t)}


def _orders_a_timing(node, tainted) -> bool:
    """Whether ``node`` compares a timing by order (``<``, ``<=``, ``>``, ``>=``): a bound on a
    wall time. Equality (a stored timing read back unchanged) is not one."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Compare) and any(
            isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE) for op in sub.ops
        ):
            read = _names(sub)
            if read & tainted or any(map(_is_timing_name, read)):
                return True
    return False


def timing_assertions(source: str) -> list[str]:
    """The asserts and exits of ``source`` that read a timing (their source text)."""
    tree = ast.parse(source)
    assigns = [n for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AugAssign)]
    assigns += [n for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and n.value]
    tainted: set[str] = set()
    while True:  # to a fixed point: assignment order across cells does not matter
        before = len(tainted)
        for node in assigns:
            read = _names(node.value)
            if read & tainted or any(map(_is_timing_name, read)):
                tainted |= _targets(node)
        if len(tainted) == before:
            break
    found = []
    for node in ast.walk(tree):
        checked = None
        if isinstance(node, ast.Assert):
            checked = node.test
        elif isinstance(node, ast.If) and any(map(_exits, node.body)):
            checked = node.test  # if speedup < 1: sys.exit(1)
        elif _exits(node):
            checked = node
        if checked is not None and _orders_a_timing(checked, tainted):
            found.append(ast.get_source_segment(source, node) or ast.dump(node))
    return found


def _exits(node) -> bool:
    """``sys.exit(...)``, ``exit(...)`` or ``raise SystemExit(...)``."""
    if isinstance(node, ast.Expr):
        node = node.value
    if isinstance(node, ast.Raise):
        return node.exc is not None and "SystemExit" in _names(node.exc)
    return isinstance(node, ast.Call) and "exit" in _names(node.func)


def _sources():
    for path in sorted((REPO / "tests").glob("*.py")) + sorted((REPO / "benchmarks").glob("*.py")):
        if path.name != Path(__file__).name:  # this file's strings are examples
            yield path.relative_to(REPO).as_posix(), path.read_text()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        lines = "\n".join(code).splitlines()  # IPython magics are not Python: drop them
        yield (
            path.relative_to(REPO).as_posix(),
            "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))),
        )


SOURCES = dict(_sources())


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_wall_time_is_asserted(name):
    assert timing_assertions(SOURCES[name]) == [], f"{name} asserts a wall time"


def test_the_check_can_fail():
    """What chapter 7's check cell and a test of the refusals used to assert, and what stays."""
    flagged = [
        "seconds = f()\nmedian = np.median(seconds, axis=1)\nassert median[-1] / median[0] > 10",
        "t = time.perf_counter()\nf()\nassert time.perf_counter() - t < 2.0",
        "dt = bench()\nspeedup = ref / dt\nif speedup < 1:\n    sys.exit(1)",
        "elapsed = run()\nassert elapsed < 5",
        "raise SystemExit(int(timing['x'] > 3))",
    ]
    for source in flagged:
        assert timing_assertions(source), source
    kept = [
        "heat_times = [0, 5, 10]\nassert max(heat_times) == 10",
        "gap = f()\nassert gap < 1e-9",
        "t = 3\nassert t == 3",
        "seconds = f()\nprint(seconds)\nassert ok",
        "t0 = time.perf_counter()\ncost[k, n] = time.perf_counter() - t0\nassert k < n",
        "back = load()\nassert back.solve_seconds == 0",
    ]
    for source in kept:
        assert timing_assertions(source) == [], source
