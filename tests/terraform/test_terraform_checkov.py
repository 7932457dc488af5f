"""checkov --framework terraform over terraform/: zero failed checks on our own resources.

External registry modules are not downloaded (--download-external-modules false):
checkov judges the resources this repository writes. Every skip must be an inline
`#checkov:skip=<id>:<reason>` comment, which checkov reports as the suppress comment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from taskplane_testing.terraform import REPO_ROOT, TF_ROOT


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    checkov = Path(sys.executable).parent / "checkov"
    assert checkov.exists(), f"checkov is not installed next to {sys.executable}"
    result = subprocess.run(
        [
            str(checkov),
            "--framework",
            "terraform",
            "--skip-download",
            "--download-external-modules",
            "false",
            "--output",
            "json",
            "--directory",
            str(TF_ROOT),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # checkov exits 1 when a check fails; anything else (crash, bad args) is an error
    assert result.returncode in (0, 1), f"checkov failed to run:\n{result.stderr[-4000:]}"
    # no --quiet: it would drop the passed and skipped lists from the report
    report: dict[str, Any] | list[dict[str, Any]] = json.loads(result.stdout)
    if isinstance(report, list):  # several frameworks: pick terraform
        report = next(r for r in report if r.get("check_type") == "terraform")
    return report


def test_checkov_scanned_our_resources(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 15
    assert summary["passed"] >= 60


def test_checkov_has_no_failed_checks(checkov_report: dict[str, Any]) -> None:
    failed = checkov_report["results"].get("failed_checks", [])
    details = "\n".join(
        f"{f['check_id']} {f['check_name']} -> {f['resource']} ({f['file_path']})" for f in failed
    )
    assert checkov_report["summary"]["failed"] == 0, f"checkov failures:\n{details}"
    assert not failed


def test_every_checkov_skip_has_a_reason(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"].get("skipped_checks", [])
    assert skipped, "expected the inline, documented skips to be reported"
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) >= 30, (
            f"{check['check_id']} on {check['resource']} skipped without a real reason"
        )
