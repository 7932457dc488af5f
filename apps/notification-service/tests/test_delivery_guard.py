"""The SSRF guard at delivery time, against a real receiver: every hop's resolved
address is checked and the connection goes to exactly the checked address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notification_service.config import Settings
from notification_service.senders import post_webhook, webhook_client
from taskplane_testing.notifications import Receiver

HEADERS = {"webhook-id": "msg_test", "content-type": "application/json"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def settings(**overrides: bool) -> Settings:
    return Settings(DATABASE_URL="postgresql://unused/db", auth_disabled=True, **overrides)


async def test_a_redirect_to_the_metadata_address_is_refused(receiver: Receiver) -> None:
    config = settings(webhook_allow_loopback=True, webhook_follow_redirects=True)
    url = receiver.url("/redirect?to=http://169.254.169.254/latest/meta-data/")
    async with webhook_client(config) as client:
        result = await post_webhook(client, url, "{}", HEADERS, config)
    assert not result.ok
    assert result.permanent
    assert result.error == "refused: the host is the cloud metadata address"


async def test_redirects_are_not_followed_by_default(receiver: Receiver) -> None:
    config = settings(webhook_allow_loopback=True)
    target = receiver.url("/ok/after-redirect")
    async with webhook_client(config) as client:
        result = await post_webhook(
            client, receiver.url(f"/redirect?to={target}"), "{}", HEADERS, config
        )
    assert (result.ok, result.status_code, result.error) == (False, 302, "redirect not followed")
    assert receiver.at("/ok/after-redirect") == []


async def test_a_host_name_resolving_to_loopback_is_refused_when_delivering(
    receiver: Receiver,
) -> None:
    url = receiver.url("/ok/guarded").replace("127.0.0.1", "localhost")
    config = settings()
    async with webhook_client(config) as client:
        result = await post_webhook(client, url, "{}", HEADERS, config)
    assert result.error == "refused: the host resolves to a loopback address"
    assert receiver.at("/ok/guarded") == [], "nothing was sent"


async def test_the_connection_goes_to_the_checked_address_with_the_host_name(
    receiver: Receiver,
) -> None:
    url = receiver.url("/ok/pinned").replace("127.0.0.1", "localhost")
    config = settings(webhook_allow_loopback=True, webhook_follow_redirects=True)
    async with webhook_client(config) as client:
        result = await post_webhook(client, url, '{"a":1}', HEADERS, config)
    assert (result.ok, result.status_code) == (True, 204)
    (request,) = receiver.at("/ok/pinned")
    assert request.headers["host"] == url.split("/")[2]
    assert request.body == b'{"a":1}'
