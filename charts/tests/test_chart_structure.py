"""What the chart promises beyond schema validity, migrations, secrets and RBAC: migration
ordering, the services' env contract, service-account tokens and the operator's rights."""

from __future__ import annotations

import base64

from .conftest import (
    DB_CLIENT,
    REPO,
    SERVICES,
    env_of,
    find,
    hook,
    objects,
)

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
