"""Logs and the Grafana links between metrics, traces and logs: the datasource
provisioning the chart renders is valid against Grafana's provisioning format
(schemas/grafana-datasources.schema.json), every uid it links to is provisioned, and the
Alloy log pipeline and the Loki/Alloy subcharts come and go with their flags."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from taskplane_client.observability import configure_logging

SCHEMA = Path(__file__).resolve().parent / "schemas" / "grafana-datasources.schema.json"
CHART_YAML = Path(__file__).resolve().parents[1] / "taskplane" / "Chart.yaml"
#: What each kind of link must point at.
TRACING = {"jaeger", "tempo", "zipkin"}
Render = Callable[[dict[str, Any]], dict[str, str]]


def docs_of(rendered: dict[str, str]) -> list[dict[str, Any]]:
    return [
        obj
        for source, text in rendered.items()
        if source.endswith(".yaml")
        for obj in yaml.safe_load_all(text)
        if obj
    ]


def provisioning(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The datasource file of the ConfigMap Grafana's sidecar loads, if rendered."""
    maps = [
        o
        for o in docs
        if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("grafana_datasource") == "1"
    ]
    if not maps:
        return None
    (cm,) = maps
    (text,) = cm["data"].values()
    parsed: dict[str, Any] = yaml.safe_load(text)
    return parsed


def grafana_expand(value: str) -> str:
    """Grafana expands $NAME and ${NAME} from its environment in provisioning files and
    reads $$ as a literal $; no taskplane value means an environment variable."""

    def one(match: re.Match[str]) -> str:
        assert match.group(0) == "$$", f"unescaped {match.group(0)!r} in {value!r}"
        return "$"

    return re.sub(r"\$\$|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", one, value)


def links(datasource: dict[str, Any]) -> list[tuple[str, str, set[str]]]:
    """(what, target uid, the types it may be) for every link a datasource makes."""
    data = datasource.get("jsonData", {})
    found = [
        ("exemplar", d["datasourceUid"], TRACING)
        for d in data.get("exemplarTraceIdDestinations", [])
        if "datasourceUid" in d
    ]
    found += [("derived field", d["datasourceUid"], TRACING) for d in data.get("derivedFields", [])]
    if "tracesToLogsV2" in data:
        found.append(("traces to logs", data["tracesToLogsV2"]["datasourceUid"], {"loki"}))
    if "tracesToMetrics" in data:
        found.append(
            ("traces to metrics", data["tracesToMetrics"]["datasourceUid"], {"prometheus"})
        )
    return found


