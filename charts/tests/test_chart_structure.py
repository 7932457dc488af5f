"""What the chart promises beyond schema validity: migrations ordering, secrets,
network policy coverage, RBAC, schemas in sync, dashboards and NOTES."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "charts" / "taskplane"
SUBCHARTS = CHART_DIR / "charts"
SERVICES = ["auth-service", "user-service", "task-service"]
DB_CLIENT = {"taskplane.io/database-client": "true"}


def objects(manifests, profile: str) -> list[dict[str, Any]]:
    return [obj for _, obj in manifests[profile]]


def find(objs, kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def hook(obj) -> tuple[set[str], int]:
    ann = obj["metadata"].get("annotations", {})
    return set(ann.get("helm.sh/hook", "").split(",")) - {""}, int(
        ann.get("helm.sh/hook-weight", 0)
    )


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert not selector.get("matchExpressions"), "tests only model matchLabels"
    return selector.get("matchLabels", {}).items() <= labels.items()


# --- migrations and secrets -------------------------------------------------------------


def test_production_migrations_are_single_pod_hook_jobs_after_their_secrets(manifests):
    objs = objects(manifests, "production")
    secret = find(objs, "Secret", "taskplane-taskplane")
    secret_hooks, secret_weight = hook(secret)
    sa_hooks, sa_weight = hook(find(objs, "ServiceAccount", "taskplane-taskplane-hooks"))
    assert {"pre-install", "pre-upgrade"} <= secret_hooks
    assert {"pre-install"} <= sa_hooks
    for svc in SERVICES:
        job = find(objs, "Job", f"taskplane-{svc}-migrate")
        hooks, weight = hook(job)
        assert hooks == {"pre-install", "pre-upgrade"}
        assert sa_weight < secret_weight < weight, "Secret and SA must exist before the Job"
        assert job["spec"]["parallelism"] == 1
        assert job["spec"]["completions"] == 1
        pod = job["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "taskplane-taskplane-hooks"
        (container,) = pod["containers"]
        assert container["args"] == ["migrate"]
        assert container["command"][:2] == ["python", "-m"]
        env = env_of(container)
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "taskplane-database",
            "key": "DATABASE_URL",
        }
        assert job["spec"]["template"]["metadata"]["labels"].items() >= DB_CLIENT.items()
        deployment = find(objs, "Deployment", f"taskplane-{svc}")
        assert "initContainers" not in deployment["spec"]["template"]["spec"]
    assert not [o for o in objs if o["kind"] == "StatefulSet"], "no in-chart database"


def test_in_chart_database_migrates_from_an_init_container(manifests):
    objs = objects(manifests, "default")
    assert not [o for o in objs if o["kind"] == "Job"]
    for svc in SERVICES:
        spec = find(objs, "Deployment", f"taskplane-{svc}")["spec"]["template"]["spec"]
        (init,) = spec["initContainers"]
        assert init["name"] == "migrate"
        assert init["args"] == ["migrate"]
        assert env_of(init)["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == (
            "taskplane-taskplane-database"
        )
    db_secret = find(objs, "Secret", "taskplane-taskplane-database")
    url = base64.b64decode(db_secret["data"]["DATABASE_URL"]).decode()
    assert url.startswith("postgresql://taskplane:")
    assert "@taskplane-postgresql:5432/" in url


def test_service_env_contract(manifests):
    for profile in ("default", "production"):
        objs = objects(manifests, profile)
        for svc in SERVICES:
            (c,) = find(objs, "Deployment", f"taskplane-{svc}")["spec"]["template"]["spec"][
                "containers"
            ]
            env = env_of(c)
            assert env["TASKPLANE_AUTH_DISABLED"]["value"] == "false"
            assert env["TASKPLANE_JWKS_URL"]["value"] == (
                "http://taskplane-auth-service:8001/.well-known/jwks.json"
            )
            assert env["OTEL_SERVICE_NAME"]["value"] == svc
            assert env["TASKPLANE_ENVIRONMENT"]["value"] == (
                "production" if profile == "production" else "development"
            )
            assert {
                "TASKPLANE_JWT_ISSUER",
                "TASKPLANE_JWT_AUDIENCE",
                "TASKPLANE_LOG_LEVEL",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "DATABASE_URL",
            } <= set(env)
            assert c["args"] == ["serve"]
            assert c["command"] == ["python", "-m", svc.replace("-", "_")]
            for e in env.values():
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and e["name"] != "DATABASE_URL":
                    # production: a missing key must stop the pod, never default silently
                    assert ref.get("optional", False) is (profile != "production"), e
    prod = objects(manifests, "production")
    (task,) = find(prod, "Deployment", "taskplane-task-service")["spec"]["template"]["spec"][
        "containers"
    ]
    assert env_of(task)["TASKPLANE_CURSOR_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == (
        "cursor-secret"
    )
    secret = find(prod, "Secret", "taskplane-taskplane")
    assert {
        "cursor-secret",
        "auth-key-encryption-key",
        "auth-bootstrap-admin-email",
        "auth-bootstrap-admin-password",
    } <= set(secret["data"])


def test_no_token_secret_for_workers_or_the_operator(manifests):
    """Workers and the operator authenticate with their projected ServiceAccount tokens."""
    for profile in manifests:
        objs = objects(manifests, profile)
        secrets = [o for o in objs if o["kind"] == "Secret"]
        assert [s["metadata"]["name"] for s in secrets if "token" in s["metadata"]["name"]] == []
        for secret in secrets:
            assert not {"operator-token", "worker-token"} & set(secret.get("data") or {}), profile
        (c,) = find(objs, "Deployment", "taskplane-operator")["spec"]["template"]["spec"][
            "containers"
        ]
        assert not any("secretKeyRef" in str(e) for e in c["env"] if "TOKEN" in e["name"])


def test_operator_presents_a_projected_serviceaccount_token(manifests):
    for profile in manifests:
        pod = find(objects(manifests, profile), "Deployment", "taskplane-operator")["spec"][
            "template"
        ]["spec"]
        (c,) = pod["containers"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        (source,) = volumes["taskplane-token"]["projected"]["sources"]
        assert source == {
            "serviceAccountToken": {
                "audience": "taskplane",
                "expirationSeconds": 3600,
                "path": "token",
            }
        }, profile
        assert {
            "name": "taskplane-token",
            "mountPath": "/var/run/secrets/taskplane/serviceaccount",
            "readOnly": True,
        } in c["volumeMounts"]
        env = env_of(c)
        assert env["TASKPLANE_TOKEN_FILE"]["value"] == (
            "/var/run/secrets/taskplane/serviceaccount/token"
        )
        assert env["TASKPLANE_WORKER_TOKEN_AUDIENCE"]["value"] == "taskplane"
        assert env["TASKPLANE_WORKER_TOKEN_EXPIRATION_S"]["value"] == "3600"


def _auth_service(objs):
    pod = find(objs, "Deployment", "taskplane-auth-service")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return pod, env_of(c)


def test_auth_service_exchanges_serviceaccount_tokens_by_oidc_by_default(manifests):
    objs = objects(manifests, "default")
    pod, env = _auth_service(objs)
    assert env["TASKPLANE_AUTH_KUBERNETES_ISSUER"]["value"] == (
        "https://kubernetes.default.svc.cluster.local"
    )
    assert env["TASKPLANE_AUTH_KUBERNETES_AUDIENCE"]["value"] == "taskplane"
    assert env["TASKPLANE_AUTH_KUBERNETES_MODE"]["value"] == "oidc"
    # The release namespace (the test renders into "taskplane") and the operator's SA.
    assert env["TASKPLANE_AUTH_KUBERNETES_OPERATORS"]["value"] == "taskplane:taskplane-operator"
    assert env["TASKPLANE_AUTH_KUBERNETES_CA_FILE"]["value"] == (
        "/var/run/secrets/taskplane/kubernetes-ca/ca.crt"
    )
    volumes = {v["name"]: v for v in pod["volumes"]}
    (source,) = volumes["kubernetes-ca"]["projected"]["sources"]
    assert source["configMap"]["name"] == "kube-root-ca.crt"
    assert pod["automountServiceAccountToken"] is False  # oidc needs no API token
    roles = [o["metadata"]["name"] for o in objs if o["kind"] == "ClusterRole"]
    assert not [name for name in roles if "tokenreview" in name]
    discovery = find(objs, "ClusterRoleBinding", "taskplane-auth-service-issuer-discovery")
    assert discovery["roleRef"]["name"] == "system:service-account-issuer-discovery"
    policy = find(objs, "NetworkPolicy", "taskplane-auth-service")
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert {443, 6443} <= ports, "egress to the API server for the issuer's discovery and JWKS"


def test_tokenreview_mode_grants_the_auth_service_create_on_tokenreviews_only(manifests):
    objs = objects(manifests, "full")
    pod, env = _auth_service(objs)
    assert env["TASKPLANE_AUTH_KUBERNETES_MODE"]["value"] == "tokenreview"
    assert "TASKPLANE_AUTH_KUBERNETES_CA_FILE" not in env
    assert pod["automountServiceAccountToken"] is True  # its token calls TokenReview
    role = find(objs, "ClusterRole", "taskplane-auth-service-tokenreview")
    assert role["rules"] == [
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["tokenreviews"],
            "verbs": ["create"],
        }
    ]
    binding = find(objs, "ClusterRoleBinding", "taskplane-auth-service-tokenreview")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "taskplane-auth-service", "namespace": "taskplane"}
    ]
    assert not [o for o in objs if o["metadata"]["name"].endswith("issuer-discovery")]


def test_operator_env_and_rbac(manifests):
    objs = objects(manifests, "full")
    (c,) = find(objs, "Deployment", "taskplane-operator")["spec"]["template"]["spec"]["containers"]
    env = env_of(c)
    assert env["TASKPLANE_API_URL"]["value"] == "http://taskplane-task-service:8003"
    assert env["TASKPLANE_AUTH_URL"]["value"] == "http://taskplane-auth-service:8001"
    # Worker pods run in the TaskQueues' namespaces (team-a here): qualified Service names.
    assert env["TASKPLANE_WORKER_API_URL"]["value"] == (
        "http://taskplane-task-service.taskplane.svc:8003"
    )
    assert env["TASKPLANE_WORKER_AUTH_URL"]["value"] == (
        "http://taskplane-auth-service.taskplane.svc:8001"
    )
    assert env["TASKPLANE_WORKER_IMAGE"]["value"] == "docker.io/taskplane/worker:0.1.0"
    assert env["TASKPLANE_WATCH_NAMESPACES"]["value"] == "taskplane,team-a"
    assert env["TASKPLANE_MONITORING_ENABLED"]["value"] == "true"
    assert "TASKPLANE_TOKEN" not in env
    assert c["command"] == ["python", "-m", "taskplane_operator"]
    assert "args" not in c
    assert {p["containerPort"] for p in c["ports"]} == {8080, 9090}
    role = find(objs, "ClusterRole", "taskplane-operator")
    rules = {(r["apiGroups"][0], r["resources"][0]): sorted(r["verbs"]) for r in role["rules"]}
    assert rules == operator_rbac(), "the ClusterRole grants exactly operator/README.md's table"


def operator_rbac() -> dict[tuple[str, str], list[str]]:
    """The operator's RBAC table (operator/README.md), which its e2e test checks its calls
    against: one source for what the operator does and what the chart grants."""
    readme = (REPO / "operator" / "README.md").read_text()
    section = readme.split("## RBAC", 1)[1].split("\n## ", 1)[0]
    table: dict[tuple[str, str], list[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in {"API group", "---"} or set(cells[0]) <= {"-", " "}:
            continue
        group = "" if cells[0] == '""' else cells[0]
        table[(group, cells[1])] = sorted(v.strip() for v in cells[2].split(","))
    assert table, "operator/README.md has no RBAC table"
    return table


# --- network policies -------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["default", "production", "full"])
def test_network_policies_deny_by_default_and_allow_explicitly(profile, manifests):
    objs = objects(manifests, profile)
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    deny = find(objs, "NetworkPolicy", "taskplane-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"]
    assert "egress" not in deny["spec"]
    egress = find(objs, "NetworkPolicy", "taskplane-allow-egress")["spec"]["egress"]
    dns = egress[0]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert {"port": 8001, "endPort": 8004, "protocol": "TCP"} in egress[1]["ports"]
    otlp_ports = {p["port"] for rule in egress[2:] for p in rule["ports"]}
    assert 4318 in otlp_ports
    db = find(objs, "NetworkPolicy", "taskplane-allow-database")
    assert db["spec"]["podSelector"]["matchLabels"] == DB_CLIENT
    assert db["spec"]["egress"][0]["ports"] == [{"port": 5432, "protocol": "TCP"}]

    pods = []
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "Job"):
            pods.append((o["metadata"]["name"], o["spec"]["template"]["metadata"]["labels"], o))
        elif o["kind"] == "Pod":
            pods.append((o["metadata"]["name"], o["metadata"]["labels"], o))
    for name, labels, obj in pods:
        assert selects(deny["spec"]["podSelector"], labels), f"{name} escapes default deny"
        if obj["kind"] in ("Deployment", "StatefulSet"):
            ingress = [
                p
                for p in policies
                if p is not deny
                and "Ingress" in p["spec"]["policyTypes"]
                and selects(p["spec"]["podSelector"], labels)
                and p["spec"].get("ingress")
            ]
            assert ingress, f"{name}: no ingress allowed at all"
        if any(c.get("name") == "migrate" for c in _containers(obj)) or obj["kind"] == "Job":
            assert labels.items() >= DB_CLIENT.items(), f"{name} runs migrations: DB egress"
    for svc in SERVICES:
        np_ = find(objs, "NetworkPolicy", f"taskplane-{svc}")
        ports = [p["port"] for rule in np_["spec"]["ingress"] for p in rule["ports"]]
        assert "http" in ports
        froms = [f for rule in np_["spec"]["ingress"] for f in rule["from"]]
        assert {"app.kubernetes.io/name": "taskplane-worker"} in [
            f.get("podSelector", {}).get("matchLabels") for f in froms
        ]
        if profile != "minimal":
            scrape = [
                f
                for f in froms
                if f.get("namespaceSelector", {}).get("matchLabels")
                == {"kubernetes.io/metadata.name": "monitoring"}
            ]
            assert scrape, f"{svc}: Prometheus namespace may not scrape"
    op = find(objs, "NetworkPolicy", "taskplane-operator")
    assert {p["port"] for p in op["spec"]["egress"][0]["ports"]} == {443, 6443}
    workers = find(objs, "NetworkPolicy", "taskplane-workers")
    assert workers["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "taskplane-worker"
    }
    assert any(p["port"] == 9100 for r in workers["spec"]["ingress"] for p in r["ports"])
    # Workers reach the task-service and, to exchange their service token, the auth-service.
    reach = {
        (peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"], port["port"])
        for rule in workers["spec"]["egress"]
        for peer in rule.get("to", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
        for port in rule["ports"]
    }
    assert {("task-service", 8003), ("auth-service", 8001)} <= reach


def _containers(obj):
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
    return spec["containers"] + spec.get("initContainers", [])


def test_network_policies_can_be_switched_off(render):
    out = render({"global": {"networkPolicy": {"enabled": False}}})
    assert "kind: NetworkPolicy" not in "".join(out.values())


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
