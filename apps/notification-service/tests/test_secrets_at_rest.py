"""Webhook secrets at rest: online KEK rotation while deliveries flow (no failed
delivery), the AWS KMS path and the Lambda's Secrets Manager settings on moto. (No secret
in the clear in a dump: test_end_to_end, the rotation test.)"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from notification_service.config import Settings
from notification_service.kek import new_kek
from notification_service.keys import SecretBox, build_kek, local_key_id, rewrap_all
from notification_service.lambda_handler import load_secrets
from taskplane_common.migrations import upgrade
from taskplane_testing.postgres import PostgresServer
from taskplane_testing.processes import ServiceProcess, wait_until
from taskplane_testing.tokens import TokenFactory, bearer

from .conftest import REGION, Platform
from .test_api import _subscribe
from .test_end_to_end import person, subscribe


def write_keyring(path: Path, *keys: str) -> None:
    """Replace the keyring file at once, as Kubernetes swaps a mounted Secret."""
    staged = path.with_suffix(".new")
    staged.write_text(",".join(keys))
    os.replace(staged, path)


def test_rotating_the_kek_while_deliveries_flow_fails_no_delivery(
    platform: Platform, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    db_url = postgres_server.create_database("notification_kek_rotation")
    old, new = new_kek(), new_kek()
    keyring = tmp_path / "kek"
    write_keyring(keyring, old)
    # Generous timeouts: a slow machine must not turn into retries this test counts.
    env = platform.notification_env(
        db_url,
        TASKPLANE_SECRETS_KEK_FILE=str(keyring),
        TASKPLANE_WEBHOOK_TIMEOUT_S="60",
        TASKPLANE_DELIVERY_LEASE_S="120",
    )
    users = [person(platform, task_created={"webhook": True, "in_app": False}) for _ in range(3)]
    queue = f"kek-{uuid.uuid4().hex[:8]}"
    sent = 0
    stop = threading.Event()

    def traffic() -> None:
        nonlocal sent
        while not stop.is_set():
            for _, _, headers in users:
                platform.enqueue(queue, headers, sent, 5)
            sent += 5
            stop.wait(0.2)

    with ServiceProcess("notification_service", env) as service:
        hooks = {
            user: subscribe(
                service, headers, platform.receiver.url(f"/ok/kek-{user}"), "task.created"
            )
            for user, _, headers in users
        }
        flow = threading.Thread(target=traffic, daemon=True)
        flow.start()
        try:
            wait_until(lambda: sent >= 20, what="traffic before the rotation")
            # 1. the new KEK first, the old one still listed: running pods unwrap both.
            write_keyring(keyring, new, old)
            # 2. re-wrap every data key under the new KEK, online.
            rotation = subprocess.run(
                [sys.executable, "-m", "notification_service.keys", "rotate", "--batch", "2"],
                env={**os.environ, **env},
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert "re-wrapped 3 data key(s)" in rotation.stdout, rotation.stdout
            new_id = local_key_id(base64.b64decode(new))
            with psycopg.connect(db_url) as connection:
                kek_ids = connection.execute(
                    "SELECT DISTINCT kek_id FROM notifications.webhooks"
                ).fetchall()
            assert kek_ids == [(new_id,)]
            # 3. the old KEK is retired: only the new one opens anything now.
            write_keyring(keyring, new)
            after = sent
            wait_until(lambda: sent >= after + 20, what="traffic after the rotation")
        finally:
            stop.set()
            flow.join(timeout=60)

        def delivered(user: str) -> int:
            return len({r.webhook_id for r in platform.receiver.at(f"/ok/kek-{user}")})

        wait_until(
            lambda: all(delivered(user) == sent for user, _, _ in users),
            timeout_s=120,
            what="every delivery",
        )

        def outcomes() -> dict[str, int]:
            """Attempts by outcome, as the delivery log records them (after the send)."""
            with psycopg.connect(db_url) as connection:
                return dict(
                    connection.execute(
                        "SELECT outcome, count(*) FROM notifications.delivery_attempts GROUP BY 1"
                    ).fetchall()
                )

        wait_until(
            lambda: sum(outcomes().values()) >= sent * len(users), timeout_s=120, what="the log"
        )
    logged = outcomes()
    print(f"\nKEK rotation: {sent * len(users)} deliveries, attempts by outcome {logged}")
    # Every attempt succeeded: none failed to unwrap or sign across the rotation. Delivery
    # is at least once, so on a starved machine a lease can lapse mid-send and an event
    # go out twice; each one reached its receiver (checked above), none was refused.
    assert set(logged) == {"delivered"}, "no retry, no failure"
    assert logged["delivered"] >= sent * len(users)
    for user, hook in hooks.items():
        signer = Webhook(hook["secret"])
        for request in platform.receiver.at(f"/ok/kek-{user}"):
            signer.verify(request.body, request.headers)


async def test_kms_wraps_the_data_keys_and_takes_over_from_a_local_kek(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    moto_url: str,
    db: psycopg.Connection[Any],
) -> None:
    """Subscriptions made under the local KEK move to an AWS KMS key (on moto) with the
    rotation command's code: the data keys are re-wrapped, the sealed secrets untouched."""
    headers = bearer(tokens.token(str(uuid.uuid4())))
    made = [await _subscribe(client, headers) for _ in range(3)]
    before = dict(db.execute("SELECT id, secret_sealed FROM notifications.webhooks").fetchall())
    kms = boto3.client("kms", region_name=REGION, endpoint_url=moto_url)
    key_arn = kms.create_key(Description="taskplane secrets")["KeyMetadata"]["Arn"]
    settings = Settings(
        DATABASE_URL=app.state.settings.database_url,
        secrets_kms_key_id=key_arn,
        secrets_kms_region=REGION,
        secrets_kms_endpoint_url=moto_url,
    )
    box = SecretBox(build_kek(settings))
    assert box.kek.key_id == f"kms:{key_arn}"

    assert await rewrap_all(app.state.database, box, batch=2) == 3
    rows = db.execute(
        "SELECT id, kek_id, data_key, secret_sealed FROM notifications.webhooks"
    ).fetchall()
    assert {row[1] for row in rows} == {f"kms:{key_arn}"}
    assert {row[0]: row[3] for row in rows} == before, "only the data keys were re-wrapped"
    secrets = {uuid.UUID(hook["id"]): hook["secret"] for hook in made}
    for row_id, kek_id, wrapped, sealed in rows:
        data_key = kms.decrypt(
            CiphertextBlob=wrapped,
            EncryptionContext={"purpose": "taskplane-notification-secrets"},
        )["Plaintext"]
        assert box.open(data_key, row_id, sealed) == secrets[row_id]
        assert box.open(box.data_key(kek_id, wrapped), row_id, sealed) == secrets[row_id]
    assert await rewrap_all(app.state.database, box) == 0


