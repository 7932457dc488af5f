"""The platform module's local chart (SecretStore + ExternalSecrets), rendered by real Helm."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from helm_python import Chart, HelmRenderError

from taskplane_testing.terraform import TF_ROOT, HclDoc, doc, expr

CHART = TF_ROOT / "modules" / "platform" / "charts" / "platform-secrets"
DB_ARN = "arn:aws:secretsmanager:region-1:000000000000:secret:rds!db-0123"
PLATFORM_ARN = "arn:aws:secretsmanager:region-1:000000000000:secret:tp/platform-abc"
URL_TEMPLATE = (
    "postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}"
    "@db.internal:5432/taskplane?sslmode=require"
)
VALUES: dict[str, Any] = {
    "region": "region-1",
    "refreshInterval": "1h",
    "database": {
        "secretArn": DB_ARN,
        "targetSecretName": "taskplane-database",
        "urlTemplate": URL_TEMPLATE,
    },
    "platform": {
        "secretArn": PLATFORM_ARN,
        "targetSecretName": "taskplane-platform",
        "bootstrapAdminEmail": "admin@example.com",
    },
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with Chart.load(CHART) as chart:
        rendered = chart.render(values, name="taskplane-platform-secrets", namespace="taskplane")
    return [o for text in rendered.values() for o in yaml.safe_load_all(text) if o]


def test_chart_renders_store_and_external_secrets() -> None:
    objects = render(VALUES)
    (store,) = [o for o in objects if o["kind"] == "SecretStore"]
    externals = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ExternalSecret"}
    # No token Secret: the workloads authenticate with their ServiceAccount tokens.
    assert set(externals) == {"taskplane-database", "taskplane-platform"}
    assert store["apiVersion"] == "external-secrets.io/v1"
    aws = store["spec"]["provider"]["aws"]
    assert aws == {"service": "SecretsManager", "region": "region-1"}, (
        "no static credentials: Pod Identity"
    )
    for name, external in externals.items():
        spec = external["spec"]
        assert external["apiVersion"] == "external-secrets.io/v1"
        assert spec["secretStoreRef"] == {"kind": "SecretStore", "name": store["metadata"]["name"]}
        assert spec["target"]["name"] == name
        assert spec["refreshInterval"] == "1h"

    database = externals["taskplane-database"]["spec"]
    # Helm must pass the External Secrets template through untouched
    assert database["target"]["template"]["data"] == {"DATABASE_URL": URL_TEMPLATE}
    assert database["dataFrom"] == [{"extract": {"key": DB_ARN}}]

    platform = externals["taskplane-platform"]["spec"]
    assert platform["target"]["template"]["mergePolicy"] == "Merge"
    assert platform["target"]["template"]["data"] == {
        "auth-bootstrap-admin-email": "admin@example.com"
    }
    fetched = {d["secretKey"]: d["remoteRef"] for d in platform["data"]}
    assert fetched == {
        "cursor-secret": {"key": PLATFORM_ARN, "property": "cursor-secret"},
        "auth-key-encryption-key": {"key": PLATFORM_ARN, "property": "auth-key-encryption-key"},
        "auth-bootstrap-admin-password": {
            "key": PLATFORM_ARN,
            "property": "auth-bootstrap-admin-password",
        },
    }


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ("database", "secretArn", "database.secretArn is required"),
        ("platform", "secretArn", "platform.secretArn is required"),
        ("platform", "bootstrapAdminEmail", "platform.bootstrapAdminEmail is required"),
    ],
)
def test_chart_refuses_missing_inputs(section: str, key: str, message: str) -> None:
    values = yaml.safe_load(yaml.safe_dump(VALUES))
    values[section][key] = ""
    with pytest.raises(HelmRenderError, match=message):
        render(values)


def test_module_builds_the_url_template_from_outputs(docs: dict[str, HclDoc]) -> None:
    template = expr(doc(docs, "modules/platform/main.tf").locals()["database_url_template"])
    assert template.startswith("postgresql://{{.username|urlquery}}:{{.password|urlquery}}@")
    for part in ("var.database_host", "var.database_port", "var.database_name", "sslmode=require"):
        assert part in template
