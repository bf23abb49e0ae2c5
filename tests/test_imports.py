"""Imports between our own modules go one way: no module imports one that imports it back
(at module level; imports only for type annotations do not count)."""

import ast
from pathlib import Path

from tests.processes import REPO_ROOT

PACKAGES = ("accounts", "detection", "dfdsite", "sharing", "webhooks")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for statement in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(statement, ast.Import):
                names.update(alias.name for alias in statement.names)
            elif isinstance(statement, ast.ImportFrom):
                base = statement.module or ""
                if statement.level:
                    parent = package.split(".")[: len(package.split(".")) - statement.level + 1]
                    base = ".".join(parent + ([statement.module] if statement.module else []))
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in statement.names)
    return names


def test_no_import_cycles_between_our_modules():
    paths = {module_name(p): p for package in PACKAGES for p in (REPO_ROOT / package).rglob("*.py")
             if "migrations" not in p.parts}
    graph = {module: imported_names(path, module) & set(paths) - {module} for module, path in paths.items()}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        for imported in sorted(graph[module]):
            if imported in trail:
                cycles.append(" -> ".join(trail[trail.index(imported):] + [imported]))
            elif imported not in seen:
                seen.add(imported)
                visit(imported, trail + [imported])

    for start in sorted(graph):
        seen = {start}
        visit(start, [start])
    assert cycles == []
