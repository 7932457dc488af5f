"""Structural checks of terraform/ on the parsed HCL (no provider registry needed)."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from taskplane_testing.terraform import (
    ENVS,
    EXAMPLES,
    MODULES,
    REPO_ROOT,
    STACK,
    TF_ROOT,
    HclDoc,
    attr,
    doc,
    expr,
    load,
    sub_blocks,
    tf_paths,
    tftest_paths,
    unquote,
)

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


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("module", MODULES)
def test_module_has_standard_files(module: str) -> None:
    present = {p.name for p in (TF_ROOT / "modules" / module).iterdir()}
    missing = {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} - present
    assert not missing, f"modules/{module} lacks {sorted(missing)}"


@pytest.mark.parametrize("env", ENVS)
def test_env_has_standard_files(env: str) -> None:
    present = {p.name for p in (TF_ROOT / "envs" / env).iterdir()}
    wanted = {
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "providers.tf",
        "terraform.tfvars.example",
        "backend.hcl.example",
    }
    assert not wanted - present, f"envs/{env} lacks {sorted(wanted - present)}"


def test_every_tf_file_is_found() -> None:
    # 9 modules x 4 files + 2 envs x 5 files
    assert len(TF_FILES) >= 46, TF_FILES


def module_calls(docs: dict[str, HclDoc], root: str) -> dict[str, dict[str, Any]]:
    return dict(doc(docs, f"{root}/main.tf").labeled("module"))


def stack_call(docs: dict[str, HclDoc], env: str) -> dict[str, Any]:
    return module_calls(docs, f"envs/{env}")["stack"]


@pytest.mark.parametrize("env", ENVS)
def test_env_is_one_call_of_the_stack(docs: dict[str, HclDoc], env: str) -> None:
    # The wiring lives once, in modules/stack: an environment only calls it.
    calls = module_calls(docs, f"envs/{env}")
    assert set(calls) == {"stack"}, f"envs/{env} calls {sorted(calls)}"
    assert attr(calls["stack"], "source") == "../../modules/stack"
    for d in dir_docs(docs, f"envs/{env}"):
        for kind in ("resource", "data", "locals", "module"):
            if kind == "module" and d.rel.endswith("/main.tf"):
                continue
            assert kind not in d.data, f"{d.rel} has {kind} blocks: they belong in the stack"
    call = calls["stack"]
    assert attr(call, "environment") == env
    assert attr(call, "production") is (env == "prod")
    # every deployment input of the root reaches the stack under the same name
    for name, _ in doc(docs, f"envs/{env}/variables.tf").labeled("variable"):
        assert expr(attr(call, name)) == f"var.{name}", f"envs/{env}: {name} is not passed on"
    # and every argument is an input of the stack
    stack_inputs = {n for n, _ in doc(docs, f"{STACK}/variables.tf").labeled("variable")}
    arguments = {k for k in call if not k.startswith("__") and k != "source"}
    assert arguments <= stack_inputs, arguments - stack_inputs


def test_stack_composes_every_module(docs: dict[str, HclDoc]) -> None:
    calls = module_calls(docs, STACK)
    assert tuple(calls) == COMPOSED
    for name, body in calls.items():
        assert attr(body, "source") == f"../{name}"
    assert expr(attr(calls["platform"], "depends_on")) == "[module.identity]"


@pytest.mark.parametrize("env", ENVS)
def test_env_outputs_re_export_the_stack(docs: dict[str, HclDoc], env: str) -> None:
    stack_outputs = dict(doc(docs, f"{STACK}/outputs.tf").labeled("output"))
    env_outputs = dict(doc(docs, f"envs/{env}/outputs.tf").labeled("output"))
    # default_tags and kubernetes feed the root's providers; the rest is the operator's view
    assert set(env_outputs) == set(stack_outputs) - {"default_tags", "kubernetes"}
    for name, body in env_outputs.items():
        assert expr(attr(body, "value")) == f"module.stack.{name}"
        assert attr(body, "description") == attr(stack_outputs[name], "description"), name


@pytest.mark.parametrize("rel", TF_FILES)
def test_file_parses(rel: str) -> None:
    parsed = load(REPO_ROOT / rel)
    assert parsed.data, f"{rel} parsed to nothing"


# --------------------------------------------------------------------------- variables and outputs


def all_variables(docs: dict[str, HclDoc]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(d.rel, name, body) for d in docs.values() for name, body in d.labeled("variable")]


def test_variables_have_description_and_type(docs: dict[str, HclDoc]) -> None:
    variables = all_variables(docs)
    assert len(variables) > 60
    problems = []
    for rel, name, body in variables:
        description = attr(body, "description")
        if not isinstance(description, str) or len(description.strip()) < 10:
            problems.append(f"{rel}: variable {name} has no real description")
        if attr(body, "type") is None:
            problems.append(f"{rel}: variable {name} has no type")
    assert not problems, "\n".join(problems)


def test_variables_live_in_variables_tf(docs: dict[str, HclDoc]) -> None:
    misplaced = [
        f"{rel}: {name}"
        for rel, name, _ in all_variables(docs)
        if not rel.endswith("/variables.tf")
    ]
    assert not misplaced, misplaced


def test_outputs_have_descriptions(docs: dict[str, HclDoc]) -> None:
    outputs = [(d.rel, n, b) for d in docs.values() for n, b in d.labeled("output")]
    assert len(outputs) > 30
    missing = [
        f"{rel}: {name}"
        for rel, name, body in outputs
        if len(str(attr(body, "description", "")).strip()) < 10
    ]
    assert not missing, f"outputs without description: {missing}"


@pytest.mark.parametrize("module", MODULES)
def test_module_readme_documents_every_input_and_output(
    docs: dict[str, HclDoc], module: str
) -> None:
    readme = (TF_ROOT / "modules" / module / "README.md").read_text()
    assert "## Inputs" in readme
    assert "## Outputs" in readme
    assert "| Name | Description | Type | Default | Required |" in readme
    names = [n for d in dir_docs(docs, f"modules/{module}") for n, _ in d.labeled("variable")]
    names += [n for d in dir_docs(docs, f"modules/{module}") for n, _ in d.labeled("output")]
    assert names
    undocumented = [n for n in names if f"`{n}`" not in readme and f"| {n} |" not in readme]
    assert not undocumented, f"modules/{module}/README.md does not document {undocumented}"


# --------------------------------------------------------------------------- version pinning


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


@pytest.mark.parametrize("root", ROOTS)
def test_versions_tf_floors_in_modules_pins_in_envs(docs: dict[str, HclDoc], root: str) -> None:
    """Reusable modules state floors (>=), root modules (environments, examples) pin (~>):
    terraform-aws-modules' convention, so one place per root decides the versions."""
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


