"""Structural checks of terraform/ on the parsed HCL, versions, tags and backend: provider
floors and pins, module majors, default tags, providers' connection, the S3 backend."""

from __future__ import annotations

import re

import pytest

from taskplane_testing.terraform import (
    ENVS,
    MODULES,
    STACK,
    TF_ROOT,
    HclDoc,
    attr,
    doc,
    expr,
    sub_blocks,
)

from .conftest import (
    EXPECTED_MODULE_MAJORS,
    REQUIRED_TAGS,
    ROOTS,
    assert_pins_cover_the_floors,
    dir_docs,
    required_versions,
    stack_call,
)

# --------------------------------------------------------------------------- version pinning


@pytest.mark.parametrize("root", [r for r in ROOTS if not r.startswith("examples/")])
def test_versions_tf_floors_in_modules_pins_in_envs(docs: dict[str, HclDoc], root: str) -> None:
    """Reusable modules state floors (>=), the environments pin (~>): terraform-aws-modules'
    convention, so one place per environment decides the versions (the examples take the
    floors)."""
    versions = required_versions(docs, root)
    assert "aws" in versions
    operator = ">=" if root.startswith("modules/") else "~>"
    assert re.fullmatch(rf"{operator} 1\.1\d", versions["terraform"]), (root, versions)
    for name, version in versions.items():
        assert re.fullmatch(rf"{operator} \d+\.\d+", version), f"{root}: {name} {version!r}"

    # every provider a resource or data source of this root uses is declared
    used = {
        rtype.split("_", 1)[0]
        for d in dir_docs(docs, root)
        for kind in ("resource", "data")
        for rtype, _, _ in d.resources(kind)
    }
    assert used <= set(versions), f"{root} uses undeclared providers {used - set(versions)}"


