"""Fixtures for the offline Terraform checks and the constants and helpers several of
their modules share (the HCL helpers live in taskplane_testing.terraform)."""

from __future__ import annotations

from typing import Any

import pytest

from taskplane_testing.terraform import (
    ENVS,
    EXAMPLES,
    MODULES,
    REPO_ROOT,
    HclDoc,
    attr,
    doc,
    load_all,
    sub_blocks,
    tf_paths,
)


@pytest.fixture(scope="session")
def docs() -> dict[str, HclDoc]:
    """Every .tf file under terraform/, parsed, keyed by path relative to the repository."""
    parsed = load_all()
    assert parsed, "no Terraform files found"
    return parsed


TF_FILES = [p.relative_to(REPO_ROOT).as_posix() for p in tf_paths()]
ROOTS = (
    [f"modules/{m}" for m in MODULES]
    + [f"envs/{e}" for e in ENVS]
    + [f"examples/{e}" for e in EXAMPLES]
)
EXPECTED_MODULE_MAJORS = {
    "terraform-aws-modules/vpc/aws": 6,
    "terraform-aws-modules/eks/aws": 21,
    "terraform-aws-modules/rds/aws": 7,
}
REQUIRED_TAGS = {"Project": "taskplane", "ManagedBy": "terraform"}
# The modules the stack composes, in dependency order.
COMPOSED = (
    "network",
    "cluster",
    "database",
    "registry",
    "secrets",
    "identity",
    "platform",
    "notifications_lambda",
)


def dir_docs(docs: dict[str, HclDoc], root: str) -> list[HclDoc]:
    prefix = f"terraform/{root}/"
    return [
        d for rel, d in docs.items() if rel.startswith(prefix) and "/" not in rel[len(prefix) :]
    ]


def module_calls(docs: dict[str, HclDoc], root: str) -> dict[str, dict[str, Any]]:
    return dict(doc(docs, f"{root}/main.tf").labeled("module"))


def stack_call(docs: dict[str, HclDoc], env: str) -> dict[str, Any]:
    return module_calls(docs, f"envs/{env}")["stack"]


def required_versions(docs: dict[str, HclDoc], root: str) -> dict[str, str]:
    """{"terraform": constraint, <provider>: constraint} from <root>/versions.tf."""
    blocks = doc(docs, f"{root}/versions.tf").terraform_blocks()
    assert len(blocks) == 1
    block = blocks[0]
    versions = {"terraform": attr(block, "required_version", "")}
    for entry in sub_blocks(block, "required_providers"):
        for name, spec in entry.items():
            if name.startswith("__"):
                continue
            spec = spec[0] if isinstance(spec, list) else spec
            assert spec.get("source", "").startswith("hashicorp/"), f"{root}: {name} source"
            versions[name] = spec.get("version", "")
    return versions


def assert_pins_cover_the_floors(
    docs: dict[str, HclDoc], root: str, modules: tuple[str, ...]
) -> dict[str, str]:
    """``root`` pins every provider ``modules`` use, at or above their floors; its pins."""
    pins = required_versions(docs, root)
    for module in modules:
        for name, floor in required_versions(docs, f"modules/{module}").items():
            assert name in pins, f"{root} does not pin {name} (used by modules/{module})"
            floor_version = tuple(int(x) for x in floor.removeprefix(">= ").split("."))
            pinned = tuple(int(x) for x in pins[name].removeprefix("~> ").split("."))
            assert pinned >= floor_version, f"{root} pins {name} below modules/{module}"
    return pins
