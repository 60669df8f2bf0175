"""What a reader meets: every public callable documents each of its arguments, and the code and
notebooks cite the repository's own design document (``docs/design.md §N``, a section that
exists), never a file outside the repository.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

import smfq_lib

REPO = Path(smfq_lib.__file__).resolve().parent.parent
DESIGN = REPO / "docs" / "design.md"


#: The modules a user imports from (docs/design.md §8, plus the notebooks' helpers in
#: ``chapters``, and the argument checks every module shares); the kernels' modules inside the
#: packages are internal.
PUBLIC_MODULES = (
    "smfq_lib",
    "smfq_lib._utils.checks",
    "smfq_lib.chapters.experiments",
    "smfq_lib.chapters.plotting",
    "smfq_lib.chapters.reproduce",
    "smfq_lib.chapters.settings",
    "smfq_lib.envs",
    "smfq_lib.evaluate",
    "smfq_lib.execute",
    "smfq_lib.learning",
    "smfq_lib.learning.policy",
    "smfq_lib.model",
    "smfq_lib.model.combinatorics",
    "smfq_lib.model.examples",
    "smfq_lib.model.system",
    "smfq_lib.sweep",
    "smfq_lib.theory",
)


def _modules():
    for name in PUBLIC_MODULES:
        yield importlib.import_module(name)


def _public_callables():
    """``(qualified name, object)`` of every function and class in a module's ``__all__``."""
    seen = {}
    for module in _modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            target = getattr(obj, "py_func", obj)  # a Numba dispatcher: its Python function
            if inspect.isfunction(target) or inspect.isclass(target):
                seen.setdefault(id(target), (f"{module.__name__}.{name}", target))
    return sorted(seen.values())


def _parameters(obj) -> list[str]:
    fn = obj.__init__ if inspect.isclass(obj) else obj
    if inspect.isclass(obj) and fn is object.__init__:
        return []
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return []
    skip = {"self", "cls"}
    return [p.lstrip("_") for p in sig.parameters if p not in skip]


def _docstring(obj) -> str:
    parts = [inspect.getdoc(obj) or ""]
    if inspect.isclass(obj) and obj.__init__ is not object.__init__:
        parts.append(obj.__init__.__doc__ or "")
    return "\n".join(parts)


PUBLIC = _public_callables()


def test_public_callables_found():
    names = {name for name, _ in PUBLIC}
    for expected in ("learn", "execute.rollout_counts", "theory.gap_bound"):
        assert f"smfq_lib.{expected}" in names
    assert len(PUBLIC) > 50


@pytest.mark.parametrize("name, obj", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_callable_documents_every_argument(name, obj):
    doc = _docstring(obj)
    assert doc.strip(), f"{name} has no docstring"
    undocumented = [p for p in _parameters(obj) if not re.search(rf"\b{re.escape(p)}\b", doc)]
    assert not undocumented, f"{name}: its docstring never names {undocumented}"


def test_documentation_check_can_fail():
    def f(alpha, beta):
        """Uses alpha only."""

    assert [p for p in _parameters(f) if not re.search(rf"\b{p}\b", _docstring(f))] == ["beta"]


def _cited_files():
    for path in sorted((REPO / "smfq_lib").rglob("*.py")):
        yield path, path.read_text()
    for path in sorted((REPO / "tests").glob("*.py")):
        if path.name != Path(__file__).name:
            yield path, path.read_text()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield path, "\n".join("".join(c["source"]) for c in cells)
    for path in (REPO / "README.md", REPO / "docs" / "map.md"):
        yield path, path.read_text()


def test_citations_point_into_the_repository():
    sections = set(re.findall(r"^## (\d+)\. ", DESIGN.read_text(), flags=re.M))
    assert sections == {str(i) for i in range(1, 13)}
    for path, text in _cited_files():
        rel = path.relative_to(REPO)
        assert not re.search(r"DESIGN(\.md)?\s*(§|section)|/work/shared", text), (
            f"{rel} cites a design document outside the repository; cite docs/design.md §N"
        )
        for section in re.findall(r"docs/design\.md §(\d+)", text):
            assert section in sections, f"{rel} cites docs/design.md §{section}, which is missing"


def test_rst_to_markdown():
    from smfq_lib.model.examples.describe import rst_to_markdown

    rst = "Uses ``P_g`` and :class:`~smfq_lib.model.system.Aggregate`, :func:`learn`.\nExample::"
    assert rst_to_markdown(rst) == "Uses `P_g` and `Aggregate`, `learn`.\nExample:"
    assert rst_to_markdown("``r = a\n  - b`` here") == "`r = a - b` here"


@pytest.mark.parametrize("name", ["gaussian_squeeze", "constrained_exploration",
                                  "majority_mode", "two_zone_exploration"])  # fmt: skip
def test_describe_renders_every_example_as_markdown(name):
    import smfq_lib.model.examples as examples

    text = examples.describe(getattr(examples, name))
    assert text.startswith(f"### `{name}`\n") and "Modelling choices" in text
    assert "``" not in text and not re.search(r":(class|func|mod|data):`", text)
    for line in text.splitlines():  # every code span closes on its line: a wrapped one whose
        assert line.count("`") % 2 == 0, line  # next line starts with "-" renders as a list
    with pytest.raises(ValueError, match="documented function"):
        examples.describe(42)


def test_rollouts_summaries_are_all_methods():
    from smfq_lib.execute import Rollouts

    members = vars(Rollouts)
    assert not [name for name, v in members.items() if isinstance(v, property)]
    for name in ("mean", "sem", "ci", "mean_rewards"):
        assert inspect.isfunction(members[name]), name


#: Chapters whose figure cells go through smfq_lib.chapters.plotting (all of them).
SHORT_FIGURE_CELLS = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13")


@pytest.mark.parametrize("number", SHORT_FIGURE_CELLS)
def test_figure_cells_are_short(number):
    """A code cell that draws a figure stays readable: the drawing lives in
    smfq_lib.chapters.plotting, the cell holds at most ~15 lines (16 allowed for the save_figure
    columns)."""
    (path,) = (REPO / "notebooks").glob(f"{number}_*.ipynb")
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "plt.subplots" in source:
            lines = source.strip().count("\n") + 1
            assert lines <= 16, f"{path.name}: a figure cell of {lines} lines:\n{source[:200]}"


def test_parameters_doc_is_generated_from_the_declaration():
    """docs/parameters.md is what smfq_lib.chapters.settings.parameters_markdown makes of
    PARAMETERS and the committed parameters cells (regenerate it with that function after
    changing either)."""
    from smfq_lib.chapters.settings import parameters_markdown

    text = (REPO / "docs" / "parameters.md").read_text()
    assert text == parameters_markdown(REPO / "notebooks")