# --------------------------------------------------------------------------- database


# stack input -> (database module input, what prod must pass)
DATABASE_SAFETY = {
    "db_multi_az": ("multi_az", True),
    "db_deletion_protection": ("deletion_protection", True),
    "db_skip_final_snapshot": ("skip_final_snapshot", False),
    "db_backup_retention_days": ("backup_retention_days", None),
}


def test_prod_database_is_protected(docs: dict[str, HclDoc]) -> None:
    prod = stack_call(docs, "prod")
    assert attr(prod, "production") is True
    for stack_input, (_, wanted) in DATABASE_SAFETY.items():
        if wanted is not None:
            assert attr(prod, stack_input) is wanted, f"prod {stack_input}"
    assert attr(prod, "db_backup_retention_days") >= 7

    # the stack hands every one of them to the database module unchanged
    database = module_calls(docs, STACK)["database"]
    for stack_input, (module_input, _) in DATABASE_SAFETY.items():
        assert expr(attr(database, module_input)) == f"var.{stack_input}", module_input


# stack input -> the condition its validation must carry (only binding in production)
PRODUCTION_GUARANTEES = {
    "db_multi_az": "!var.production||var.db_multi_az",
    "db_deletion_protection": "!var.production||var.db_deletion_protection",
    "db_skip_final_snapshot": "!var.production||!var.db_skip_final_snapshot",
    "db_backup_retention_days": "!var.production||var.db_backup_retention_days>=7",
    "availability_zones": "!var.production||length(var.availability_zones)==3",
    "single_nat_gateway": "!var.production||!var.single_nat_gateway",
    "node_min_size": "!var.production||var.node_min_size>=3",
    "ecr_force_delete": "!var.production||!var.ecr_force_delete",
    "secret_recovery_window_days": "!var.production||var.secret_recovery_window_days>0",
}