def test_the_lambda_reads_its_database_login_and_secrets_from_secrets_manager(
    moto_url: str,
) -> None:
    """What Terraform wires: the function's environment names secrets, never holds them."""
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)
    login = secrets.create_secret(
        Name=f"rds-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"username": "taskplane", "password": "p@ss:/word"}),
    )["ARN"]
    kek = new_kek()
    kek_arn = secrets.create_secret(Name=f"kek-{uuid.uuid4().hex[:8]}", SecretString=kek)["ARN"]
    settings_arn = secrets.create_secret(
        Name=f"lambda-{uuid.uuid4().hex[:8]}",
        SecretString=json.dumps({"TASKPLANE_SERVICE_TOKEN": "tps_abc"}),
    )["ARN"]
    environ = {
        "TASKPLANE_LAMBDA_DATABASE_SECRET_ARN": login,
        "TASKPLANE_LAMBDA_DATABASE_HOST": "db.internal",
        "TASKPLANE_LAMBDA_DATABASE_PORT": "5432",
        "TASKPLANE_LAMBDA_DATABASE_NAME": "taskplane",
        "TASKPLANE_LAMBDA_KEK_SECRET_ARN": kek_arn,
        "TASKPLANE_LAMBDA_SETTINGS_SECRET_ARN": settings_arn,
    }
    load_secrets(environ, secrets)
    assert environ["DATABASE_URL"] == (
        "postgresql://taskplane:p%40ss%3A%2Fword@db.internal:5432/taskplane?sslmode=require"
    )
    assert environ["TASKPLANE_SERVICE_TOKEN"] == "tps_abc"
    settings = Settings(
        DATABASE_URL=environ["DATABASE_URL"], secrets_kek=environ["TASKPLANE_SECRETS_KEK"]
    )
    assert build_kek(settings).key_id == local_key_id(base64.b64decode(kek))

    secrets.put_secret_value(SecretId=settings_arn, SecretString=json.dumps({"PATH": "/tmp"}))
    with pytest.raises(ValueError, match="'PATH' is not a TASKPLANE_"):
        load_secrets(dict(environ), secrets)


def test_the_migration_seals_secrets_stored_in_plain_text(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_server.create_database("notification_migration_0002")
    upgrade("notification_service", url, "0001")
    hook, plain, previous = uuid.uuid4(), "whsec_" + "a" * 44, "whsec_" + "b" * 44
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO notifications.webhooks (id, owner_id, url, events, secret, "
            "previous_secret) VALUES (%s, %s, 'https://example.com/h', ARRAY['task.failed'], "
            "%s, %s)",
            (hook, uuid.uuid4(), plain, previous),
        )
    kek = new_kek()
    monkeypatch.setenv("TASKPLANE_SECRETS_KEK", kek)
    upgrade("notification_service", url)

    with psycopg.connect(url) as connection:
        columns = {
            row[0]
            for row in connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'notifications' AND table_name = 'webhooks'"
            )
        }
        row = connection.execute(
            "SELECT kek_id, data_key, secret_sealed, previous_secret_sealed "
            "FROM notifications.webhooks"
        ).fetchone()
    assert not {"secret", "previous_secret"} & columns, "the plain-text columns are gone"
    assert row is not None
    kek_id, wrapped, sealed, sealed_previous = row
    box = SecretBox(build_kek(Settings(DATABASE_URL=url, secrets_kek=kek)))
    assert kek_id == box.kek.key_id
    data_key = box.data_key(kek_id, wrapped)
    assert box.open(data_key, hook, sealed) == plain
    assert box.open(data_key, hook, sealed_previous) == previous
    assert plain.encode() not in sealed
