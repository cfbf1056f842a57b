"""providers/ imports point down: module-level imports only, and no import circle between its modules.

(The same rules as the import-linter contracts in providers/.importlinter-snippet.ini, checked here with
the standard library so the suite needs no extra tool.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "providers"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(node: ast.AST) -> set[str]:
    """The providers modules an import statement names (``from providers import http`` names a module)."""
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module:
        names = {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    else:
        return set()
    return {name for name in names if name in MODULES}


def module_level_imports(path: Path) -> set[str]:
    """Every providers module ``path`` imports (a ``TYPE_CHECKING`` block counts: it must not hide a circle)."""
    return {name for node in ast.walk(ast.parse(path.read_text())) for name in imported_modules(node)}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_import_is_at_module_level(module: str) -> None:
    """A function-local import would hide an import circle (and would be read on every call)."""
    tree = ast.parse(MODULES[module].read_text())
    nested = [
        f"line {inner.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]
    assert nested == []


def test_no_import_circle_between_providers_modules() -> None:
    graph = {module: module_level_imports(path) - {module} for module, path in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            cycle = (*path[path.index(module) :], module)
            pytest.fail("import circle: " + " -> ".join(cycle))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_the_check_sees_the_imports() -> None:
    """The circle check could fail: base imports chat, and chat imports the verdict."""
    assert "providers.chat" in module_level_imports(MODULES["providers.base"])
    assert "providers.verdict" in module_level_imports(MODULES["providers.chat"])