def test_stack_refuses_an_unprotected_production(docs: dict[str, HclDoc]) -> None:
    variables = dict(doc(docs, f"{STACK}/variables.tf").labeled("variable"))
    assert "default" not in variables["production"], "production must be chosen explicitly"
    for name, condition in PRODUCTION_GUARANTEES.items():
        assert "default" not in variables[name], f"{name}: each environment must set it"
        conditions = [expr(attr(v, "condition")) for v in sub_blocks(variables[name], "validation")]
        assert condition in conditions, f"{name}: {conditions}"


def test_dev_is_not_production(docs: dict[str, HclDoc]) -> None:
    dev = stack_call(docs, "dev")
    assert attr(dev, "production") is False
    assert attr(dev, "db_deletion_protection") is False  # disposable, and tests the guard's scope


def test_database_module_wires_safety_settings(docs: dict[str, HclDoc]) -> None:
    db = dict(doc(docs, "modules/database/main.tf").labeled("module"))["db"]
    assert attr(db, "publicly_accessible") is False
    assert attr(db, "storage_encrypted") is True
    assert attr(db, "manage_master_user_password") is True
    assert attr(db, "iam_database_authentication_enabled") is True
    assert expr(attr(db, "multi_az")) == "var.multi_az"
    assert expr(attr(db, "deletion_protection")) == "var.deletion_protection"
    assert expr(attr(db, "backup_retention_period")) == "var.backup_retention_days"
    assert attr(db, "engine") == "postgres"
    assert attr(db, "family") == "postgres17"
    assert "password" not in db, "the password is RDS-managed, never passed in"
    params = {p["name"]: p for p in attr(db, "parameters")}
    for name in ("log_min_duration_statement", "log_statement", "rds.force_ssl"):
        assert name in params, f"parameter group lacks {name}"
    defaults = dict(doc(docs, "modules/database/variables.tf").labeled("variable"))
    assert attr(defaults["multi_az"], "default") is True
    assert attr(defaults["deletion_protection"], "default") is True


def test_no_public_database_anywhere(docs: dict[str, HclDoc]) -> None:
    for d in docs.values():
        assert not re.search(r"publicly_accessible\s*=\s*true", d.text), d.rel
    ingress = [
        b
        for t, _, b in doc(docs, "modules/database/main.tf").resources()
        if t == "aws_vpc_security_group_ingress_rule"
    ]
    assert ingress
    for rule in ingress:
        assert "cidr_ipv4" not in rule, "database ingress only from security groups"
        assert "cidr_ipv6" not in rule, "database ingress only from security groups"
        assert expr(attr(rule, "referenced_security_group_id")) == "each.value"


# --------------------------------------------------------------------------- EKS endpoint


def test_prod_eks_endpoint_private_by_default(docs: dict[str, HclDoc]) -> None:
    variables = dict(doc(docs, "envs/prod/variables.tf").labeled("variable"))
    assert attr(variables["endpoint_public_access"], "default") is False
    assert attr(variables["endpoint_public_access_cidrs"], "default") == []
    # passed through the stack to the cluster module unchanged, whose validation
    # rejects 0.0.0.0/0, ::/0 and an empty list (test_cluster_module_rejects_open_allow_list)
    prod = stack_call(docs, "prod")
    cluster = module_calls(docs, STACK)["cluster"]
    for name in ("endpoint_public_access", "endpoint_public_access_cidrs"):
        assert expr(attr(prod, name)) == f"var.{name}"
        assert expr(attr(cluster, name)) == f"var.{name}"
    stack_variables = dict(doc(docs, f"{STACK}/variables.tf").labeled("variable"))
    assert "default" not in stack_variables["endpoint_public_access"]


