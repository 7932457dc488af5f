"""Structural checks of terraform/ on the parsed HCL, IAM, registry, platform and tests:
no wildcard IAM, hardened ECR, platform wiring, terraform tests and examples."""

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
    EXAMPLES,
    MODULES,
    REPO_ROOT,
    STACK,
    TF_ROOT,
    HclDoc,
    attr,
    doc,
    expr,
    sub_blocks,
    tf_paths,
    tftest_paths,
    unquote,
)

from .conftest import (
    ROOTS,
    dir_docs,
    module_calls,
    required_versions,
)

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
    # trusted by EKS Pod Identity only, acting for this account (the shared trust policy)
    trust = dict(identity.labeled("module"))["trust"]
    assert attr(trust, "source") == "../service_trust_policy"
    assert attr(trust, "service") == "pods.eks.amazonaws.com"
    assert set(attr(trust, "actions")) == {"sts:AssumeRole", "sts:TagSession"}
    (policy,) = [
        body
        for rtype, _, body in doc(docs, "modules/service_trust_policy/main.tf").resources("data")
        if rtype == "aws_iam_policy_document"
    ]
    (statement,) = sub_blocks(policy, "statement")
    (condition,) = sub_blocks(statement, "condition")
    assert attr(condition, "variable") == "aws:SourceAccount"
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


def test_every_service_role_takes_the_shared_trust_policy(docs: dict[str, HclDoc]) -> None:
    """The roles AWS services assume (RDS Proxy, Pod Identity, Lambda) are trusted through
    modules/service_trust_policy: the aws:SourceAccount guard is written once."""
    trust = "terraform/modules/service_trust_policy/main.tf"
    statements = policy_statements(docs)
    # no other policy document lets anyone assume a role
    assert not [(rel, name) for rel, name, st in statements if "sts:" in str(st.get("actions"))]
    ((_, _, statement),) = [entry for entry in statements if entry[0] == trust]
    (principals,) = sub_blocks(statement, "principals")
    assert attr(principals, "type") == "Service"
    (condition,) = sub_blocks(statement, "condition")
    assert attr(condition, "variable") == "aws:SourceAccount"
    roles = [
        (d.rel, body) for d in docs.values() for t, _, body in d.resources() if t == "aws_iam_role"
    ]
    assert len(roles) >= 3
    for rel, role in roles:
        assert re.fullmatch(r"module\.\w+(\[0\])?\.json", expr(attr(role, "assume_role_policy"))), (
            rel
        )
    callers = {
        d.rel: attr(body, "service")
        for d in docs.values()
        for _, body in d.labeled("module")
        if attr(body, "source") == "../service_trust_policy"
    }
    assert set(callers.values()) == {
        "rds.amazonaws.com",
        "pods.eks.amazonaws.com",
        "lambda.amazonaws.com",
    }, callers


def test_the_stack_keeps_the_keys_of_releases_before_kms_key(docs: dict[str, HclDoc]) -> None:
    """The database, secrets and notifications Lambda keys moved into modules/kms_key: the
    stack states the moves once, so an upgrade keeps the keys instead of replacing them."""
    moves = {
        (expr(attr(block, "from")), expr(attr(block, "to")))
        for block in doc(docs, f"{STACK}/moved.tf").data["moved"]
    }
    expected = {
        (f"module.{call}.{resource}.this", f"module.{call}.module.kms.{resource}.this")
        for call in ("database", "secrets", "notifications_lambda[0]")
        for resource in ("aws_kms_key", "aws_kms_alias")
    }
    assert moves == expected
    for module in ("database", "secrets", "notifications_lambda"):
        main = doc(docs, f"modules/{module}/main.tf")
        assert attr(dict(main.labeled("module"))["kms"], "source") == "../kms_key", module
        assert "moved" not in main.data, f"modules/{module}: the stack states the moves"


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
    secret_arns = attr(call, "secret_arns")
    assert expr(secret_arns["database"]) == "module.database.master_user_secret_arn"
    assert expr(secret_arns["notification_kek"]) == "module.secrets.notification_kek_secret_arn"
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
    """terraform-aws-modules' examples: a root module (the AWS provider configured, local
    state) that calls the module it is named after, documented. It declares no versions
    (the modules' floors apply; ``terraform init`` locks what it picked), so nothing of an
    environment's versions.tf is copied into it."""
    root = TF_ROOT / "examples" / example
    present = {p.name for p in root.iterdir()}
    wanted = {"main.tf", "variables.tf", "outputs.tf", "providers.tf", "README.md"}
    assert not wanted - present, f"examples/{example} lacks {sorted(wanted - present)}"
    assert "versions.tf" not in present, f"examples/{example}: the modules' floors apply"
    calls = module_calls(docs, f"examples/{example}")
    assert [attr(call, "source") for call in calls.values()] == [f"../../modules/{example}"]
    blocks = [b for d in dir_docs(docs, f"examples/{example}") for b in d.terraform_blocks()]
    assert not blocks, "an example keeps its state locally and pins nothing"
    providers = dict(doc(docs, f"examples/{example}/providers.tf").labeled("provider"))
    assert set(providers) == {"aws"}
    assert expr(attr(providers["aws"], "region")) == "var.region"

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
