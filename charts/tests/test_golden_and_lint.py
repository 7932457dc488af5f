"""Golden output of the default profile (so every change to rendered output is reviewed),
helm lint, and checkov over every profile.

Regenerate the golden files after an intended change:
    UPDATE_GOLDEN=1 .venv/bin/python -m pytest charts/tests/test_golden_and_lint.py
"""

from __future__ import annotations

import os
from pathlib import Path

import helm_python as helm

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "charts" / "taskplane"
GOLDEN = Path(__file__).resolve().parent / "golden"
UPSTREAM = {"kube-prometheus-stack", "jaeger", "opentelemetry-operator", "loki", "alloy"}


def as_helm_template(rendered: dict[str, str]) -> str:
    """The rendered manifests in `helm template` form: one "# Source:" document each."""
    parts = []
    for source in sorted(rendered):
        body = rendered[source].strip()
        if body and source.endswith(".yaml"):
            for doc in body.split("\n---\n"):
                doc = doc.strip().removeprefix("---").strip()
                if doc:
                    parts.append(f"---\n# Source: {source}\n{doc}\n")
    return "".join(parts)


def test_default_profile_matches_golden(rendered):
    expected = {
        "default.yaml": as_helm_template(rendered["default"]),
        "default-NOTES.txt": rendered["default"]["taskplane/templates/NOTES.txt"],
    }
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for name, text in expected.items():
            (GOLDEN / name).write_text(text)
    for name, text in expected.items():
        golden = (GOLDEN / name).read_text()
        assert text == golden, (
            f"rendered output differs from charts/tests/golden/{name}; review the change and "
            "regenerate with UPDATE_GOLDEN=1 (see this module's docstring)"
        )


def test_helm_lint_clean_apart_from_missing_upstream_charts(profile_values):
    for name, values in profile_values.items():
        report = helm.lint(
            CHART_DIR, values, namespace="taskplane", kube_version="v1.33.0", strict=True
        )
        assert report["total_charts_linted"] == 1
        others = []
        for message in report["messages"]:
            missing = message["error"].startswith("chart directory is missing these dependencies")
            if missing:
                listed = set(message["error"].split(": ", 1)[1].split(","))
                assert listed <= UPSTREAM, f"an in-tree subchart is missing: {listed - UPSTREAM}"
            else:
                others.append(message)
        assert others == [], f"{name}: {others}"


def test_lint_reports_a_real_template_error(tmp_path):
    """The lint check above would notice an error: break a copy of the chart and lint it."""
    chart = helm.Chart.load(CHART_DIR)
    copy = Path(chart.save_dir(tmp_path))
    (copy / "templates" / "broken.yaml").write_text("{{ .Values.nope.deeper }}\n")
    report = helm.lint(copy, namespace="taskplane")
    assert any(m["severity"] == 3 for m in report["messages"]), report


def test_checkov_finds_no_failed_check(checkov_report):
    report = checkov_report["report"]
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    assert summary["failed"] == 0
    assert summary["passed"] > 1000
    files = {c["file_path"].lstrip("/") for c in report["results"]["passed_checks"]}
    assert files == {
        "default.yaml",
        "minimal.yaml",
        "full.yaml",
        "production.yaml",
        "kind-dev.yaml",
    }


def test_every_checkov_skip_carries_a_reason(checkov_report):
    skipped = checkov_report["report"]["results"]["skipped_checks"]
    assert skipped, "the chart skips a few checks deliberately (probes on Jobs, digests)"
    allowed = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_38", "CKV_K8S_43"}
    for check in skipped:
        assert check["check_id"] in allowed, check["check_id"]
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{check['check_id']} on {check['resource']}: no reason"