def test_cluster_module_rejects_open_allow_list(docs: dict[str, HclDoc]) -> None:
    variables = dict(doc(docs, "modules/cluster/variables.tf").labeled("variable"))
    assert attr(variables["endpoint_public_access"], "default") is False
    validations = sub_blocks(variables["endpoint_public_access_cidrs"], "validation")
    conditions = " ".join(expr(attr(v, "condition")) for v in validations)
    assert "0.0.0.0/0" in conditions
    assert "::/0" in conditions
    assert "length(var.endpoint_public_access_cidrs)>0" in conditions, (
        "public access needs a non-empty list"
    )

    eks = dict(doc(docs, "modules/cluster/main.tf").labeled("module"))["eks"]
    assert attr(eks, "endpoint_private_access") is True
    assert expr(attr(eks, "endpoint_public_access")) == "var.endpoint_public_access"
    assert expr(attr(eks, "endpoint_public_access_cidrs")) == (
        "var.endpoint_public_access?var.endpoint_public_access_cidrs:[]"
    )


def test_cluster_encrypts_secrets_logs_and_runs_pod_identity(docs: dict[str, HclDoc]) -> None:
    eks = dict(doc(docs, "modules/cluster/main.tf").labeled("module"))["eks"]
    assert attr(eks, "create_kms_key") is True
    assert attr(eks, "encryption_config") == {"resources": ["secrets"]}
    assert expr(attr(eks, "enabled_log_types")) == "var.enabled_log_types"
    log_types = dict(doc(docs, "modules/cluster/variables.tf").labeled("variable"))[
        "enabled_log_types"
    ]
    assert set(attr(log_types, "default")) == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    addons = attr(eks, "addons")
    assert {"eks-pod-identity-agent", "vpc-cni", "coredns", "kube-proxy"} <= set(addons)
    groups = attr(eks, "eks_managed_node_groups")
    assert all(g["ami_type"].startswith("AL2023_") for g in groups.values())
    # v21 input names (v20's cluster_* names would fail `terraform validate`)
    for old in (
        "cluster_name",
        "cluster_version",
        "cluster_addons",
        "cluster_endpoint_public_access",
    ):
        assert old not in eks, f"{old} is a pre-v21 input name"
    assert {"name", "kubernetes_version"} <= set(eks)


# --------------------------------------------------------------------------- hard-coded values

REGION_RE = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-(?:gov-)?[a-z]+-\d\b")
ACCOUNT_RE = re.compile(r"(?<![\d.])\d{12}(?![\d.])")


def test_no_hard_coded_region_or_account_in_code() -> None:
    # Rule: regions and accounts may appear only in *.example files (and docs);
    # .tf code takes the region from var.region and the account from the credentials.
    offenders = []
    for path in tf_paths():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if REGION_RE.search(line) or ACCOUNT_RE.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_region_only_comes_from_a_variable_or_the_provider(docs: dict[str, HclDoc]) -> None:
    allowed = {"var.region", "data.aws_region.current.region"}
    found = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                scalar = value[0] if isinstance(value, list) and len(value) == 1 else value
                if key == "region" and isinstance(scalar, str):
                    found.append((where, expr(scalar)))
                walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for d in docs.values():
        walk(d.data, d.rel)
    assert found, "expected region references"
    bad = [(w, v) for w, v in found if v not in allowed]
    assert not bad, bad


def test_names_derive_from_the_name_variable(docs: dict[str, HclDoc]) -> None:
    for env in ENVS:
        assert expr(attr(stack_call(docs, env), "name")) == "var.name", env
    calls = module_calls(docs, STACK)
    for module in ("network", "cluster", "database", "secrets", "identity"):
        assert expr(attr(calls[module], "name")) == "var.name", module
    assert expr(attr(calls["network"], "cluster_name")) == "var.name"
    assert expr(attr(calls["registry"], "repository_prefix")) == "var.name"


# --------------------------------------------------------------------------- IAM


