"""Settings from the environment and the kopf command line they imply."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from taskplane_operator import __main__ as entry
from taskplane_operator.__main__ import kopf_args
from taskplane_operator.settings import OperatorSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASKPLANE_API_URL", "TASKPLANE_TOKEN", "TASKPLANE_WATCH_NAMESPACES"):
        monkeypatch.delenv(name, raising=False)
    settings = OperatorSettings()
    assert settings.api_url == "http://task-service:8003"
    assert settings.token is None
    assert settings.watch_namespaces == []
    assert (settings.health_port, settings.metrics_port) == (8080, 9090)
    assert (settings.worker_token_audience, settings.worker_token_expiration_s) == (
        "taskplane",
        3600,
    )
    assert settings.token_file is None
    assert settings.effective_worker_api_url == settings.api_url
    assert settings.auth_url is None
    assert settings.effective_worker_auth_url is None


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_API_URL", "http://tasks.platform:8003")
    monkeypatch.setenv("TASKPLANE_TOKEN", "s3cret")
    monkeypatch.setenv("TASKPLANE_WATCH_NAMESPACES", " team-a, team-b,, ")
    monkeypatch.setenv("TASKPLANE_MONITORING_ENABLED", "true")
    monkeypatch.setenv("TASKPLANE_WORKER_API_URL", "http://tasks.internal:8003")
    settings = OperatorSettings()
    assert settings.watch_namespaces == ["team-a", "team-b"]
    assert settings.monitoring_enabled is True
    assert settings.token is not None
    assert settings.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.effective_worker_api_url == "http://tasks.internal:8003"


def test_kopf_args_cluster_wide() -> None:
    args = kopf_args(OperatorSettings(watch_namespaces=[], health_port=8080, log_format="json"))
    assert args == [
        "run",
        "--standalone",
        "--log-format=json",
        "--all-namespaces",
        "--liveness=http://0.0.0.0:8080/healthz",
        "-m",
        "taskplane_operator",
    ]


def test_kopf_args_namespaced_without_liveness() -> None:
    args = kopf_args(OperatorSettings(watch_namespaces=["a", "b"], health_port=0))
    assert "--all-namespaces" not in args
    assert args[args.index("--namespace") : args.index("--namespace") + 4] == [
        "--namespace",
        "a",
        "--namespace",
        "b",
    ]
    assert not any(arg.startswith("--liveness") for arg in args)


def test_service_token_needs_the_auth_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_TOKEN", "tps_abc")
    monkeypatch.delenv("TASKPLANE_AUTH_URL", raising=False)
    with pytest.raises(ValidationError, match="set TASKPLANE_AUTH_URL"):
        OperatorSettings()
    monkeypatch.setenv("TASKPLANE_AUTH_URL", "http://auth-service:8001")
    settings = OperatorSettings()
    assert settings.auth_url == "http://auth-service:8001"
    assert settings.effective_worker_auth_url == "http://auth-service:8001"
    monkeypatch.setenv("TASKPLANE_WORKER_AUTH_URL", "http://auth.platform.svc:8001")
    assert OperatorSettings().effective_worker_auth_url == "http://auth.platform.svc:8001"


def test_an_access_token_needs_no_auth_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_TOKEN", "eyJhbGciOiJFUzI1NiJ9.e30.sig")
    monkeypatch.delenv("TASKPLANE_AUTH_URL", raising=False)
    assert OperatorSettings().auth_url is None


def test_start_up_fails_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKPLANE_TOKEN", "tps_abc")
    monkeypatch.delenv("TASKPLANE_AUTH_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        entry.main([])  # refuses before kopf starts
    assert exited.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith("taskplane-operator: invalid settings: TASKPLANE_TOKEN is a service")
    assert "set TASKPLANE_AUTH_URL" in message
    assert "tps_abc" not in message
    assert message.count("\n") == 1


def test_a_serviceaccount_token_file_needs_the_auth_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_TOKEN_FILE", "/var/run/secrets/taskplane/serviceaccount/token")
    monkeypatch.delenv("TASKPLANE_AUTH_URL", raising=False)
    with pytest.raises(ValidationError, match=r"TASKPLANE_TOKEN_FILE .* set TASKPLANE_AUTH_URL"):
        OperatorSettings()
    monkeypatch.setenv("TASKPLANE_AUTH_URL", "http://auth-service:8001")
    assert OperatorSettings().token_file == "/var/run/secrets/taskplane/serviceaccount/token"


def test_a_worker_token_lives_an_hour_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKPLANE_WORKER_TOKEN_EXPIRATION_S", "7200")
    with pytest.raises(ValidationError, match="less than or equal to 3600"):
        OperatorSettings()
