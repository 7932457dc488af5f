"""Terraform files parsed for the offline Terraform checks (tests/terraform).

`terraform init/validate/plan/test` need the provider registry, which these
machines cannot reach; they run in .github/workflows/terraform.yml. Here we
check what can be checked offline: formatting, structure (parsed with
python-hcl2), policy (checkov) and the small local Helm chart.

Two packages install a module called `hcl2`: python-hcl2 and checkov's fork
bc-python-hcl2. They differ in how they represent attributes (the fork wraps
every attribute value in a one-element list; python-hcl2 >= 7 keeps string
quotes). `HclDoc` hides both shapes behind `attr()` / `blocks()`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from taskplane_testing import REPO_ROOT

TF_ROOT = REPO_ROOT / "terraform"
MODULES = (
    "network",
    "cluster",
    "database",
    "registry",
    "identity",
    "secrets",
    "platform",
    "notifications_lambda",
    "kms_key",
    "service_trust_policy",
    "stack",
)
# The composition of the other eight, which envs/dev and envs/prod call once each.
STACK = "modules/stack"
ENVS = ("dev", "prod")
# Root modules in terraform/examples/<module>/, one per module that has an example
# (terraform-aws-modules' convention): each calls ../../modules/<module>.
EXAMPLES = ("stack", "notifications_lambda")

_PROBE: dict[str, Any] = hcl2.loads('a = "x"\n')  # type: ignore[attr-defined]
WRAPPED = isinstance(_PROBE["a"], list)


def unquote(value: Any) -> Any:
    """Strip the surrounding double quotes python-hcl2 >= 7 keeps on string literals."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def attr(body: dict[str, Any], key: str, default: Any = None) -> Any:
    """Value of attribute `key` of a block body, in plain Python form."""
    if key not in body:
        return default
    value = body[key]
    if WRAPPED and isinstance(value, list) and len(value) == 1:
        value = value[0]
    return unquote(value)


def sub_blocks(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Nested unlabeled blocks `key { ... }` of a block body."""
    value = body.get(key, [])
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)]


def expr(value: Any) -> str:
    """A value as comparable text: `${var.x}` and `var.x` both become `var.x`, spaces dropped."""
    if isinstance(value, list):
        return "[" + ",".join(expr(item) for item in value) + "]"
    text = str(unquote(value))
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return text.replace(" ", "")


@dataclass(frozen=True)
class HclDoc:
    path: Path
    text: str
    data: dict[str, Any]

    @property
    def rel(self) -> str:
        return self.path.relative_to(REPO_ROOT).as_posix()

    def labeled(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(label, body) of one-label blocks: variable, output, module, provider."""
        for entry in self.data.get(kind, []):
            for label, body in entry.items():
                yield unquote(label), body

    def resources(self, kind: str = "resource") -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(type, name, body) of two-label blocks: resource, data."""
        for entry in self.data.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    yield unquote(rtype), unquote(name), body

    def terraform_blocks(self) -> list[dict[str, Any]]:
        return [b for b in self.data.get("terraform", []) if isinstance(b, dict)]

    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for block in self.data.get("locals", []):
            merged.update({k: attr(block, k) for k in block if not k.startswith("__")})
        return merged


def load(path: Path) -> HclDoc:
    text = path.read_text()
    with path.open() as handle:
        data: dict[str, Any] = hcl2.load(handle)  # type: ignore[attr-defined]
    return HclDoc(path=path, text=text, data=data)


def tf_paths() -> list[Path]:
    return sorted(p for p in TF_ROOT.rglob("*.tf") if ".terraform" not in p.parts)


def tftest_paths(module: str) -> list[Path]:
    """The module's `terraform test` files (tests/*.tftest.hcl), which hcl2 parses too."""
    return sorted((TF_ROOT / "modules" / module / "tests").glob("*.tftest.hcl"))


def load_all() -> dict[str, HclDoc]:
    """Every .tf file under terraform/, parsed, keyed by path relative to the repository."""
    return {p.relative_to(REPO_ROOT).as_posix(): load(p) for p in tf_paths()}


def doc(docs: dict[str, HclDoc], rel: str) -> HclDoc:
    return docs[f"terraform/{rel}"]


def terraform_binary() -> str:
    found = shutil.which("terraform") or (
        "/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").exists() else None
    )
    assert found, "the terraform binary (>= 1.11) is required for `terraform fmt -check`"
    return found
