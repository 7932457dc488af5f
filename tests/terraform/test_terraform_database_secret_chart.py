"""The platform module's local chart (SecretStore + ExternalSecret), rendered by real Helm."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from helm_python import Chart, HelmRenderError
from tf_hcl import TF_ROOT, HclDoc, doc, expr

CHART = TF_ROOT / "modules" / "platform" / "charts" / "database-secret"
SECRET_ARN = "arn:aws:secretsmanager:region-1:000000000000:secret:rds!db-0123"
URL_TEMPLATE = (
    "postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}"
    "@db.internal:5432/taskplane?sslmode=require"
)


def render(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rendered = Chart.load(CHART).render(
        values, name="taskplane-database-secret", namespace="taskplane"
    )
    objects = [yaml.safe_load(text) for text in rendered.values() if text.strip()]
    return {o["kind"]: o for o in objects if o}


def test_chart_renders_store_and_external_secret() -> None:
    objects = render(
        {
            "region": "region-1",
            "secretArn": SECRET_ARN,
            "targetSecretName": "taskplane-database",
            "refreshInterval": "1h",
            "databaseUrlTemplate": URL_TEMPLATE,
        }
    )
    assert set(objects) == {"SecretStore", "ExternalSecret"}
    store, external = objects["SecretStore"], objects["ExternalSecret"]
    assert store["apiVersion"] == external["apiVersion"] == "external-secrets.io/v1"
    aws = store["spec"]["provider"]["aws"]
    assert aws == {"service": "SecretsManager", "region": "region-1"}, (
        "no static credentials: Pod Identity"
    )

    spec = external["spec"]
    assert spec["secretStoreRef"] == {"kind": "SecretStore", "name": store["metadata"]["name"]}
    assert spec["target"]["name"] == "taskplane-database"
    # Helm must pass the External Secrets template through untouched
    assert spec["target"]["template"]["data"] == {"DATABASE_URL": URL_TEMPLATE}
    assert spec["dataFrom"] == [{"extract": {"key": SECRET_ARN}}]
    assert spec["refreshInterval"] == "1h"


def test_chart_refuses_missing_secret_arn() -> None:
    with pytest.raises(HelmRenderError, match="secretArn is required"):
        render({"region": "region-1", "databaseUrlTemplate": URL_TEMPLATE})


def test_module_builds_the_url_template_from_outputs(docs: dict[str, HclDoc]) -> None:
    template = expr(doc(docs, "modules/platform/main.tf").locals()["database_url_template"])
    assert template.startswith("postgresql://{{.username|urlquery}}:{{.password|urlquery}}@")
    for part in ("var.database_host", "var.database_port", "var.database_name", "sslmode=require"):
        assert part in template
