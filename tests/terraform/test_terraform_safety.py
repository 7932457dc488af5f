"""Structural checks of terraform/ on the parsed HCL, production safety: the database, the
EKS endpoint and no hard-coded region, account or name."""

from __future__ import annotations

import re

from taskplane_testing.terraform import (
    ENVS,
    REPO_ROOT,
    STACK,
    HclDoc,
    attr,
    doc,
    expr,
    sub_blocks,
    tf_paths,
)

from .conftest import (
    module_calls,
    stack_call,
)

# --------------------------------------------------------------------------- database


# field of the stack's `database` object (the database module input of the same name)
# -> what prod must pass
DATABASE_SAFETY = {
    "multi_az": True,
    "deletion_protection": True,
    "skip_final_snapshot": False,
    "backup_retention_days": None,
}


def test_prod_database_is_protected(docs: dict[str, HclDoc]) -> None:
    prod = stack_call(docs, "prod")
    assert attr(prod, "production") is True
    settings = attr(prod, "database")
    for field, wanted in DATABASE_SAFETY.items():
        if wanted is not None:
            assert settings[field] is wanted, f"prod database.{field}"
    assert settings["backup_retention_days"] >= 7

    # the stack hands every one of them to the database module unchanged
    database = module_calls(docs, STACK)["database"]
    for field in DATABASE_SAFETY:
        assert expr(attr(database, field)) == f"var.database.{field}", field


# what the stack's table of production guarantees requires -> the stack input it reads
PRODUCTION_GUARANTEES = {
    "var.database.multi_az": "database",
    "var.database.deletion_protection": "database",
    "!var.database.skip_final_snapshot": "database",
    "var.database.backup_retention_days>=7": "database",
    "length(var.availability_zones)==3": "availability_zones",
    "!var.single_nat_gateway": "single_nat_gateway",
    "var.node_group.min_size>=3": "node_group",
    "!var.ecr_force_delete": "ecr_force_delete",
    "var.secret_recovery_window_days>0": "secret_recovery_window_days",
}


def test_stack_refuses_an_unprotected_production(docs: dict[str, HclDoc]) -> None:
    variables = dict(doc(docs, f"{STACK}/variables.tf").labeled("variable"))
    assert "default" not in variables["production"], "production must be chosen explicitly"
    # one table of guarantees, checked by one validation of `production` that names
    # every guarantee that does not hold
    table = doc(docs, f"{STACK}/main.tf").locals()["production_guarantees"]
    assert sorted(expr(v) for v in table.values()) == sorted(PRODUCTION_GUARANTEES)
    conditions = [
        expr(attr(v, "condition")) for v in sub_blocks(variables["production"], "validation")
    ]
    assert conditions == ["!var.production||alltrue(values(local.production_guarantees))"]
    for name in set(PRODUCTION_GUARANTEES.values()):
        assert "default" not in variables[name], f"{name}: each environment must set it"
    # and the database's safety fields are not optional() in the object type either
    database_type = expr(attr(variables["database"], "type"))
    for field in DATABASE_SAFETY:
        assert f"{field}=optional" not in database_type.replace(" ", ""), field


def test_dev_is_not_production(docs: dict[str, HclDoc]) -> None:
    dev = stack_call(docs, "dev")
    assert attr(dev, "production") is False
    # disposable, and tests the guard's scope
    assert attr(dev, "database")["deletion_protection"] is False


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
        # keyed by names the configuration states: a new node group's ID is unknown at plan
        assert expr(attr(rule, "for_each")) == "var.allowed_security_groups"
    allowed = attr(module_calls(docs, STACK)["database"], "allowed_security_groups")
    assert "'eks-nodes':'${module.cluster.node_security_group_id}'" in expr(allowed), allowed
    assert '"notifications-lambda"=>f.security_group_id' in expr(allowed), allowed


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
