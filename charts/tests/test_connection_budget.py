"""The database connection budget: each component's worst case stated, the sum checked
against global.database.maxConnections, rendered with the real Helm engine."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

PRODUCTION = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "taskplane/examples/production-values.yaml").read_text()
)
NOTES = "taskplane/templates/NOTES.txt"
#: The production profile: pools of 10 + 10 per pod; 6 pods at most (8 during a rolling
#: update's 25% surge), the task-service 12 (15), its queue pool (10) and its LISTEN
#: connection.
PRODUCTION_BUDGET = (
    "auth-service 20 x 8 = 160, notification-service 20 x 8 = 160,"
    " task-service 31 x 15 = 465, user-service 20 x 8 = 160"
)

Render = Callable[[dict[str, Any]], dict[str, str]]


def _with_budget(max_connections: int) -> dict[str, Any]:
    values = copy.deepcopy(PRODUCTION)
    values["global"]["database"]["maxConnections"] = max_connections
    return values


def test_the_worst_case_is_stated_and_fits(render: Render) -> None:
    notes = " ".join(render(_with_budget(945))[NOTES].split())
    assert PRODUCTION_BUDGET in notes, notes
    assert "total 945 of global.database.maxConnections 945." in notes, notes


def test_a_budget_below_the_worst_case_fails_the_render(render: Render) -> None:
    with pytest.raises(helm.HelmRenderError) as failed:
        render(_with_budget(944))
    message = str(failed.value)
    assert "can open 945 connections" in message, message
    assert "global.database.maxConnections=944" in message, message
    assert PRODUCTION_BUDGET in message, message


def test_smaller_pools_fit_and_reach_the_services(render: Render) -> None:
    values = _with_budget(400)
    values["componentDefaults"] = {"databasePool": {"size": 5, "maxOverflow": 2}}
    rendered = render(values)
    notes = " ".join(rendered[NOTES].split())
    # 7 x 8 for three services, 13 x 15 for the task-service (5 + 2, its queue pool, LISTEN)
    assert "total 363 of global.database.maxConnections 400." in notes, notes
    deployments = [
        obj
        for obj in yaml.safe_load_all(rendered["taskplane/templates/components.yaml"])
        if obj and obj["kind"] == "Deployment" and obj["metadata"]["name"].endswith("-service")
    ]
    assert len(deployments) == 4
    for deployment in deployments:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TASKPLANE_DB_POOL_SIZE"] == "5", deployment["metadata"]["name"]
        assert env["TASKPLANE_DB_MAX_OVERFLOW"] == "2", deployment["metadata"]["name"]
