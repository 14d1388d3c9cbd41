"""The package's import structure: no module imports another that (directly or not) imports it
back, and no module uses another module's private names (`_name`). Function-level imports count:
they are cycles that wait until run time."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("compiler", "runtime", "dml_lib")  # installed as kerasdml.<folder>


def _modules() -> dict:
    """{dotted name: (path, is a package)} of every module of the project."""
    modules = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            package = parts[-1] == "__init__"
            name = ".".join(["kerasdml", folder] + (parts[:-1] if package else parts))
            modules[name] = (path, package)
    return modules


MODULES = _modules()


def _absolute(module: str, package: bool, node: ast.ImportFrom) -> str | None:
    if not node.level:
        return node.module
    base = module.split(".") if package else module.split(".")[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, source: str | None = None) -> tuple:
    """(modules it imports, {local alias: module}, [(module, private name, line)])."""
    path, package = MODULES[module]
    tree = ast.parse(path.read_text() if source is None else source)
    targets, aliases, private = set(), {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    targets.add(alias.name)
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, package, node)
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    targets.add(f"{target}.{alias.name}")
                    aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
                elif target in MODULES:
                    targets.add(target)
                    if _private(alias.name) and target != module:
                        private.append((target, alias.name, node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases and _private(node.attr):
            private.append((aliases[node.value.id], node.attr, node.lineno))
    return targets, aliases, private


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _cycles(edges: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_there_are_no_import_cycles():
    edges = {module: _imports(module)[0] for module in MODULES}
    assert _cycles(edges) == []


def test_no_module_uses_another_modules_private_names():
    uses = [f"{module} line {line}: {target}.{name}" for module in MODULES
            for target, name, line in _imports(module)[2]]
    assert uses == []


def test_the_checks_see_cycles_and_private_names():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    source = ("def f():\n    from ..values import _hidden\n"
              "from .. import values\nvalues._other()\n")
    _, _, private = _imports("kerasdml.runtime.spark.io", source)
    assert [(target, name) for target, name, _ in private] == [
        ("kerasdml.runtime.values", "_hidden"), ("kerasdml.runtime.values", "_other")]