def policy_statements(docs: dict[str, HclDoc]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for d in docs.values():
        for rtype, name, body in d.resources("data"):
            if rtype != "aws_iam_policy_document":
                continue
            for statement in sub_blocks(body, "statement"):
                found.append((d.rel, name, statement))
            for dyn in sub_blocks(body, "dynamic"):
                for dyn_statement in sub_blocks(dyn, "statement"):
                    for content in sub_blocks(dyn_statement, "content"):
                        found.append((d.rel, name, content))
    return found


# In a KMS key policy "*" is the only valid resource and means "this key".
# The one key policy every module's key uses (modules/kms_key).
KEY_POLICIES = {("terraform/modules/kms_key/main.tf", "this")}


def test_no_wildcard_iam_outside_documented_exceptions(docs: dict[str, HclDoc]) -> None:
    statements = policy_statements(docs)
    assert len(statements) >= 6
    for rel, name, statement in statements:
        if (rel, name) in KEY_POLICIES:
            continue
        actions = attr(statement, "actions", [])
        resources = attr(statement, "resources", [])
        assert "*" not in actions, f"{rel} {name}: {actions}"
        assert not any(a.endswith(":*") for a in actions), f"{rel} {name}: {actions}"
        if resources == ["*"]:
            # ecr:GetAuthorizationToken has no resource-level permissions
            assert actions == ["ecr:GetAuthorizationToken"], (
                f"{rel} {name}: * resource for {actions}"
            )
            assert "GetAuthorizationToken" in (TF_ROOT / "modules/registry/main.tf").read_text()


def test_pod_identity_reads_exactly_the_platform_secrets(docs: dict[str, HclDoc]) -> None:
    identity = doc(docs, "modules/identity/main.tf")
    data = {
        name: body
        for rtype, name, body in identity.resources("data")
        if rtype == "aws_iam_policy_document"
    }
    trust = sub_blocks(data["trust"], "statement")[0]
    assert sub_blocks(trust, "principals")[0]["identifiers"] in (
        ["pods.eks.amazonaws.com"],
        [["pods.eks.amazonaws.com"]],
    )
    assert set(attr(trust, "actions")) == {"sts:AssumeRole", "sts:TagSession"}
    reader = sub_blocks(data["secret_reader"], "statement")[0]
    assert set(attr(reader, "actions")) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert expr(attr(reader, "resources")) == "each.value.secret_arns"

    call = module_calls(docs, STACK)["identity"]
    readers = attr(call, "secret_readers")
    assert set(readers) == {"external-secrets"}
    eso = readers["external-secrets"]
    assert expr(eso["secret_arns"]) == (
        "[module.database.master_user_secret_arn,module.secrets.platform_secret_arn,"
        "module.secrets.notification_kek_secret_arn]"
    )
    assert expr(eso["kms_key_arns"]) == "[module.database.kms_key_arn,module.secrets.kms_key_arn]"


# --------------------------------------------------------------------------- registry and platform


def test_ecr_repositories_are_hardened(docs: dict[str, HclDoc]) -> None:
    registry = doc(docs, "modules/registry/main.tf")
    repos = [b for t, _, b in registry.resources() if t == "aws_ecr_repository"]
    assert len(repos) == 1
    repo = repos[0]
    assert attr(repo, "image_tag_mutability") == "IMMUTABLE"
    assert attr(sub_blocks(repo, "image_scanning_configuration")[0], "scan_on_push") is True
    assert attr(sub_blocks(repo, "encryption_configuration")[0], "encryption_type") == "KMS"
    assert any(t == "aws_ecr_lifecycle_policy" for t, _, _ in registry.resources())
    images = dict(doc(docs, "modules/registry/variables.tf").labeled("variable"))["images"]
    assert attr(images, "default") == [
        "auth-service",
        "user-service",
        "task-service",
        "notification-service",
        "console",
        "worker",
        "operator",
    ]


def test_platform_values_use_module_outputs(docs: dict[str, HclDoc]) -> None:
    # The values themselves (taskplane-values.yaml.tftpl) are checked against the chart
    # by test_platform_chart_contract.py; here, the wiring in the stack.
    template = expr(doc(docs, "modules/platform/main.tf").locals()["taskplane_values"])
    assert template.startswith('templatefile("${path.module}/taskplane-values.yaml.tftpl",')
    call = module_calls(docs, STACK)["platform"]
    assert expr(attr(call, "image_registry")) == "module.registry.registry_host"
    assert expr(attr(call, "database_host")) == "module.database.address"
    assert expr(attr(call, "database_secret_arn")) == "module.database.master_user_secret_arn"
    assert expr(attr(call, "count")) == "var.enable_platform?1:0"
    assert expr(attr(call, "chart_path")) == "local.chart_path"
    # the default chart is this repository's, three levels above the stack module
    chart_path = expr(doc(docs, f"{STACK}/main.tf").locals()["chart_path"])
    default = "../../../charts/taskplane"
    assert chart_path == f'coalesce(var.chart_path,abspath("${{path.module}}/{default}"))'
    assert (TF_ROOT / "modules" / "stack" / default / "Chart.yaml").resolve().is_file()


def test_platform_secrets_never_enter_state(docs: dict[str, HclDoc]) -> None:
    secrets = doc(docs, "modules/secrets/main.tf")
    assert not [t for t, _, _ in secrets.resources() if t.startswith("random_")], (
        "random_* resources keep their result in state: use ephemeral random_password"
    )
    ephemerals = [t for t, _, _ in secrets.resources("ephemeral")]
    assert ephemerals.count("random_password") == 4
    versions = [b for t, _, b in secrets.resources() if t == "aws_secretsmanager_secret_version"]
    assert len(versions) == 2, "<name>/platform and <name>/notification-kek: no service tokens"
    for version in versions:
        assert "secret_string" not in version, "write-only secret_string_wo only"
        assert "secret_string_wo" in version
        assert "secret_string_wo_version" in version
    for rtype, _, secret in secrets.resources():
        if rtype == "aws_secretsmanager_secret":
            assert expr(attr(secret, "kms_key_id")) == "module.kms.arn"


def test_no_service_token_flow_is_provisioned() -> None:
    """In-cluster workloads exchange their ServiceAccount tokens: nothing mints, stores or
    syncs service tokens (those remain for workers outside the cluster)."""
    leftovers = [
        f"{path.relative_to(TF_ROOT)}:{number}"
        for path in [*tf_paths(), *(TF_ROOT / "modules" / "platform").rglob("*.yaml*")]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"service[-_]tokens|worker[-_]token|operator-token|notification-token", line)
    ]
    assert not leftovers, leftovers


