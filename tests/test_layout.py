"""The package layout as users and readers meet it: ``smfq_lib.learn`` is the function and
``smfq_lib.learning`` its package (no shadowing), one operator class per algorithm behind one
interface, ``smfq_lib.execute`` exporting the same public names as before it became a package, and
the top level read as the architecture (docs/map.md): the algorithms never import the chapters'
support, imports go one way between the top-level groups, and the import graph has no circle.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
from pathlib import Path

import numpy as np
import pytest
from brute_force import tiny_system

import smfq_lib
import smfq_lib.execute as E
import smfq_lib.learning as L
from smfq_lib.learning.mean_field import MeanFieldOperator
from smfq_lib.learning.operator import Operator
from smfq_lib.learning.registry import operator_class
from smfq_lib.learning.tabular import TabularOperator

#: ``smfq_lib.execute.__all__`` when it was one module.
EXECUTE_NAMES = [
    "IIDInitial",
    "Rollouts",
    "count_state_weights",
    "iid_initial",
    "rollout_agents",
    "rollout_counts",
    "run_chunks",
]


def test_learn_is_the_function_and_learning_the_package():
    assert isinstance(L, types.ModuleType) and L.__name__ == "smfq_lib.learning"
    assert inspect.isfunction(smfq_lib.learn) and not isinstance(smfq_lib.learn, types.ModuleType)
    assert smfq_lib.learn is L.learn
    assert smfq_lib.SubsampledQ is L.SubsampledQ
    assert sorted(L.__all__) == [
        "SubsampledQ",
        "choose_algorithm",
        "learn",
        "learn_online",
        "table_bytes",
    ]
    for name in L.__all__:
        assert getattr(L, name) is not None
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("smfq_lib.learn")


def test_one_operator_class_per_algorithm():
    assert operator_class("tabular") is TabularOperator
    assert operator_class("mean_field") is MeanFieldOperator
    assert issubclass(TabularOperator, Operator) and issubclass(MeanFieldOperator, Operator)
    with pytest.raises(KeyError):
        operator_class("auto")  # "auto" is resolved by choose_algorithm before
    with pytest.raises(TypeError):
        Operator(tiny_system(1, 2, 1, 2, seed=0), 2, None, 0)  # abstract


@pytest.mark.parametrize("m", [None, 3])
@pytest.mark.parametrize("algorithm", ["tabular", "mean_field"])
def test_operator_interface(algorithm, m):
    """What the learning loop relies on: flat buffers of ``size = prod(shape)`` entries, ``R`` of
    that size, ``step`` from ``Q = 0`` gives ``T 0 = R`` (the backup of a zero table vanishes)
    with residual ``max |R|``, and greedy tables of shape ``(S_g, S_l, Cs)``."""
    system = tiny_system(2, 3, 2, 2, gamma=0.8, seed=2)
    k = 3
    op = operator_class(algorithm)(system, k, m, 1)
    assert op.size == int(np.prod(op.shape)) and op.R.shape == (op.size,)
    Q_new = np.empty(op.size)
    res = op.step(np.zeros(op.size), Q_new)
    np.testing.assert_array_equal(Q_new, op.R)
    assert res == np.abs(op.R).max()
    V, pi_g, pi_l = op.policy_tables(Q_new)
    Cs = 6  # compositions of k - 1 = 2 agents into S_l = 3 states
    assert V.shape == pi_g.shape == pi_l.shape == (2, 3, Cs)
    assert pi_g.min() >= 0 and pi_g.max() < 2 and pi_l.min() >= 0 and pi_l.max() < 2
    assert op.table_bytes(system, k, m) == L.table_bytes(system, k, m, algorithm, "value_iteration")
    pi = L.table_bytes(system, k, m, algorithm, "policy_iteration")
    assert pi == op.table_bytes(system, k, m) + op.chain_bytes(system, k, m)


def test_execute_exports_the_same_public_names():
    assert sorted(E.__all__) == EXECUTE_NAMES
    public = {
        name
        for name in dir(E)
        if not name.startswith("_") and not isinstance(getattr(E, name), types.ModuleType)
    }
    assert public == set(EXECUTE_NAMES)
    from smfq_lib.execute import (  # noqa: F401  (the import line users write)
        IIDInitial,
        Rollouts,
        count_state_weights,
        iid_initial,
        rollout_agents,
        rollout_counts,
        run_chunks,
    )


# -- the architecture: groups, the direction of imports, no circles -------------------------------
PACKAGE = Path(smfq_lib.__file__).resolve().parent

#: Which top-level groups each top-level entry of ``smfq_lib`` may import (docs/map.md). The
#: algorithms (``_utils`` .. ``evaluate``) import neither ``chapters`` (the notebooks' support) nor
#: ``sweep`` nor ``envs`` (the PettingZoo API over them); ``__init__`` is the package's own
#: re-exports, ``reproduce`` the 5-line launcher of ``python -m smfq_lib.reproduce``.
ALLOWED = {
    "_utils": set(),
    "model": {"_utils"},
    "theory": {"_utils", "model"},
    "learning": {"_utils", "model"},
    "execute": {"_utils", "model", "learning"},
    "linear": {"_utils", "model", "learning", "execute"},
    "evaluate": {"_utils", "model", "learning", "execute", "theory"},
    "envs": {"_utils", "model", "learning", "execute", "linear"},
    "sweep": {"__init__"},
    "__init__": {"_utils", "model", "learning", "linear"},
    "chapters": {
        "_utils", "model", "theory", "learning", "execute", "linear", "evaluate", "sweep",
        "__init__",
    },
    "reproduce": {"chapters"},
}  # fmt: skip


def _module_names() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _imports(name: str) -> set[str]:
    """The ``smfq_lib`` modules that importing ``name`` runs, from every import statement in it,
    function-local ones included (nothing is excluded): ``from a.b import c`` names ``a.b.c`` if
    that is a module, else ``a.b``; importing ``a.b.c`` also runs the packages ``a.b`` and ``a``,
    except the root ``smfq_lib`` (always initialised first) and the packages holding ``name``
    itself (already initialising when ``name`` runs)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]  # fmt: skip
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "smfq_lib":
                continue
            assert target in MODULES, f"{name} imports {target}, which is not a module"
            parts = target.split(".")
            if target == "smfq_lib":
                found.add(target)  # ``from smfq_lib import __version__``: the root, explicitly
            for i in range(2, len(parts) + 1):
                mod = ".".join(parts[:i])
                if mod != target and (name == mod or name.startswith(mod + ".")):
                    continue  # an ancestor package of the importing module
                found.add(mod)
    found.discard(name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _group(name: str) -> str:
    parts = name.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def test_top_level_reads_as_the_architecture():
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    entries = {e.removesuffix(".py") for e in entries}
    assert entries == set(ALLOWED), entries ^ set(ALLOWED)
    # 12 since envs/ (the PettingZoo API): a new top-level entry is an architectural decision
    assert len(entries) <= 12


def test_imports_go_one_way_between_the_groups():
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if _group(target) != _group(name) and _group(target) not in ALLOWED[_group(name)]
    )
    assert not wrong, "\n".join(wrong)
    assert "chapters" not in ALLOWED["evaluate"] | ALLOWED["linear"] | ALLOWED["learning"]
    algorithms = ("_utils", "model", "theory", "learning", "execute", "linear", "evaluate")
    assert not any("envs" in ALLOWED[group] for group in algorithms)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (a list of modules, first = last), or None."""
    state = dict.fromkeys(graph, 0)  # 0 new, 1 on the stack, 2 done
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if state[nxt] == 0 and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state[node] == 0 and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_circle():
    assert "smfq_lib.learning.registry" in GRAPH["smfq_lib.learning.result"]
    assert not GRAPH["smfq_lib.learning.operator"] & {
        "smfq_lib.learning.tabular",
        "smfq_lib.learning.mean_field",
        "smfq_lib.learning.registry",
    }
    circle = _cycle(GRAPH)
    assert circle is None, " -> ".join(circle)


def test_the_circle_check_can_fail():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