@pytest.mark.parametrize("env", ENVS)
def test_envs_pin_every_provider_at_or_above_the_module_floors(
    docs: dict[str, HclDoc], env: str
) -> None:
    assert_pins_cover_the_floors(docs, f"envs/{env}", MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_readme_requirements_table_equals_versions_tf(
    docs: dict[str, HclDoc], module: str
) -> None:
    readme = (TF_ROOT / "modules" / module / "README.md").read_text()
    table = dict(re.findall(r"^\| (\w+) \| `([^`]+)` \|$", readme, flags=re.M))
    assert table == required_versions(docs, f"modules/{module}")


def test_registry_modules_are_held_to_one_major(docs: dict[str, HclDoc]) -> None:
    """A root module cannot constrain a module called inside a child module, so the child
    states the range its inputs are written for: a floor and the next major as ceiling."""
    seen = set()
    for d in docs.values():
        for name, body in d.labeled("module"):
            source = attr(body, "source")
            if source.startswith(("./", "../")):
                assert attr(body, "version") is None, f"{d.rel}: local module {name} with version"
                assert (d.path.parent / source).resolve().is_dir(), f"{d.rel}: {source} missing"
                continue
            version = attr(body, "version")
            assert version, f"{d.rel}: module {name} ({source}) has no version"
            match = re.fullmatch(r">= (\d+)\.\d+, < (\d+)\.0", version)
            assert match, f"{d.rel}: module {name} version {version!r} is not a one-major range"
            assert source in EXPECTED_MODULE_MAJORS, f"unexpected registry module {source}"
            major, ceiling = int(match.group(1)), int(match.group(2))
            assert major == EXPECTED_MODULE_MAJORS[source], f"{source} {version}"
            assert ceiling == major + 1, f"{source} {version}"
            seen.add(source)
    assert seen == set(EXPECTED_MODULE_MAJORS)


def test_helm_releases_pin_remote_chart_versions(docs: dict[str, HclDoc]) -> None:
    platform = doc(docs, "modules/platform/main.tf")
    releases = {name: body for rtype, name, body in platform.resources() if rtype == "helm_release"}
    assert set(releases) == {"external_secrets", "platform_secrets", "taskplane"}
    assert (
        expr(attr(releases["external_secrets"], "version")) == "var.external_secrets_chart_version"
    )
    variables = dict(doc(docs, "modules/platform/variables.tf").labeled("variable"))
    assert re.fullmatch(
        r"\d+\.\d+\.\d+", attr(variables["external_secrets_chart_version"], "default")
    )


# --------------------------------------------------------------------------- tags and backend


@pytest.mark.parametrize("env", ENVS)
def test_default_tags_carry_required_keys(docs: dict[str, HclDoc], env: str) -> None:
    providers = dict(doc(docs, f"envs/{env}/providers.tf").labeled("provider"))
    aws = providers["aws"]
    assert expr(attr(aws, "region")) == "var.region"
    default_tags = sub_blocks(aws, "default_tags")
    assert len(default_tags) == 1
    assert expr(attr(default_tags[0], "tags")) == "module.stack.default_tags"
    call = stack_call(docs, env)
    assert attr(call, "environment") == env
    assert expr(attr(call, "tags")) == "var.tags"

    tags_var = dict(doc(docs, f"envs/{env}/variables.tf").labeled("variable"))["tags"]
    assert "default" not in tags_var, "tags must be a required variable"


def test_stack_builds_the_default_tags(docs: dict[str, HclDoc]) -> None:
    locals_ = doc(docs, f"{STACK}/main.tf").locals()
    required = locals_["required_tags"]
    for key, value in REQUIRED_TAGS.items():
        assert required.get(key) == value, f"required tag {key}"
    assert expr(required["Environment"]) == "var.environment"
    # required tags are merged last, so var.tags cannot override them
    assert expr(locals_["tags"]) == "merge(var.tags,local.required_tags)"
    # The AWS provider configuration reads this output: it may depend on inputs
    # only, never on a resource, data source or module of the stack (a cycle).
    outputs = dict(doc(docs, f"{STACK}/outputs.tf").labeled("output"))
    assert expr(attr(outputs["default_tags"], "value")) == "local.tags"
    for value in (required, locals_["tags"]):
        assert not re.search(r"\b(module|data|aws_)\w*\.", str(value)), value

    variables = dict(doc(docs, f"{STACK}/variables.tf").labeled("variable"))
    assert "default" not in variables["tags"]
    assert "Owner" in str(variables["tags"].get("validation"))


@pytest.mark.parametrize("env", ENVS)
def test_kubernetes_providers_use_the_stack_connection(docs: dict[str, HclDoc], env: str) -> None:
    providers = dict(doc(docs, f"envs/{env}/providers.tf").labeled("provider"))
    kubernetes = providers["kubernetes"]
    assert expr(attr(kubernetes, "host")) == "module.stack.kubernetes.host"
    assert expr(attr(kubernetes, "cluster_ca_certificate")) == (
        "module.stack.kubernetes.cluster_ca_certificate"
    )
    exec_ = sub_blocks(kubernetes, "exec")[0]
    for key in ("api_version", "command", "args"):
        assert expr(attr(exec_, key)) == f"module.stack.kubernetes.exec.{key}"
    assert expr(attr(providers["helm"], "kubernetes")) == "module.stack.kubernetes"

    stack_outputs = dict(doc(docs, f"{STACK}/outputs.tf").labeled("output"))
    connection = attr(stack_outputs["kubernetes"], "value")
    assert expr(connection["host"]) == "module.cluster.cluster_endpoint"
    assert expr(connection["exec"]["args"]) == (
        "[eks,get-token,--cluster-name,module.cluster.cluster_name,--region,var.region]"
    )
    assert expr(attr(stack_call(docs, env), "region")) == "var.region"


@pytest.mark.parametrize("env", ENVS)
def test_s3_backend_locks_and_is_partial(docs: dict[str, HclDoc], env: str) -> None:
    block = doc(docs, f"envs/{env}/versions.tf").terraform_blocks()[0]
    backends = sub_blocks(block, "backend")
    assert len(backends) == 1
    assert "s3" in backends[0]
    s3 = backends[0]["s3"]
    assert attr(s3, "use_lockfile") is True
    assert attr(s3, "encrypt") is True
    hard_coded = {"bucket", "key", "region", "dynamodb_table", "profile"} & set(s3)
    assert not hard_coded, f"backend must be partial, found {hard_coded}"
    example = (TF_ROOT / "envs" / env / "backend.hcl.example").read_text()
    assert all(k in example for k in ("bucket", "key", "region"))
