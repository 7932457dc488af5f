"""Webhook subscriptions, their secrets and their delivery log: one subscription's
(``/api/v1/webhooks/{id}/deliveries``) or all of the caller's (``/api/v1/deliveries``)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from notification_service import crud, lists
from notification_service.api.deps import (
    OwnerOrAdminDep,
    SecretBoxDep,
    SettingsDep,
    UserIdDep,
    WebhookChange,
    WebhookChangeDep,
)
from notification_service.api.routes.common import (
    AUTH,
    NOT_FOUND,
    DeliveryLogDep,
)
from notification_service.config import Settings
from notification_service.delivery.ssrf import UrlRefusedError, check_url, parse_url
from notification_service.models import Webhook
from notification_service.schemas import (
    DeliveryOut,
    DeliveryPage,
    SecretRotation,
    WebhookCreate,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
)
from taskplane_common.db import DatabaseDep
from taskplane_common.deps import SessionDep
from taskplane_common.errors import ProblemError
from taskplane_common.jsonbody import FastJSONResponse, read_as_json
from taskplane_common.openapi import links, problems, with_links

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=AUTH)
#: What one event caused across all my subscriptions, in one call.
deliveries_router = APIRouter(prefix="/api/v1/deliveries", tags=["webhooks"], responses=AUTH)
_CREATED = {"webhook_id": "$response.body#/id"}


async def _checked_url(url: str, settings: Settings) -> str:
    """422 naming the reason when the URL is malformed or points somewhere forbidden."""
    try:
        parsed = parse_url(url, settings.webhook_max_url_length)
        await check_url(parsed, allow_loopback=settings.webhook_allow_loopback)
    except UrlRefusedError as exc:
        raise ProblemError(
            422, f"webhook URL refused: {exc.reason}", slug="webhook-url-refused"
        ) from exc
    return str(parsed)


def _out(hook: Webhook) -> WebhookOut:
    return WebhookOut.model_validate(hook, from_attributes=True)


async def _locked(change: WebhookChange, webhook_id: uuid.UUID) -> Webhook:
    """The caller's webhook to change, locked until the change commits (else a 404)."""
    return await crud.get_webhook(change.session, change.owner, webhook_id, lock=True)


@router.post(
    "",
    status_code=201,
    response_model=WebhookWithSecret,
    responses=with_links(
        problems(409, s409="Too many subscriptions"),
        links(
            201,
            get_webhook=_CREATED,
            patch_webhook=_CREATED,
            delete_webhook=_CREATED,
            rotate_secret=_CREATED,
            list_deliveries=_CREATED,
            test_webhook=_CREATED,
        ),
    ),
    summary="Subscribe a URL to event types; the signing secret is shown only here",
)
async def create_webhook(
    body: WebhookCreate, change: WebhookChangeDep, box: SecretBoxDep, response: Response
) -> WebhookWithSecret:
    settings, owner = change.settings, change.owner
    url = await _checked_url(body.url, settings)
    if await crud.count_webhooks(change.session, owner) >= settings.webhook_max_per_user:
        raise ProblemError(
            409,
            f"at most {settings.webhook_max_per_user} webhooks per user",
            slug="too-many-webhooks",
        )
    hook, secret = await crud.create_webhook(
        change.session, box, owner, url, body.events, body.description
    )
    await change.commit("webhook.create", hook.id, url=url, events=list(body.events))
    response.headers["Location"] = f"/api/v1/webhooks/{hook.id}"
    return WebhookWithSecret(**_out(hook).model_dump(), secret=secret)


@router.get("", response_model=list[WebhookOut], summary="My webhooks")
async def list_webhooks(database: DatabaseDep, owner: UserIdDep) -> JSONResponse:
    return await read_as_json(database, lists.webhooks, owner)


@router.get("/{webhook_id}", response_model=WebhookOut, responses=NOT_FOUND, summary="One webhook")
async def get_webhook(webhook_id: uuid.UUID, session: SessionDep, owner: UserIdDep) -> WebhookOut:
    return _out(await crud.get_webhook(session, owner, webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookOut,
    responses=NOT_FOUND,
    summary="Change URL, event types or description; enabled=true re-enables it",
)
async def patch_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, change: WebhookChangeDep
) -> WebhookOut:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        changes["url"] = await _checked_url(changes["url"], change.settings)
    hook = crud.update_webhook(await _locked(change, webhook_id), changes)
    await change.commit("webhook.update", webhook_id, changes=changes)
    return _out(hook)


@router.delete("/{webhook_id}", status_code=204, responses=NOT_FOUND, summary="Unsubscribe")
async def delete_webhook(webhook_id: uuid.UUID, change: WebhookChangeDep) -> Response:
    await change.session.delete(await _locked(change, webhook_id))
    await change.commit("webhook.delete", webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    responses=NOT_FOUND,
    summary="A new signing secret (shown once); the old one also signs during the grace period",
)
async def rotate_secret(
    webhook_id: uuid.UUID,
    change: WebhookChangeDep,
    box: SecretBoxDep,
    body: SecretRotation | None = None,
) -> WebhookWithSecret:
    hook = await _locked(change, webhook_id)
    default = change.settings.webhook_secret_grace_s
    grace = body.grace_s if body and body.grace_s is not None else default
    secret = await crud.rotate_secret(box, hook, grace)
    await change.commit("webhook.rotate_secret", webhook_id, grace_s=grace)
    return WebhookWithSecret(**_out(hook).model_dump(), secret=secret)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses=NOT_FOUND,
    summary="The delivery log, newest first, each with its attempts",
)
async def list_deliveries(webhook_id: uuid.UUID, log: DeliveryLogDep) -> JSONResponse:
    return await log.read(webhook_id)


@deliveries_router.get(
    "",
    response_model=DeliveryPage,
    summary="My webhook deliveries (every subscription of mine), newest first",
)
async def list_my_deliveries(log: DeliveryLogDep) -> JSONResponse:
    return await log.read(webhook_id=None)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    responses={**NOT_FOUND, **problems(409, s409="Being attempted right now")},
    summary="Send one delivery again now, with the same webhook-id",
)
async def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, owner: UserIdDep
) -> Response:
    await crud.get_webhook(session, owner, webhook_id)
    await crud.redeliver(session, webhook_id, delivery_id)
    await session.commit()
    return Response(status_code=202)


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    response_model=DeliveryOut,
    responses={**NOT_FOUND, **problems(409, s409="The webhook is disabled")},
    summary="Queue a signed webhook.test delivery to this webhook (its owner or an admin)",
)
async def test_webhook(
    webhook_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    owner: OwnerOrAdminDep,
) -> JSONResponse:
    """Sent like every delivery (same signing, same address checks at the attempt, same
    retries) and logged with the others; the 202 answers with the queued delivery."""
    hook = await crud.get_webhook(session, owner, webhook_id)
    if not hook.enabled:
        raise ProblemError(
            409, "the webhook is disabled: re-enable it first", slug="webhook-disabled"
        )
    row = await crud.queue_test_delivery(session, hook, settings.delivery_max_attempts)
    await session.commit()
    background = request.app.state.background
    if background is not None:
        background.wake.set()
    location = f"/api/v1/webhooks/{webhook_id}/deliveries?event_id={row['event_id']}"
    return FastJSONResponse(
        lists.delivery_document(row, []), status_code=202, headers={"Location": location}
    )
