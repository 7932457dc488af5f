"""The operator's pyproject declares exactly the distributions its code imports: nothing
unused travels into the image, and nothing it imports arrives only by accident."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

OPERATOR = Path(__file__).resolve().parents[1]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions() -> set[str]:
    """Distributions of every top-level module taskplane_operator imports."""
    modules: set[str] = set()
    for path in (OPERATOR / "taskplane_operator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"taskplane_operator"}
    owners = packages_distributions()
    return {normalized(dist) for module in third_party for dist in owners.get(module, [module])}


def declared_distributions() -> set[str]:
    project = tomllib.loads((OPERATOR / "pyproject.toml").read_text())["project"]
    return {
        normalized(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0])
        for spec in project["dependencies"]
    }


def test_declared_dependencies_are_exactly_the_imported_ones() -> None:
    assert declared_distributions() == imported_distributions()
