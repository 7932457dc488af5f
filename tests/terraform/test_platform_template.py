"""The contract between Terraform's platform module and the taskplane chart, the template
side: main.tf passes exactly the template's variables, the stack feeds them from module
outputs, and the chart's strict schema rejects a key it does not know."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from taskplane_testing.terraform import HclDoc, attr, doc, expr

from .conftest import (
    CASES,
    CHART,
    RELEASE,
    render_chart,
    render_template,
    template_inputs,
    template_variables,
    templatefile_arguments,
)

# --------------------------------------------------------------------------- the template


def test_main_tf_passes_exactly_the_template_variables() -> None:
    arguments = templatefile_arguments()
    assert set(arguments) == template_variables(), (
        "templatefile() fails on a missing variable; an unused one is dead wiring"
    )
    for name, value in arguments.items():
        wanted = "local.observability" if name == "observability" else f"var.{name}"
        assert value == wanted, f"{name} = {value}"


def test_helm_release_uses_the_rendered_template(docs: dict[str, HclDoc]) -> None:
    releases = {
        name: body
        for rtype, name, body in doc(docs, "modules/platform/main.tf").resources()
        if rtype == "helm_release"
    }
    # python-hcl2 quotes the interpolation inside the list: normalise it away
    values = expr(attr(releases["taskplane"], "values")).replace("'${", "").replace("}'", "")
    assert values == "concat([local.taskplane_values],var.extra_values)"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_envs_choose_the_chart_environment(docs: dict[str, HclDoc], env: str) -> None:
    stack = dict(doc(docs, f"envs/{env}/main.tf").labeled("module"))["stack"]
    assert attr(stack, "production") is (env == "prod")
    call = dict(doc(docs, "modules/stack/main.tf").labeled("module"))["platform"]
    assert expr(attr(call, "environment")) == 'var.production?"production":"development"'
    assert expr(attr(call, "observability_enabled")) == "var.observability_enabled"
    assert isinstance(attr(stack, "observability_enabled"), bool)


def test_the_stack_feeds_the_template_from_module_outputs(docs: dict[str, HclDoc]) -> None:
    call = dict(doc(docs, "modules/stack/main.tf").labeled("module"))["platform"]
    assert expr(attr(call, "image_registry")) == "module.registry.registry_host"
    assert expr(attr(call, "image_repository_prefix")) == "module.registry.repository_prefix"
    assert expr(attr(call, "secret_arns")["platform"]) == "module.secrets.platform_secret_arn"
    assert expr(attr(call, "kubernetes_issuer_url")) == "module.cluster.cluster_oidc_issuer_url"
    outputs = dict(doc(docs, "modules/cluster/outputs.tf").labeled("output"))
    assert expr(attr(outputs["cluster_oidc_issuer_url"], "value")) == (
        "module.eks.cluster_oidc_issuer_url"
    )


def test_an_unknown_key_fails_the_render(defaults: dict[str, Any]) -> None:
    """The check above is only as good as the chart's schema: prove it bites."""
    values = render_template(template_inputs(CASES[1], defaults))
    values["database"] = {"external": {"enabled": True, "existingSecret": "taskplane-database"}}
    with pytest.raises(helm.HelmError, match="additional properties 'database' not allowed"):
        render_chart(CHART, values, RELEASE)
