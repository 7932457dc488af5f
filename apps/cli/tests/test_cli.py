"""The real ``taskplane`` command against real auth-service and task-service processes,
driven both through Typer's CliRunner and as a subprocess."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from taskplane_cli.main import app
from taskplane_testing.platform import ADMIN_EMAIL, ADMIN_PASSWORD, Platform
from taskplane_testing.processes import nowhere_url, process_env

runner = CliRunner()


@pytest.fixture
def env(platform: Platform, tmp_path: Path) -> dict[str, str]:
    """A user with a config dir of their own, pointed at the test platform."""
    return {
        "TASKPLANE_CONFIG_DIR": str(tmp_path / "config"),
        "TASKPLANE_API_URL": platform.tasks.url,
        "TASKPLANE_AUTH_URL": platform.auth.url,
        "TASKPLANE_NOTIFICATIONS_URL": nowhere_url(),
        "TASKPLANE_TOKEN": "",
        "TASKPLANE_CONTEXT": "",
        "TASKPLANE_OUTPUT": "",
    }


def cli(env: dict[str, str], *args: str, input: str | None = None) -> Any:
    """The command through CliRunner; returns the result (exit_code, stdout, stderr)."""
    return runner.invoke(app, list(args), env=env, input=input)


def sub(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The command as its own process (``python -m taskplane_cli``)."""
    return subprocess.run(
        [sys.executable, "-m", "taskplane_cli", *args],
        env=process_env("taskplane_cli", env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def login(env: dict[str, str]) -> None:
    result = cli(env, "login", "--email", ADMIN_EMAIL, input=f"{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_login_is_stored_privately_and_whoami_reads_it(env: dict[str, str]) -> None:
    result = cli(env, "login", "--email", ADMIN_EMAIL, input=f"{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert f"as {ADMIN_EMAIL} (admin)" in result.stdout
    assert ADMIN_PASSWORD not in result.output
    stored = Path(env["TASKPLANE_CONFIG_DIR"]) / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    me = as_json(cli(env, "whoami", "-o", "json"))
    assert (me["email"], me["roles"]) == (ADMIN_EMAIL, ["admin"])

    assert cli(env, "logout").exit_code == 0
    result = cli(env, "tasks", "list")
    assert result.exit_code == 1
    assert "not logged in; run `taskplane login`" in result.stderr


def test_create_list_with_filters_update_delete(env: dict[str, str]) -> None:
    login(env)
    tag = uuid.uuid4().hex[:10]
    ids = []
    for title, priority in [("a", "high"), ("b", "low"), ("c", "high")]:
        created = as_json(
            cli(env, "-o", "json", "tasks", "create", title, "-p", priority, "-t", tag)
        )
        assert created["title"] == title
        ids.append(created["id"])
    listed = as_json(
        cli(
            env,
            "tasks",
            "list",
            "--priority",
            "high",
            "--tag",
            tag,
            "--sort",
            "created_at",
            "-o",
            "json",
        )
    )
    assert [t["title"] for t in listed] == ["a", "c"]
    table = cli(env, "tasks", "list", "--tag", tag, "--limit", "2")
    assert table.exit_code == 0
    shown = [task_id for task_id in ids if task_id in table.stdout]  # ids are never cut
    assert len(shown) == 2

    first = listed[0]
    done = as_json(
        cli(
            env,
            "tasks",
            "update",
            first["id"],
            "-s",
            "completed",
            "--if-match",
            '"1"',
            "-o",
            "json",
        )
    )
    assert (done["status"], done["version"]) == ("completed", 2)
    stale = cli(env, "tasks", "update", first["id"], "--title", "x", "--if-match", '"1"')
    assert stale.exit_code == 1
    assert "(HTTP 412)" in stale.stderr
    assert "Traceback" not in stale.output

    as_yaml = cli(env, "tasks", "get", first["id"], "-o", "yaml")
    assert as_yaml.exit_code == 0
    assert yaml.safe_load(as_yaml.stdout)["status"] == "completed"
    stats = as_json(cli(env, "tasks", "stats", "-o", "json"))
    assert stats["total"] >= 3
    assert cli(env, "tasks", "delete", first["id"]).exit_code == 0
    gone = cli(env, "tasks", "get", first["id"])
    assert gone.exit_code == 1
    assert "(HTTP 404)" in gone.stderr


def test_usage_and_validation_errors(env: dict[str, str]) -> None:
    login(env)
    assert cli(env, "tasks", "list", "--limit", "0").exit_code == 2  # usage error
    assert cli(env, "tasks", "nonsense").exit_code == 2
    refused = cli(env, "tasks", "create", "   ")
    assert refused.exit_code == 2  # checked before sending: a blank title
    assert "must not be blank" in refused.stderr
    api = cli(env, "tasks", "list", "--status", "nonsense")
    assert api.exit_code == 1
    assert "status.0: Input should be 'pending'" in api.stderr  # the problem+json detail
    assert "(HTTP 422)" in api.stderr


def test_no_server_is_one_line_naming_the_url(env: dict[str, str]) -> None:
    url = nowhere_url()
    result = sub({**env, "TASKPLANE_TOKEN": "a.b.c"}, "--api-url", url, "tasks", "list")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"cannot reach the task-service at {url}" in line
    assert "make run" in line
    assert "Traceback" not in result.stdout + result.stderr


def test_an_expired_access_token_is_refreshed_and_stored(env: dict[str, str]) -> None:
    login(env)
    stored = Path(env["TASKPLANE_CONFIG_DIR"]) / "credentials.json"
    before = json.loads(stored.read_text())["local"]
    stored.write_text(json.dumps({"local": {**before, "expires_at": 0}}))
    assert sub(env, "tasks", "stats").returncode == 0
    after = json.loads(stored.read_text())["local"]
    assert after["refresh_token"] != before["refresh_token"]
    assert after["expires_at"] > 0
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_an_expired_login_says_to_log_in_again(env: dict[str, str]) -> None:
    login(env)
    stored = Path(env["TASKPLANE_CONFIG_DIR"]) / "credentials.json"
    credentials = json.loads(stored.read_text())
    # The access token expired and the refresh token was ended elsewhere.
    cli(env, "logout")
    stored.write_text(json.dumps({"local": {**credentials["local"], "expires_at": 0}}))
    result = sub(env, "tasks", "list")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "taskplane: your login has expired; log in again with `taskplane login`"
    )


def test_a_pasted_token_and_contexts(env: dict[str, str], platform: Platform) -> None:
    no_urls = {k: v for k, v in env.items() if k not in ("TASKPLANE_API_URL", "TASKPLANE_AUTH_URL")}
    setup = cli(
        no_urls, "config", "set-context", "test",
        "--api-url", platform.tasks.url, "--auth-url", platform.auth.url, "--use",
    )  # fmt: skip
    assert setup.exit_code == 0, setup.output
    contexts = cli(no_urls, "config", "get-contexts")
    assert f"* test  {platform.tasks.url}" in contexts.stdout
    assert cli(no_urls, "login", "--token", platform.admin_token()).exit_code == 0
    assert as_json(cli(no_urls, "whoami", "-o", "json"))["context"] == "test"
    assert cli(no_urls, "tasks", "stats").exit_code == 0
    assert cli(no_urls, "config", "use-context", "nowhere").exit_code == 2


def test_tokens_queues_dead_letters_and_events(env: dict[str, str]) -> None:
    login(env)
    created = as_json(
        cli(env, "tokens", "create", "cli-test", "--scope", "queues:work", "-o", "json")
    )
    assert created["token"].startswith("tps_")
    listed = as_json(cli(env, "tokens", "list", "-o", "json"))
    assert created["id"] in [t["id"] for t in listed]
    assert cli(env, "tokens", "revoke", created["id"]).exit_code == 0

    queue = f"cli-{uuid.uuid4().hex[:6]}"
    assert cli(env, "queues", "put", queue, "--max-attempts", "1").exit_code == 0
    assert as_json(cli(env, "queues", "pause", queue, "-o", "json"))["config"]["paused"] is True
    resumed = as_json(cli(env, "queues", "resume", queue, "-o", "json"))
    assert resumed["config"] == {**resumed["config"], "paused": False, "max_attempts": 1}
    queued = as_json(cli(env, "enqueue", queue, "--payload", '{"n": 1}', "-o", "json"))
    assert queued["payload"] == {"n": 1}
    assert queue in cli(env, "queues", "list").stdout
    assert as_json(cli(env, "queues", "get", queue, "-o", "json"))["available"] == 1
    assert as_json(cli(env, "queues", "dead", queue, "-o", "json")) == []
    missing = cli(env, "queues", "retry", queue, str(uuid.uuid4()))
    assert missing.exit_code == 1
    assert "(HTTP 404)" in missing.stderr

    tail = cli(env, "events", "tail", "--no-follow")
    assert tail.exit_code == 0
    assert f"task.created {queued['id']} {queue}" in tail.stdout


def test_bad_lines_all_or_nothing_or_skip(env: dict[str, str], tmp_path: Path) -> None:
    login(env)
    queue = f"bad-{uuid.uuid4().hex[:6]}"
    cli(env, "queues", "put", queue)
    lines = [
        '{"payload": {"n": 1}}',
        "{not json",
        '{"payload": {"n": 3}}',
        '{"priority": "urgent"}',
    ]
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("\n".join(lines) + "\n")

    refused = cli(env, "queues", "enqueue", queue, "--file", str(tasks))
    assert refused.exit_code == 2
    assert f"{tasks}:2: not JSON" in refused.stderr
    assert f"{tasks}:4: priority:" in refused.stderr
    assert "nothing was sent" in refused.stderr
    assert as_json(cli(env, "queues", "get", queue, "-o", "json"))["available"] == 0

    partial = cli(env, "queues", "enqueue", queue, "--file", str(tasks), "--skip-invalid")
    assert partial.exit_code == 0, partial.output
    assert "Enqueued 2 of 2 task(s)" in partial.stdout
    assert "2 bad line(s) skipped" in partial.stdout
    assert as_json(cli(env, "queues", "get", queue, "-o", "json"))["available"] == 2


@pytest.fixture
def worker(platform: Platform) -> Iterator[Any]:
    """Starts one real ``taskplane-worker`` (echo handler) on a queue, stops it after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(queue: str) -> None:
        token = platform.service_token(f"worker-{queue}", "queues:work")
        started.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "taskplane_worker",
                    "--queue",
                    queue,
                    "--handler",
                    "builtin:echo",
                    "--concurrency",
                    "16",
                    "--metrics-port",
                    "0",
                    "--wait",
                    "1",
                ],
                env=process_env(
                    "taskplane_worker",
                    {
                        "TASKPLANE_API_URL": platform.tasks.url,
                        "TASKPLANE_AUTH_URL": platform.auth.url,
                        "TASKPLANE_TOKEN": token,
                        "LOG_LEVEL": "WARNING",
                    },
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_bulk_enqueue_1000_with_progress_then_watch_until_done(
    env: dict[str, str], tmp_path: Path, worker: Any
) -> None:
    login(env)
    queue = f"bulk-{uuid.uuid4().hex[:6]}"
    assert sub(env, "queues", "put", queue).returncode == 0
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"payload": {"n": n}}) + "\n" for n in range(1000)))

    result = sub(env, "queues", "enqueue", queue, "--file", str(tasks), "--batch-size", "250")
    assert result.returncode == 0, result.stderr
    assert f"enqueue {queue}" in result.stderr  # the progress bar
    assert "1000/1000" in result.stderr
    assert f"Enqueued 1000 of 1000 task(s) on {queue}" in result.stdout

    one = as_json(cli(env, "enqueue", queue, "--payload", '{"hello": "world"}', "-o", "json"))
    worker(queue)
    watched = sub(env, "watch", one["id"], "--interval", "0.5")
    assert watched.returncode == 0, watched.stderr
    assert f"{one['id']} completed attempt 1" in watched.stdout
    assert '"hello": "world"' in watched.stdout  # the echo handler's result

    drained = sub(env, "queues", "watch", queue, "--until-empty", "--interval", "0.5")
    assert drained.returncode == 0, drained.stderr
    assert (
        f"{queue}: available 0, scheduled 0, in flight 0, retrying 0, dead 0, completed 1001"
        in (drained.stdout)
    )


def test_audit_list_shows_who_changed_what(env: dict[str, str]) -> None:
    login(env)
    queue = f"audited-{uuid.uuid4().hex[:8]}"
    for attempts in ("3", "4"):
        assert cli(env, "queues", "put", queue, "--max-attempts", attempts).exit_code == 0
    both = ("--service", "auth", "--service", "tasks")
    listed = as_json(cli(env, "audit", "list", *both, "-o", "json"))
    actions = {(e["service"], e["action"]) for e in listed["items"]}
    assert {("auth-service", "auth.login"), ("task-service", "queue.put")} <= actions
    stamps = [e["occurred_at"] for e in listed["items"]]
    assert stamps == sorted(stamps, reverse=True), "merged newest first"
    mine = as_json(
        cli(env, "audit", "list", "-s", "tasks", "--target", f"queue:{queue}", "-o", "json")
    )
    assert [e["details"]["config"]["max_attempts"] for e in mine["items"]] == [4, 3]
    entry = mine["items"][0]
    assert (entry["action"], entry["actor_name"]) == ("queue.put", ADMIN_EMAIL)
    table = cli(env, "audit", "list", "-s", "tasks", "--action", "queue.", "--limit", "1")
    assert table.exit_code == 0, table.output
    assert "More in tasks: --service tasks --cursor " in table.stdout
    paged = cli(env, "audit", "list", "--cursor", "5")
    assert paged.exit_code == 2
    assert "--service" in paged.stderr
