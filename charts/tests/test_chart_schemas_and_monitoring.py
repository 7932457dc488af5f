"""What the chart promises beyond schema validity, schemas, monitoring and NOTES: schemas in
sync with defaults, dashboards, alerts, instrumentation, helm tests and NOTES."""

from __future__ import annotations

import json

import yaml

from .conftest import (
    CHART_DIR,
    SERVICES,
    SUBCHARTS,
    env_of,
    find,
    hook,
    objects,
)

# --- schemas, monitoring, NOTES ---------------------------------------------------------


def test_every_component_is_one_schema_definition_with_visible_defaults():
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    components = sorted(values["components"])
    assert set(components) >= {*SERVICES, "notification-service", "console", "operator"}
    assert schema["properties"]["components"]["additionalProperties"] == {
        "$ref": "#/$defs/componentIdentity"
    }
    # no component is found implicitly: the map is the only place a module is named
    assert not [k for k, v in values.items() if isinstance(v, dict) and "component" in v]
    for key in [*components, "componentDefaults"]:
        entry = schema["properties"][key]
        assert entry["$ref"] == "#/$defs/component", key
        assert entry["unevaluatedProperties"] is False, key
    definition = schema["$defs"]["component"]["properties"]
    # every key a component takes has its default in values.yaml (helm show values)
    assert set(values["componentDefaults"]) == set(definition) - {"enabled"}
    assert not list(SUBCHARTS.glob("*/templates/_defaults.tpl"))
    assert len(list(CHART_DIR.rglob("*.schema.json"))) == 2  # umbrella, postgresql


def test_no_hollow_subchart():
    """Every in-tree subchart renders something or is the library the others share."""
    for chart_yaml in SUBCHARTS.glob("*/Chart.yaml"):
        meta = yaml.safe_load(chart_yaml.read_text())
        templates = list((chart_yaml.parent / "templates").glob("*.yaml"))
        assert meta.get("type") == "library" or templates, chart_yaml.parent.name
    assert sorted(p.name for p in SUBCHARTS.iterdir()) == ["common", "postgresql"]


def test_component_defaults_merge_into_every_component(render):
    """A default set once reaches every component; a component's own value, even false or
    0, wins over it; lists replace."""
    out = render(
        {
            "componentDefaults": {
                "terminationGracePeriodSeconds": 45,
                "podLabels": {"team": "platform"},
                "autoscaling": {"maxReplicas": 9},
            },
            "user-service": {"autoscaling": {"enabled": False}, "replicaCount": 0},
        }
    )
    docs = [
        obj
        for source, text in out.items()
        if source.endswith(".yaml")
        for obj in yaml.safe_load_all(text)
        if obj
    ]
    deployments = {o["metadata"]["name"]: o for o in docs if o["kind"] == "Deployment"}
    hpas = {o["metadata"]["name"]: o for o in docs if o["kind"] == "HorizontalPodAutoscaler"}
    for name in [*SERVICES, "operator"]:
        pod = deployments[f"taskplane-{name}"]["spec"]["template"]
        assert pod["spec"]["terminationGracePeriodSeconds"] == 45, name
        assert pod["metadata"]["labels"]["team"] == "platform", name
    assert hpas["taskplane-task-service"]["spec"]["maxReplicas"] == 9
    assert "taskplane-user-service" not in hpas
    assert deployments["taskplane-user-service"]["spec"]["replicas"] == 0
    assert "taskplane-operator" not in hpas  # its own autoscaling.enabled: false


def test_every_schema_is_strict_on_our_keys():
    for path in [CHART_DIR / "values.schema.json", *SUBCHARTS.glob("*/values.schema.json")]:
        schema = json.loads(path.read_text())
        assert schema["additionalProperties"] is False, path
    umbrella = json.loads((CHART_DIR / "values.schema.json").read_text())
    for upstream in ("kube-prometheus-stack", "jaeger", "opentelemetry-operator", "loki", "alloy"):
        assert "additionalProperties" not in umbrella["properties"][upstream], "passthrough"


METRICS = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "taskplane_queue_available",
    "taskplane_queue_in_flight",
    "taskplane_queue_oldest_available_age_seconds",
    "taskplane_queue_completed_total",
    "taskplane_queue_failed_total",
    "taskplane_queue_dead",
}