def check_provisioning(file: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Schema, unique names and uids, one default, every link resolved; by uid."""
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(file)
    sources = file["datasources"]
    by_uid = {d["uid"]: d for d in sources}
    assert len(by_uid) == len(sources), "duplicate uid"
    assert len({d["name"] for d in sources}) == len(sources), "duplicate name"
    assert sum(bool(d.get("isDefault")) for d in sources) <= 1
    for source in sources:
        for what, uid, kinds in links(source):
            assert uid in by_uid, f"{source['name']}: {what} -> {uid!r} is not provisioned"
            assert by_uid[uid]["type"] in kinds, f"{source['name']}: {what} -> {uid!r}"
    return by_uid


def test_default_profile_links_metrics_traces_and_logs(manifests: dict[str, Any]) -> None:
    file = provisioning([obj for _, obj in manifests["default"]])
    assert file is not None
    by_uid = check_provisioning(file)
    assert {d["type"] for d in by_uid.values()} == {"prometheus", "jaeger", "loki"}
    made = {(source["type"], what) for source in by_uid.values() for what, _, _ in links(source)}
    assert made == {
        ("prometheus", "exemplar"),
        ("jaeger", "traces to logs"),
        ("jaeger", "traces to metrics"),
        ("loki", "derived field"),
    }
    prometheus, jaeger, loki = (by_uid[u] for u in ("prometheus", "jaeger", "loki"))
    # The exemplar label is the one the services put on their latency buckets.
    assert prometheus["jsonData"]["exemplarTraceIdDestinations"][0]["name"] == "trace_id"
    assert prometheus["url"] == "http://taskplane-kube-prometheus-prometheus:9090"
    assert jaeger["url"] == "http://taskplane-jaeger-query:16686"
    assert loki["url"] == "http://taskplane-loki:3100"
    # Trace -> logs filters by the span's service: the Loki label the collector sets.
    to_logs = jaeger["jsonData"]["tracesToLogsV2"]
    assert to_logs["filterByTraceID"] is True
    assert to_logs["tags"] == [{"key": "service.name", "value": "service"}]
    queries = [grafana_expand(q["query"]) for q in jaeger["jsonData"]["tracesToMetrics"]["queries"]]
    assert all("{$__tags}" in q for q in queries), queries
    (field,) = loki["jsonData"]["derivedFields"]
    assert grafana_expand(field["url"]) == "${__value.raw}"


def test_derived_field_finds_the_trace_id_in_a_real_log_line(
    capsys: pytest.CaptureFixture[str], manifests: dict[str, Any]
) -> None:
    """The Loki derived field's regex, applied to a line of the services' own JSON
    formatter written inside a span, extracts that span's trace id."""
    file = provisioning([obj for _, obj in manifests["default"]])
    assert file is not None
    (loki,) = [d for d in file["datasources"] if d["type"] == "loki"]
    (field,) = loki["jsonData"]["derivedFields"]
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("chart-test", "INFO", "json")
        tracer = TracerProvider().get_tracer(__name__)
        with tracer.start_as_current_span("request") as span:
            logging.getLogger("chart-test").info("inside a request")
            trace_id = format(span.get_span_context().trace_id, "032x")
        logging.getLogger("chart-test").info("outside")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    inside, outside = capsys.readouterr().out.strip().splitlines()[-2:]
    assert json.loads(inside)["trace_id"] == trace_id
    match = re.search(field["matcherRegex"], inside)
    assert match is not None
    assert match.group(1) == trace_id
    assert re.search(field["matcherRegex"], outside) is None
    assert trace.get_current_span().get_span_context().is_valid is False


@pytest.mark.parametrize(
    ("loki", "alloy", "jaeger"),
    [(True, True, True), (False, False, True), (True, False, False), (False, True, False)],
)
def test_loki_and_the_collector_on_and_off(
    render: Render, loki: bool, alloy: bool, jaeger: bool
) -> None:
    docs = docs_of(
        render(
            {"loki": {"enabled": loki}, "alloy": {"enabled": alloy}, "jaeger": {"enabled": jaeger}}
        )
    )
    for obj in docs:
        try:
            kubernetes_validate.validate(obj, "1.33", strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            continue
    file = provisioning(docs)
    assert file is not None
    by_uid = check_provisioning(file)
    assert ("loki" in by_uid) is loki
    assert ("jaeger" in by_uid) is jaeger
    collector = [o for o in docs if o["kind"] == "ConfigMap" and "config.alloy" in o["data"]]
    assert len(collector) == int(alloy)
    if alloy:
        config = collector[0]["data"]["config.alloy"]
        assert 'url = "http://taskplane-loki:3100/loki/api/v1/push"' in config
        assert "stage.structured_metadata" in config
        assert 'regex         = "taskplane;.*|.*;taskplane-worker"' in config
        assert config.count("{") == config.count("}")


def test_datasources_follow_their_backends_and_urls(render: Render) -> None:
    """Backends elsewhere (the production shape): datasources from the urls given, none
    at all without any."""
    off = {
        "kube-prometheus-stack": {"enabled": False},
        "jaeger": {"enabled": False},
        "loki": {"enabled": False},
    }
    assert provisioning(docs_of(render(off))) is None
    urls = {
        "monitoring": {
            "datasources": {
                "prometheus": {"url": "http://prometheus.monitoring:9090"},
                "loki": {"url": "https://loki.example.internal"},
            }
        }
    }
    file = provisioning(docs_of(render({**off, **urls})))
    assert file is not None
    by_uid = check_provisioning(file)
    assert by_uid["prometheus"]["url"] == "http://prometheus.monitoring:9090"
    assert by_uid["loki"]["url"] == "https://loki.example.internal"
    assert "jaeger" not in by_uid
    assert "exemplarTraceIdDestinations" not in by_uid["prometheus"]["jsonData"]
    assert (
        provisioning(docs_of(render({"monitoring": {"datasources": {"enabled": False}}}))) is None
    )


def test_the_schema_and_the_uid_check_reject_mistakes(manifests: dict[str, Any]) -> None:
    file = provisioning([obj for _, obj in manifests["default"]])
    assert file is not None
    typo = json.loads(json.dumps(file))
    typo["datasources"][1]["jsonData"]["tracesToLogsV2"]["filterByTraceId"] = True
    with pytest.raises(jsonschema.ValidationError):
        check_provisioning(typo)
    dangling = json.loads(json.dumps(file))
    dangling["datasources"][2]["jsonData"]["derivedFields"][0]["datasourceUid"] = "tempo"
    with pytest.raises(AssertionError, match="not provisioned"):
        check_provisioning(dangling)
    with pytest.raises(AssertionError, match="unescaped"):
        grafana_expand("sum(rate(x{$__tags}[5m]))")


@pytest.mark.parametrize(
    ("release", "stack", "url"),
    [
        ("taskplane", {}, "http://taskplane-kube-prometheus-prometheus:9090"),
        ("kube-prometheus-stack-tp", {}, "http://kube-prometheus-stack-tp-prometheus:9090"),
        ("taskplane", {"fullnameOverride": "kps"}, "http://kps-prometheus:9090"),
    ],
)
def test_prometheus_url_follows_the_stack_naming_rule(
    release: str, stack: dict[str, Any], url: str
) -> None:
    """kube-prometheus-stack names its Prometheus Service after a 26-character fullname
    (the release, or release-chart, or fullnameOverride): the datasource follows it."""
    values = {"kube-prometheus-stack": {"enabled": True, **stack}}
    with helm.Chart.load(CHART_YAML.parent) as chart:
        rendered = chart.render(values, name=release, namespace="taskplane", is_install=True)
    file = provisioning(docs_of(rendered))
    assert file is not None
    (prometheus,) = [d for d in file["datasources"] if d["type"] == "prometheus"]
    assert prometheus["url"] == url


def test_loki_and_alloy_are_upstream_dependencies_behind_flags() -> None:
    dependencies = {d["name"]: d for d in yaml.safe_load(CHART_YAML.read_text())["dependencies"]}
    for name in ("loki", "alloy"):
        assert dependencies[name]["repository"] == "https://grafana.github.io/helm-charts"
        assert dependencies[name]["condition"] == f"{name}.enabled"
