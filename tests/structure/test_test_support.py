"""Test support lives in one place (taskplane-testing) and never in an image.

The images install wheels: the Dockerfile builds one per in-repo package it sees in its
build context (``.dockerignore`` decides what it sees) and installs the app's wheel with
its dependencies. These tests build that same wheel set from the checkout, offline, and
read what is inside; a second set of checks keeps every suite on the one convention
(helpers in ``taskplane_testing``, fixtures in ``conftest.py``).
"""

from __future__ import annotations

import ast
import fnmatch
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest

from taskplane_testing import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
#: Path parts and file names that only test code has.
TEST_PARTS = {"tests", "testing", "taskplane_testing", "conftest.py"}
#: Where a suite's files are: every directory named ``tests`` but those of dependencies.
SKIPPED_DIRS = {".venv", "node_modules", ".git", "build", "dist"}


def dockerignored(relative: str) -> bool:
    """Whether ``.dockerignore`` keeps ``relative`` (or a directory above it) out of the
    build context: its patterns in order, the last one that matches wins."""
    parts = PurePosixPath(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for line in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").rstrip("/")
        patterns = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatch(c, p) for c in candidates for p in patterns):
            ignored = not negated
    return ignored


def image_package_dirs() -> list[Path]:
    """The directories the Dockerfile builds into /wheels/local (its globs, as the build
    context holds them): every wheel an image can install comes from one of these."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    command = next(line for line in text.splitlines() if "--wheel-dir /wheels/local" in line)
    command = command.split("--wheel-dir /wheels/local", 1)[1].split("&&", 1)[0]
    globs = [arg.removeprefix("./").rstrip("/") for arg in command.split() if arg.startswith("./")]
    assert globs, f"no package directories in the Dockerfile's wheel build: {command}"
    found = sorted({path for pattern in globs for path in REPO_ROOT.glob(pattern)})
    return [
        path
        for path in found
        if (path / "pyproject.toml").exists()
        and not dockerignored(path.relative_to(REPO_ROOT).as_posix())
    ]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The wheels of the image's package directories, built as the Dockerfile builds
    them (``pip wheel --no-deps``) but offline, with the environment's setuptools, from
    copies (the checkout gets no build/ directory) that keep their tests directories."""
    root = tmp_path_factory.mktemp("image-wheels")
    ignore = shutil.ignore_patterns("node_modules", "*.egg-info", "__pycache__", "build")
    sources = []
    for directory in image_package_dirs():
        copy = root / "src" / directory.name
        shutil.copytree(directory, copy, ignore=ignore)
        sources.append(str(copy))
    out = root / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(out),
            *sources,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    built = sorted(out.glob("*.whl"))
    assert len(built) == len(sources), built
    return built


def requirements(wheel: zipfile.ZipFile) -> list[str]:
    """The wheel's Requires-Dist names (extras included), normalized."""
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = Parser().parsestr(wheel.read(name).decode())
    return [
        re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; (]", spec, maxsplit=1)[0]).lower()
        for spec in metadata.get_all("Requires-Dist") or []
    ]


def test_test_support_is_outside_every_image_build_context() -> None:
    assert dockerignored("apps/testing/pyproject.toml")
    assert dockerignored("apps/task-service/tests/conftest.py")
    assert not dockerignored("apps/task-service/task_service/main.py")
    dirs = {path.relative_to(REPO_ROOT).as_posix() for path in image_package_dirs()}
    assert "apps/task-service" in dirs
    assert "operator" in dirs
    assert "apps/testing" not in dirs


def test_image_wheels_hold_no_test_code(wheels: list[Path]) -> None:
    """No wheel an image installs holds a tests package, a conftest, a test module or
    taskplane_testing, and none requires taskplane-testing (even in an extra)."""
    names = {wheel.name.split("-")[0] for wheel in wheels}
    assert {"taskplane_common", "taskplane_task_service", "taskplane_operator"} <= names
    assert "taskplane_testing" not in names
    for path in wheels:
        with zipfile.ZipFile(path) as wheel:
            test_files = [
                name
                for name in wheel.namelist()
                if TEST_PARTS & set(PurePosixPath(name).parts)
                or fnmatch.fnmatch(PurePosixPath(name).name, "test_*.py")
            ]
            assert not test_files, f"{path.name} holds test code: {test_files}"
            assert "taskplane-testing" not in requirements(wheel), path.name


def suite_files() -> list[Path]:
    """Every Python file in a ``tests`` directory of the repository."""
    found = []
    for path in REPO_ROOT.rglob("tests/**/*.py"):
        relative = path.relative_to(REPO_ROOT)
        if not SKIPPED_DIRS & set(relative.parts):
            found.append(path)
    return found


def test_suites_hold_only_fixtures_and_tests() -> None:
    """Helpers live in taskplane_testing; a tests directory holds conftest.py,
    __init__.py and test_*.py only."""
    files = suite_files()
    assert len(files) > 50
    helpers = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in files
        if path.name not in {"conftest.py", "__init__.py"} and not path.name.startswith("test_")
    ]
    assert not helpers, f"move these into taskplane_testing (apps/testing): {helpers}"


def test_no_suite_puts_a_directory_on_sys_path() -> None:
    """Helpers are imported by package name, never from a directory put on sys.path."""
    offenders = []
    for path in suite_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "path"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                offenders.append(path.relative_to(REPO_ROOT).as_posix())
    assert not offenders, offenders


def test_common_holds_no_test_support() -> None:
    """taskplane_common is runtime code: its old testing package is gone, not a shim."""
    common = REPO_ROOT / "apps" / "common" / "taskplane_common"
    assert not (common / "testing").exists()
    assert not list(common.rglob("*testing*.py"))