def test_checkov_skips_are_inline_with_reasons() -> None:
    skips = []
    for path in tf_paths():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" in line:
                skips.append((path, number, line.strip()))
    assert skips, "expected the documented skips"
    for path, number, line in skips:
        assert re.fullmatch(r"#checkov:skip=CKV2?_[A-Z0-9]+_\d+:.{30,}", line), (
            f"{path}:{number}: {line}"
        )


def test_no_tfvars_or_state_committed() -> None:
    forbidden = [
        p
        for p in TF_ROOT.rglob("*")
        if p.name.endswith((".tfstate", ".tfstate.backup"))
        or p.name == "terraform.tfvars"
        or p.suffix == ".tfvars"
    ]
    assert not forbidden, forbidden
    assert Path(TF_ROOT / "README.md").is_file()


def test_the_notifications_function_runs_the_handler_from_the_service_image(
    docs: dict[str, HclDoc],
) -> None:
    """The Lambda runs the notification-service image with the runtime interface client
    as entry point: both it and the handler it names must import from that package."""
    (body,) = (
        body
        for rtype, _, body in doc(docs, "modules/notifications_lambda/main.tf").resources()
        if rtype == "aws_lambda_function"
    )
    assert unquote(attr(body, "package_type")) == "Image"
    (image_config,) = sub_blocks(body, "image_config")
    assert [unquote(part) for part in attr(image_config, "entry_point")] == [
        "python",
        "-m",
        "awslambdaric",
    ]
    (handler,) = [unquote(part) for part in attr(image_config, "command")]
    module_name, _, function_name = handler.rpartition(".")
    assert importlib.util.find_spec("awslambdaric") is not None
    assert callable(getattr(importlib.import_module(module_name), function_name))


