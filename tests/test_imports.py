"""Import structure: the package and its CLI import no heavy library, and no two modules of
src/rankaudit import each other, directly or around a circle (imports inside functions count;
imports under `if TYPE_CHECKING:` do not, since they never run)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rankaudit"
HEAVY = ("torch", "pandas", "pyarrow", "lightgbm", "sklearn", "shap", "captum", "dash", "plotly")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: anywhere but the body of `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                yield from runtime_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from runtime_imports(node)


def import_graph() -> dict[str, set[str]]:
    """Module -> the rankaudit modules it imports at run time. `from pkg import name` points at
    `pkg.name` when that is a module, else at `pkg` (its __init__)."""
    paths = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                    for alias in node.names
                ]
            graph[name].update(t for t in targets if t in paths and t != name)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as one circle
    `a -> b -> ... -> a` through the component, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(circle_through(graph, component) for component in components)


def circle_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest circle from the component's first module back to itself (breadth first)."""
    start = min(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start]
                if target not in parents:
                    parents[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no circle through {sorted(component)}")


def test_cycle_finder_on_a_known_graph() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e"}}
    assert import_cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_graph_reads_function_level_imports_and_skips_type_checking() -> None:
    graph = import_graph()
    # importance.py imports the attribution package inside a function, and the CLI's
    # compare module names its result types only under TYPE_CHECKING.
    assert "rankaudit.attribution" in graph["rankaudit.importance"]
    assert "rankaudit.compare" in graph["rankaudit.cli._compare"]
    assert "rankaudit.workspace" not in graph["rankaudit.cli._compare"]


def test_no_import_cycles() -> None:
    cycles = import_cycles(import_graph())
    assert cycles == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_store_imports_nothing_above_it() -> None:
    graph = import_graph()
    upward = {
        (name, target)
        for name, targets in graph.items()
        if name.startswith("rankaudit.store")
        for target in targets
        if target.startswith(("rankaudit.attribution", "rankaudit.compare", "rankaudit.drift"))
    }
    assert upward == set()


@pytest.mark.parametrize("module", ["rankaudit", "rankaudit.cli"])
def test_import_loads_no_heavy_library(module: str) -> None:
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}}))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(ast.literal_eval(result.stdout.strip()))
    assert sorted(loaded & set(HEAVY)) == []


def test_lazy_names_resolve_to_their_modules() -> None:
    import rankaudit
    from rankaudit.data.readers import read_timelines
    from rankaudit.workspace import load_workspace

    assert rankaudit.read_timelines is read_timelines
    assert rankaudit.load_workspace is load_workspace
    assert set(rankaudit.__all__) <= set(dir(rankaudit))
    assert all(getattr(rankaudit, name) is not None for name in rankaudit.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rankaudit.nope  # noqa: B018


def test_attribute_command_default_matches_the_settings() -> None:
    from rankaudit.attribution.settings import AttributionSettings
    from rankaudit.cli import _attribute

    assert AttributionSettings.ig_max_steps == _attribute._IG_MAX_STEPS
