"""promtool on the rendered PrometheusRule; hadolint and the build-args table of the one
Dockerfile; the operator's sample TaskQueues against its CRD."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "charts/taskplane/crds/taskqueues.taskplane.io.yaml"
DOCKERFILE = REPO / "Dockerfile"
IMAGES_WORKFLOW = REPO / ".github/workflows/images.yml"
# promtool ships in Debian's "prometheus" package; .ci/run installs it when missing.
PROMTOOL = shutil.which("promtool")

RULE_TESTS = Path(__file__).resolve().parent / "rules_test.yaml"


def rule_groups(manifests, profile="default"):
    (rule,) = [o for _, o in manifests[profile] if o["kind"] == "PrometheusRule"]
    return {"groups": rule["spec"]["groups"]}


def test_promtool_checks_and_unit_tests_the_alert_rules(manifests, tmp_path):
    assert PROMTOOL, "promtool missing: apt-get install prometheus (.ci/run does it)"
    for profile in ("default", "production", "full"):
        rules = tmp_path / f"{profile}.yaml"
        rules.write_text(yaml.safe_dump(rule_groups(manifests, profile), sort_keys=False))
        check = subprocess.run(
            [PROMTOOL, "check", "rules", str(rules)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "SUCCESS: 13 rules found" in check.stdout + check.stderr
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups(manifests), sort_keys=False))
    (tmp_path / "tests.yaml").write_text(RULE_TESTS.read_text())
    unit = subprocess.run(
        [PROMTOOL, "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert unit.returncode == 0, unit.stdout + unit.stderr


def test_dockerfile_is_hadolint_clean():
    hadolint = Path(sys.executable).with_name("hadolint")
    proc = subprocess.run(
        [str(hadolint), "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout or "[]") == [], proc.stdout


def test_one_dockerfile_multi_stage_non_root_without_build_tools():
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*Dockerfile*"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert tracked == ["Dockerfile"]
    text = DOCKERFILE.read_text()
    # Three stages: the web console's Node build (its static files are copied into the
    # runtime), the Python builder, the runtime.
    assert re.findall(r"^FROM (.+)$", text, flags=re.M) == [
        "${NODE_IMAGE} AS console",
        "${PYTHON_IMAGE} AS builder",
        "${PYTHON_IMAGE}",
    ]
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, flags=re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), "base pinned to a patch release"
    runtime = text.split("\nFROM ")[-1]
    assert re.search(r"^USER 10001:10001$", runtime, flags=re.M)
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    assert "COPY --from=console /src/apps/console/web/build /srv/console" in runtime
    assert "HEALTHCHECK" in runtime
    assert "-c requirements-lock.txt" in text
    assert not re.search(r"\b(gcc|build-essential|apt-get install|pip wheel)\b", runtime)
    for arg in ("APP_DIR", "APP_ENTRYPOINT", "APP_HEALTH_PORT", "APP_ARGS"):
        assert re.search(rf"^ARG {arg}\b", runtime, flags=re.M), arg


def _kind_build_args(image: str) -> str:
    proc = subprocess.run(
        ["make", "-s", "-f", "k8s/kind.mk", "image-args", f"IMAGE={image}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return proc.stdout.strip()


def test_images_workflow_and_kind_build_the_same_table():
    """Both build paths pass the same build args per image, and every app directory
    they name is a Python package (no image for the libraries and the CLI)."""
    workflow = yaml.safe_load(IMAGES_WORKFLOW.read_text())
    build = workflow["jobs"]["build"]
    matrix = build["strategy"]["matrix"]["include"]
    assert {m["image"] for m in matrix} >= {
        "task-service",
        "auth-service",
        "user-service",
        "notification-service",
        "worker",
        "operator",
    }
    (step,) = [s for s in build["steps"] if s.get("name") == "build"]
    assert step["with"]["file"] == "Dockerfile"
    for entry in matrix:
        expected = (
            f"--build-arg APP_DIR={entry['dir']} "
            f'--build-arg "APP_ENTRYPOINT={entry["entrypoint"]}" '
            f"--build-arg APP_HEALTH_PORT={entry['health-port']} "
            f'--build-arg "APP_ARGS={entry["args"]}"'
        )
        assert _kind_build_args(entry["image"]) == expected, entry["image"]
    kind = (REPO / "k8s" / "kind.mk").read_text()
    assert len(re.findall(r"^IMAGE_ARGS_[\w-]+ :=", kind, flags=re.M)) == len(matrix)


def test_dockerignore_keeps_the_context_small():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("**")] == "**"
    assert "!apps/" in lines
    assert "!operator/" in lines
    assert "!requirements-lock.txt" in lines
    assert "**/tests/" in lines


def test_sample_taskqueues_match_the_crd(manifests):
    """Every TaskQueue we ship: the operator's samples (k8s/samples/, when present) and
    the chart's helm-test queue, against the CRD's schema (or, while the CRD is absent,
    the vendored minimal TaskQueue schema)."""
    if CRD_FILE.exists():
        crd = yaml.safe_load(CRD_FILE.read_text())
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
        spec_schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    else:
        spec_schema = json.loads(
            (Path(__file__).parent / "schemas/taskqueue-minimal.schema.json").read_text()
        )["properties"]["spec"]
    queues = [o for _, o in manifests["default"] if o["kind"] == "TaskQueue"]
    for path in sorted((REPO / "k8s" / "samples").glob("*.yaml")):
        queues += [
            o for o in yaml.safe_load_all(path.read_text()) if o and o.get("kind") == "TaskQueue"
        ]
    assert queues
    for obj in queues:
        assert obj["apiVersion"] == "taskplane.io/v1alpha1"
        jsonschema.Draft4Validator(spec_schema).validate(obj["spec"])