# --------------------------------------------------------------------------- tests and examples


def tftest(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        data: dict[str, Any] = hcl2.load(handle)  # type: ignore[attr-defined]
    return data


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_a_terraform_test_with_mocked_providers(
    docs: dict[str, HclDoc], module: str
) -> None:
    """Beside every module, `terraform test` files that plan (never apply) against mocked
    providers and check something; random needs no API, so it may stay real."""
    paths = tftest_paths(module)
    assert paths, f"modules/{module}/tests/ has no .tftest.hcl"
    needs_mock = set(required_versions(docs, f"modules/{module}")) - {"terraform", "random"}
    for path in paths:
        data = tftest(path)
        mocks = [
            (unquote(n), body)
            for entry in data.get("mock_provider", [])
            for n, body in entry.items()
        ]
        mocked = {name for name, _ in mocks}
        assert needs_mock <= mocked, f"{path.name} does not mock {needs_mock - mocked}"
        for name, body in mocks:
            # shared mock data: relative to the module `terraform test` runs in
            if (source := attr(body, "source")) is not None:
                shared = (TF_ROOT / "modules" / module / source).resolve()
                assert list(shared.glob("*.tfmock.hcl")), f"{path.name}: no mock data for {name}"
        runs = [(unquote(n), body) for entry in data.get("run", []) for n, body in entry.items()]
        assert runs, f"{path.name} has no run block"
        for name, body in runs:
            assert expr(attr(body, "command")) == "plan", f"{path.name}: run {name} must plan"
            checks = sub_blocks(body, "assert") or attr(body, "expect_failures")
            assert checks, f"{path.name}: run {name} checks nothing"


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_is_a_root_module_of_its_module(
    docs: dict[str, HclDoc], example: str
) -> None:
    """terraform-aws-modules' examples: a root module (providers configured, versions
    pinned, local state) that calls the module it is named after, documented."""
    root = TF_ROOT / "examples" / example
    present = {p.name for p in root.iterdir()}
    wanted = {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "providers.tf", "README.md"}
    assert not wanted - present, f"examples/{example} lacks {sorted(wanted - present)}"
    calls = module_calls(docs, f"examples/{example}")
    assert [attr(call, "source") for call in calls.values()] == [f"../../modules/{example}"]
    (block,) = doc(docs, f"examples/{example}/versions.tf").terraform_blocks()
    assert not sub_blocks(block, "backend"), "an example keeps its state locally"
    providers = dict(doc(docs, f"examples/{example}/providers.tf").labeled("provider"))
    assert expr(attr(providers["aws"], "region")) == "var.region"
    called = MODULES if example == "stack" else (example,)
    pins = assert_pins_cover_the_floors(docs, f"examples/{example}", called)
    assert set(providers) == set(pins) - {"terraform", "random"}, "configure what you pin"

    readme = (root / "README.md").read_text()
    assert f"cd terraform/examples/{example}" in readme
    assert "terraform init" in readme
    names = [n for d in dir_docs(docs, f"examples/{example}") for n, _ in d.labeled("variable")]
    names += [n for d in dir_docs(docs, f"examples/{example}") for n, _ in d.labeled("output")]
    undocumented = [n for n in names if f"| {n} |" not in readme]
    assert not undocumented, f"examples/{example}/README.md does not document {undocumented}"


def test_ci_validates_and_tests_every_root_and_module() -> None:
    """The registry-bound checks (init, validate, `terraform test`) run in CI for every
    module, environment and example: the matrix of .github/workflows/terraform.yml."""
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/terraform.yml").read_text())
    matrix = set(workflow["jobs"]["validate"]["strategy"]["matrix"]["root"])
    assert set(ROOTS) <= matrix, sorted(set(ROOTS) - matrix)
