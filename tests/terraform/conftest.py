"""Fixtures for the offline Terraform checks and the constants and helpers several of
their modules share (the HCL helpers live in taskplane_testing.terraform)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from taskplane_testing.terraform import (
    ENVS,
    EXAMPLES,
    MODULES,
    REPO_ROOT,
    TF_ROOT,
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


PLATFORM = TF_ROOT / "modules" / "platform"
TEMPLATE = PLATFORM / "taskplane-values.yaml.tftpl"
SECRETS_CHART = PLATFORM / "charts" / "platform-secrets"
CHART = REPO_ROOT / "charts" / "taskplane"
RELEASE = "taskplane"
NAMESPACE = "taskplane"

INTERPOLATION = re.compile(r"\$\{jsonencode\(([a-z_]+)\)\}")
SECRET_ARN = "arn:aws:secretsmanager:region-1:000000000000:secret:{}"
EKS_ISSUER = "https://oidc.eks.region-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"


@dataclass(frozen=True)
class Inputs:
    """What the platform module feeds the template for one kind of environment."""

    name: str
    environment: str
    image_repository_prefix: str
    image_tag: str
    observability: bool
    image_registry: str = "000000000000.dkr.ecr.region-1.amazonaws.com"
    notification_settings: tuple[tuple[str, str], ...] = ()


CASES = [
    Inputs("dev", "development", "taskplane-dev", "0.1.0", observability=True),
    Inputs(
        "prod",
        "production",
        "taskplane-prod",
        "1.4.2",
        observability=True,
        notification_settings=(
            ("TASKPLANE_SMTP_HOST", "email-smtp.region-1.amazonaws.com"),
            ("TASKPLANE_SMTP_PORT", "587"),
            ("TASKPLANE_SMTP_SECURITY", "starttls"),
        ),
    ),
    Inputs("prod-no-observability", "production", "tp-prod", "2f9c1e0", observability=False),
]


def module_defaults(docs: dict[str, HclDoc]) -> dict[str, Any]:
    variables = dict(doc(docs, "modules/platform/variables.tf").labeled("variable"))
    return {name: attr(body, "default") for name, body in variables.items()}


def templatefile_arguments() -> dict[str, str]:
    """The map literal of the templatefile() call in main.tf: template variable -> expression."""
    text = (PLATFORM / "main.tf").read_text()
    match = re.search(
        r'templatefile\("\$\{path\.module\}/taskplane-values\.yaml\.tftpl",\s*\{(.*?)\n\s*\}\)',
        text,
        re.S,
    )
    assert match, "main.tf must render taskplane-values.yaml.tftpl with templatefile()"
    pairs = re.findall(r"^\s*(\w+)\s*=\s*(\S.*?)\s*$", match.group(1), re.M)
    return dict(pairs)


def template_variables() -> set[str]:
    return set(INTERPOLATION.findall(TEMPLATE.read_text()))


def render_template(variables: dict[str, Any]) -> dict[str, Any]:
    """templatefile() for this template: it may only contain ${jsonencode(<var>)}."""
    text = TEMPLATE.read_text()
    stray = [
        line for line in INTERPOLATION.sub("", text).splitlines() if "${" in line or "%{" in line
    ]
    assert not stray, f"the template may only interpolate ${{jsonencode(var)}}: {stray}"
    missing = template_variables() - set(variables)
    assert not missing, f"no value for template variables {missing}"
    rendered = INTERPOLATION.sub(lambda m: json.dumps(variables[m.group(1)]), text)
    values = yaml.safe_load(rendered)
    assert isinstance(values, dict)
    return values


def template_inputs(case: Inputs, defaults: dict[str, Any]) -> dict[str, Any]:
    return {
        "environment": case.environment,
        "image_registry": case.image_registry,
        "image_repository_prefix": case.image_repository_prefix,
        "image_tag": case.image_tag,
        "database_secret_name": defaults["database_secret_name"],
        "platform_secret_name": defaults["platform_secret_name"],
        "observability": case.observability,
        "notification_settings": dict(case.notification_settings),
        "kubernetes_issuer_url": EKS_ISSUER,
    }


def render_chart(path: Path, values: dict[str, Any], name: str) -> list[dict[str, Any]]:
    # A fresh chart object per render: Helm prunes disabled subcharts from it in place.
    with helm.Chart.load(path) as chart:
        rendered = chart.render(values, name=name, namespace=NAMESPACE, is_install=True)
    return [
        obj
        for source, text in sorted(rendered.items())
        if source.endswith((".yaml", ".yml"))
        for obj in yaml.safe_load_all(text)
        if obj
    ]


@pytest.fixture(scope="module")
def defaults(docs: dict[str, HclDoc]) -> dict[str, Any]:
    return module_defaults(docs)
