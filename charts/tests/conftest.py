"""Offline checks of the taskplane Helm chart: render with the real Helm v4 engine
(helm-python-sdk), then validate what was rendered. Fixtures are session-scoped: each
profile is rendered once and checkov runs once over all profiles."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "charts" / "taskplane"
TESTS_DIR = Path(__file__).resolve().parent
RELEASE = "taskplane"
NAMESPACE = "taskplane"
PROFILES: dict[str, Path] = {
    "default": CHART_DIR / "ci" / "default-values.yaml",
    "minimal": CHART_DIR / "ci" / "minimal-values.yaml",
    "full": CHART_DIR / "ci" / "full-values.yaml",
    "production": CHART_DIR / "examples" / "production-values.yaml",
    "kind-dev": REPO / "k8s" / "values-dev.yaml",
}

Doc = tuple[str, dict[str, Any]]


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def parse_manifests(rendered: dict[str, str]) -> list[Doc]:
    """(template path, object) for every non-empty YAML document, in template order."""
    docs: list[Doc] = []
    for source in sorted(rendered):
        if not source.endswith((".yaml", ".yml")):
            continue
        for obj in yaml.safe_load_all(rendered[source]):
            if obj:
                docs.append((source, obj))
    return docs


@pytest.fixture(scope="session")
def chart() -> helm.Chart:
    return helm.Chart.load(CHART_DIR)


@pytest.fixture(scope="session")
def render() -> Callable[[dict[str, Any]], dict[str, str]]:
    """Render on a freshly loaded chart each time: Helm's dependency processing removes
    disabled subcharts from the loaded chart object in place, so a render with
    postgresql.enabled=false would otherwise leak into every later render."""

    def _render(values: dict[str, Any]) -> dict[str, str]:
        with helm.Chart.load(CHART_DIR) as fresh:
            return fresh.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)

    return _render


@pytest.fixture(scope="session")
def profile_values() -> dict[str, dict[str, Any]]:
    return {name: load_values(path) for name, path in PROFILES.items()}


@pytest.fixture(scope="session")
def rendered(
    render: Callable[[dict[str, Any]], dict[str, str]],
    profile_values: dict[str, dict[str, Any]],
) -> dict[str, dict[str, str]]:
    return {name: render(values) for name, values in profile_values.items()}


@pytest.fixture(scope="session")
def manifests(rendered: dict[str, dict[str, str]]) -> dict[str, list[Doc]]:
    return {name: parse_manifests(out) for name, out in rendered.items()}


@pytest.fixture(scope="session")
def checkov_report(
    manifests: dict[str, list[Doc]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One checkov run over every profile (one file per profile): checkov is the slow part."""
    out_dir = tmp_path_factory.mktemp("checkov")
    for name, docs in manifests.items():
        text = yaml.safe_dump_all([obj for _, obj in docs], sort_keys=False)
        (out_dir / f"{name}.yaml").write_text(text)
    checkov = Path(sys.executable).with_name("checkov")
    proc = subprocess.run(
        [
            str(checkov),
            "-d",
            str(out_dir),
            "--framework",
            "kubernetes",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.stdout.strip(), f"checkov printed nothing: {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    if isinstance(report, list):  # one entry per framework
        (report,) = [r for r in report if r.get("check_type") == "kubernetes"]
    return {"report": report, "returncode": proc.returncode, "dir": out_dir}


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
