"""promtool on the rendered PrometheusRule; hadolint and drift checks on the Dockerfiles;
the operator's sample TaskQueues against its CRD."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "charts/taskplane/charts/operator/crds/taskqueues.taskplane.io.yaml"
DOCKERFILES = {
    "task-service": REPO / "apps/task-service/Dockerfile",
    "auth-service": REPO / "apps/auth-service/Dockerfile",
    "user-service": REPO / "apps/user-service/Dockerfile",
    "worker": REPO / "apps/worker/Dockerfile",
    "operator": REPO / "operator/Dockerfile",
}
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
        assert "SUCCESS: 5 rules found" in check.stdout + check.stderr
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


@pytest.mark.parametrize("app", sorted(DOCKERFILES))
def test_dockerfile_is_hadolint_clean(app):
    hadolint = Path(sys.executable).with_name("hadolint")
    proc = subprocess.run(
        [str(hadolint), "--format", "json", str(DOCKERFILES[app])],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout or "[]") == [], proc.stdout


def _normalized(text: str) -> str:
    """The Dockerfile minus what legitimately differs per app: comments, the ARG defaults
    of the app blocks, CMD."""
    text = re.sub(r"^(ARG APP_[A-Z_]+)=.*$", r"\1=<app>", text, flags=re.M)
    text = re.sub(r"^CMD .*$", "CMD <app>", text, flags=re.M)
    text = re.sub(r'org.opencontainers.image.title="[^"]*"', "title", text)
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


@pytest.mark.parametrize("app", sorted(DOCKERFILES))
def test_dockerfiles_share_one_pattern(app):
    reference = _normalized(DOCKERFILES["task-service"].read_text())
    text = DOCKERFILES[app].read_text()
    assert _normalized(text) == reference, f"{app} drifted from the shared Dockerfile pattern"
    stages = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert len(stages) == 2, "multi-stage: builder + runtime"
    assert "python:3.11." in re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, flags=re.M).group(1)
    runtime = text.split("\nFROM ")[-1]
    assert re.search(r"^USER 10001:10001$", runtime, flags=re.M)
    assert "HEALTHCHECK" in runtime
    assert "-c requirements-lock.txt" in text
    assert not re.search(r"\b(gcc|build-essential|apt-get install)\b", runtime)


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
    the vendored design §8 schema)."""
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
