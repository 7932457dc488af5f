"""The layer order of docs/architecture.md ("Layers"), checked on the imports.

Every top-level package's imports are read with ``ast`` (nothing is imported): an
import may only go to a package its layer allows, never back up, and the package graph
has no cycle. A new package fails here until it is given its place in ``ALLOWED``.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CLIENT = {"taskplane_client"}
COMMON = {"taskplane_common"}
SERVICES = {"auth_service", "user_service", "task_service", "notification_service"}
ON_THE_CLIENT = {"taskplane_cli", "taskplane_worker", "taskplane_operator"}
PRODUCTION = CLIENT | COMMON | SERVICES | ON_THE_CLIENT

#: Which packages each package may import, bottom layer first.
ALLOWED: dict[str, set[str]] = {
    # 0: the typed API client; also the one logging/tracing set-up every program shares.
    "taskplane_client": set(),
    # 1: the server library (app factory, database, auth, metrics) on the client's
    # observability; and the programs that only talk to the API.
    "taskplane_common": CLIENT,
    **dict.fromkeys(ON_THE_CLIENT, CLIENT),
    # 2: the services, on common (and the client, to call each other's API).
    **dict.fromkeys(SERVICES, CLIENT | COMMON),
    # the web console's backend-for-frontend: a service too, calling the others over HTTP.
    "console_service": CLIENT | COMMON,
    # 3: tools and test support, never imported by the layers above.
    "bench": CLIENT | COMMON | SERVICES | {"taskplane_testing"},
    "scripts": CLIENT | COMMON | SERVICES,
    "taskplane_testing": PRODUCTION,
}


def packages() -> dict[str, Path]:
    """Every top-level package of the repository: the apps' and the operator's Python
    packages, and the bench and scripts directories."""
    found = {
        init.parent.name: init.parent
        for init in [*REPO.glob("apps/*/*/__init__.py"), *REPO.glob("operator/*/__init__.py")]
        if init.parent.name != "tests"
    }
    found.update({name: REPO / name for name in ("bench", "scripts")})
    return found


def imports(name: str, root: Path, known: set[str]) -> dict[str, list[str]]:
    """Each other known package ``name`` imports, with the files that import it."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if "tests" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in known and top != name:
                    found.setdefault(top, []).append(path.relative_to(REPO).as_posix())
    return found


def graph() -> dict[str, dict[str, list[str]]]:
    found = packages()
    return {name: imports(name, root, set(found)) for name, root in found.items()}


def test_every_package_has_a_layer() -> None:
    found = set(packages())
    assert found >= PRODUCTION, f"packages not found: {sorted(PRODUCTION - found)}"
    assert found <= set(ALLOWED), f"give these a layer in ALLOWED: {sorted(found - set(ALLOWED))}"


def test_no_import_runs_back_up_a_layer() -> None:
    wrong = [
        f"{name} -> {target} ({', '.join(sorted(set(files)))})"
        for name, targets in graph().items()
        for target, files in targets.items()
        if target not in ALLOWED[name]
    ]
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_the_package_graph_has_no_cycle() -> None:
    edges = {name: set(targets) for name, targets in graph().items()}
    try:
        order = list(TopologicalSorter(edges).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle between packages: {exc.args[1]}") from exc
    assert order.index("taskplane_client") < order.index("taskplane_common")


def test_the_client_is_the_bottom_layer() -> None:
    """The client imports no other package of the repository, and common builds on it."""
    edges = graph()
    assert edges["taskplane_client"] == {}
    assert "taskplane_client" in edges["taskplane_common"]