def test_dashboards_are_configmaps_from_the_json_files(manifests):
    objs = objects(manifests, "default")
    maps = [
        o
        for o in objs
        if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    files = sorted((CHART_DIR / "dashboards").glob("*.json"))
    assert len(files) >= 2
    assert len(maps) == len(files)
    used = set()
    for path in files:
        (cm,) = [m for m in maps if path.name in m["data"]]
        assert cm["data"][path.name] == path.read_text().rstrip("\n")
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"]
        assert dashboard["title"]
        assert dashboard["panels"]
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        used |= {m for m in METRICS if any(m in e for e in exprs)}
    assert used == METRICS, f"dashboards never chart {METRICS - used}"
    assert not [
        o
        for o in objects(manifests, "minimal")
        if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("grafana_dashboard")
    ]


def test_alerts_cover_the_promised_conditions(manifests):
    rule = find(objects(manifests, "default"), "PrometheusRule", "taskplane-taskplane")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {
        "TaskplaneServiceDown",
        "TaskplaneApiErrorBudgetBurn",
        "TaskplaneApiLatencyBudgetBurn",
        "TaskplaneQueueBacklogGrowing",
        "TaskplaneQueueOldestTaskAgeHigh",
        "TaskplaneDeadTasksGrowing",
        "TaskplaneWorkerCrashLooping",
        "TaskplaneWorkersNotReady",
        "TaskplaneNotificationLag",
        "TaskplaneDatabaseNotReady",
    } <= set(alerts)
    assert "> 300" in alerts["TaskplaneQueueOldestTaskAgeHigh"]["expr"]
    assert 'status=~"5.."' in alerts["TaskplaneApiErrorBudgetBurn"]["expr"]
    assert all(r["labels"]["severity"] in ("warning", "critical") for r in alerts.values())


def test_instrumentation_is_a_post_install_hook_after_the_otel_operator(manifests):
    inst = find(objects(manifests, "full"), "Instrumentation", "taskplane-taskplane")
    hooks, weight = hook(inst)
    assert hooks == {"post-install", "post-upgrade"}
    assert weight > 0
    (_c,) = find(objects(manifests, "full"), "Deployment", "taskplane-task-service")["spec"][
        "template"
    ]["spec"]["containers"]
    assert find(objects(manifests, "full"), "Deployment", "taskplane-task-service")["spec"][
        "template"
    ]["metadata"]["annotations"]["instrumentation.opentelemetry.io/inject-python"]


def test_helm_tests_call_readyz_and_run_a_task(manifests):
    objs = objects(manifests, "default")
    tests = [o for o in objs if "test" in hook(o)[0]]
    pods = {o["metadata"]["name"]: o for o in tests if o["kind"] == "Pod"}
    for svc in SERVICES:
        pod = pods[f"taskplane-{svc}-test-readyz"]
        assert pod["spec"]["containers"][0]["command"][-1].endswith("/readyz")
    smoke = pods["taskplane-smoke-test"]
    queue = find(objs, "TaskQueue", "taskplane-smoke")
    assert hook(queue)[1] < hook(smoke)[1], "the queue exists before the pod runs"
    env = env_of(smoke["spec"]["containers"][0])
    assert env["TASKPLANE_SMOKE_QUEUE"]["value"] == "taskplane.taskplane-smoke"
    script = find(objs, "ConfigMap", "taskplane-smoke")["data"]["smoke.py"]
    assert script == (CHART_DIR / "files" / "smoke.py").read_text().rstrip("\n")
    compile(script, "smoke.py", "exec")
    assert not [
        o
        for o in objects(manifests, "production")
        if o["kind"] == "TaskQueue" and "test" not in hook(o)[0]
    ], "no TaskQueue outside helm test"


def test_notes_explain_login_api_grafana_jaeger_and_queues(rendered):
    notes = rendered["default"]["taskplane/templates/NOTES.txt"]
    for needle in (
        "port-forward svc/taskplane-task-service 8003:8003",
        "/api/v1/auth/token",
        "svc/taskplane-grafana",
        "svc/taskplane-jaeger-query",
        "k8s/samples/",
        "helm test taskplane",
    ):
        assert needle in notes, needle
    minimal = rendered["minimal"]["taskplane/templates/NOTES.txt"]
    assert "grafana" not in minimal.lower()
    assert "jaeger" not in minimal.lower()


def test_notification_service_reaches_webhooks_and_smtp_but_not_internal_ranges(manifests):
    objs = objects(manifests, "default")
    policy = find(objs, "NetworkPolicy", "taskplane-notification-service")
    assert "Egress" in policy["spec"]["policyTypes"]
    (rule,) = policy["spec"]["egress"]
    assert {p["port"] for p in rule["ports"]} == {443, 80, 587, 465, 25}
    blocks = {peer["ipBlock"]["cidr"]: set(peer["ipBlock"]["except"]) for peer in rule["to"]}
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= blocks[
        "0.0.0.0/0"
    ]
    assert "fc00::/7" in blocks["::/0"]
    deployment = find(objs, "Deployment", "taskplane-notification-service")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8004, "protocol": "TCP"}]
    env = env_of(container)
    assert "TASKPLANE_SERVICE_TOKEN" not in env
    assert env["TASKPLANE_TOKEN_FILE"]["value"] == "/var/run/secrets/taskplane/serviceaccount/token"
    auth = env_of(
        find(objs, "Deployment", "taskplane-auth-service")["spec"]["template"]["spec"][
            "containers"
        ][0]
    )
    assert auth["TASKPLANE_AUTH_KUBERNETES_NOTIFIERS"]["value"] == (
        "taskplane:taskplane-notification-service"
    )
    assert env["TASKPLANE_USER_SERVICE_URL"]["value"] == "http://taskplane-user-service:8002"
    find(objs, "ServiceMonitor", "taskplane-notification-service")
