"""Each package's pyproject declares what its code imports: nothing unused travels into an
image, and nothing it imports arrives only by accident.

Imports are read with ``ast`` (nothing is imported) and mapped to the installed
distributions that ship the imported module, by its dotted path, so that
``opentelemetry.instrumentation.fastapi`` names its own distribution rather than every
``opentelemetry-*`` one.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, distributions, packages_distributions
from importlib.metadata import requires as installed_requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from taskplane_testing import REPO_ROOT

#: Distributions a package needs at run time without importing them, and why.
USED_WITHOUT_IMPORT: dict[str, dict[str, str]] = {
    "taskplane-auth-service": {
        "email-validator": "pydantic's EmailStr loads it",
        "python-multipart": "FastAPI parses the password login's form with it",
    },
    "taskplane-notification-service": {
        "awslambdaric": "the Lambda image's entry point (python -m awslambdaric)",
    },
}


#: Modules only the type checker has (typeshed's), imported under ``TYPE_CHECKING``.
TYPE_CHECKING_ONLY = {"_typeshed"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_dirs() -> list[Path]:
    """Every installable package of the monorepo (the Makefile's PACKAGE_DIRS)."""
    return [p.parent for p in sorted(REPO_ROOT.glob("apps/*/pyproject.toml"))] + [
        REPO_ROOT / "operator"
    ]


def project(directory: Path) -> dict[str, object]:
    found: dict[str, object] = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
    return found


def name_of(directory: Path) -> str:
    return normalized(str(project(directory)["name"]))


def declared(directory: Path, extras: set[str] | None = None) -> list[Requirement]:
    """A package's requirements: its dependencies and those of ``extras`` (every extra
    when ``None``)."""
    info = project(directory)
    specs: list[str] = list(info.get("dependencies", []))  # type: ignore[call-overload]
    optional: dict[str, list[str]] = info.get("optional-dependencies", {})  # type: ignore[assignment]
    for extra, more in optional.items():
        if extras is None or normalized(extra) in extras:
            specs.extend(more)
    return [Requirement(spec) for spec in specs]


def imported_modules(directory: Path) -> set[str]:
    """The most specific dotted names the package's code imports from other distributions
    (``from a.b import c`` gives ``a.b.c``, which decides down to the module ``a.b``)."""
    own = {p.parent.name for p in directory.glob("*/__init__.py") if p.parent.name != "tests"}
    modules: set[str] = set()
    for package in own:
        for path in (directory / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    skipped = set(sys.stdlib_module_names) | own | TYPE_CHECKING_ONLY
    outside = {m for m in modules if m.split(".")[0] not in skipped}
    return {m for m in outside if not any(o.startswith(f"{m}.") for o in outside)}


@dataclass(frozen=True)
class Owners:
    """Which installed distributions ship which modules."""

    #: dotted module path (and every package above it) -> distributions
    modules: dict[str, set[str]]
    #: top-level name -> distributions (editable installs list no module files)
    tops: dict[str, set[str]]

    def of(self, module: str) -> set[str]:
        """The distributions of the longest known prefix of ``module`` below its top
        level; the top level's own when none is known."""
        parts = module.split(".")
        for n in range(len(parts), 1, -1):
            if found := self.modules.get(".".join(parts[:n])):
                return found
        return self.tops.get(parts[0], set())


@cache
def owners() -> Owners:
    tops = {top: {normalized(d) for d in dists} for top, dists in packages_distributions().items()}
    wanted = {m.split(".")[0] for d in package_dirs() for m in imported_modules(d)}
    modules: dict[str, set[str]] = {}
    for dist in distributions():
        name = normalized(dist.metadata["Name"])
        for file in dist.files or []:
            if file.suffix != ".py" or file.parts[0] not in wanted:
                continue
            parts = list(file.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            for n in range(2, len(parts) + 1):
                modules.setdefault(".".join(parts[:n]), set()).add(name)
    return Owners(modules, tops)


def imported(directory: Path) -> dict[str, set[str]]:
    """Each imported module -> the distributions that could have shipped it."""
    return {module: owners().of(module) for module in imported_modules(directory)}


def available(directory: Path) -> set[str]:
    """What a package can import: what it declares, and what those requirements pull in
    (in-repo packages by their pyproject, the others by their installed metadata, with
    the extras asked for), recursively."""
    local = {name_of(d): d for d in package_dirs()}
    seen: set[tuple[str, frozenset[str]]] = set()
    found: set[str] = set()
    todo = declared(directory)
    while todo:
        requirement = todo.pop()
        name, extras = normalized(requirement.name), frozenset(map(normalized, requirement.extras))
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        found.add(name)
        if name in local:
            todo.extend(declared(local[name], set(extras)))
            continue
        try:
            specs = installed_requires(name) or []
        except PackageNotFoundError:
            continue
        for spec in map(Requirement, specs):
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if spec.marker is None or any(spec.marker.evaluate(e) for e in environments):
                todo.append(spec)
    return found


@pytest.mark.parametrize("directory", package_dirs(), ids=lambda d: d.name)
def test_every_declared_dependency_is_imported(directory: Path) -> None:
    expected = set(USED_WITHOUT_IMPORT.get(name_of(directory), {}))
    shipped = set().union(*imported(directory).values())
    unused = {normalized(r.name) for r in declared(directory)} - shipped
    assert unused == expected, (
        f"{directory.name} declares distributions its code never imports: "
        f"{sorted(unused - expected)}; USED_WITHOUT_IMPORT names: {sorted(expected)}"
    )


@pytest.mark.parametrize("directory", package_dirs(), ids=lambda d: d.name)
def test_every_import_is_declared(directory: Path) -> None:
    """Declared by the package, or pulled in by a requirement it declares."""
    can = available(directory)
    missing = {module: dists for module, dists in imported(directory).items() if not dists & can}
    assert not missing, f"{directory.name} imports what it does not declare: {missing}"
