"""``POST /mockgun/events/{domain}/{event}/{message_id}``: make something happen to a message."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ...mailgun.errors import MailgunError, not_found
from ...mailgun.events import ADDABLE, follow_up
from ..keys import STORE

routes = web.RouteTableDef()


@routes.post("/mockgun/events/{domain}/{event}/{message_id}")
async def add_event(request: web.Request) -> web.Response:
    """Add an event (``failed``, ``opened``, ``clicked``, ...) to a stored message.

    Form or JSON fields: ``recipient`` (default: every recipient), ``severity``
    (``permanent``/``temporary``, for ``failed``), ``url`` (for ``clicked``).
    """
    kind = request.match_info["event"]
    if kind not in ADDABLE:
        raise MailgunError(400, f"event must be one of {', '.join(ADDABLE)}")
    store = request.app[STORE]
    message = store.get(request.match_info["message_id"])
    domain = request.match_info["domain"]
    if message is None or message.domain.lower() != domain.lower():
        raise not_found("Message")
    fields = await _fields(request)
    severity = fields.get("severity", "permanent")
    if severity not in ("permanent", "temporary"):
        raise MailgunError(400, "severity must be permanent or temporary")
    accepted = [
        e
        for e in store.events.for_message(message.bare_id)
        if e["event"] == "accepted" and fields.get("recipient", e["recipient"]) == e["recipient"]
    ]
    if not accepted:
        raise MailgunError(404, f"{fields.get('recipient')} is not a recipient of this message")
    extra: dict[str, Any] = {}
    if kind == "failed":
        extra["severity"] = severity
    if kind == "clicked" and "url" in fields:
        extra["url"] = fields["url"]
    now = time.time()
    added = [follow_up(a, kind, now, **extra) for a in accepted]
    store.events.add(message.domain, added)
    return web.json_response({"items": added}, status=201)


async def _fields(request: web.Request) -> dict[str, str]:
    if not request.can_read_body:
        return {}
    try:
        raw = (
            await request.json()
            if request.content_type == "application/json"
            else await request.post()
        )
        return {k: str(v) for k, v in dict(raw).items()}
    except (ValueError, TypeError):  # TypeError: JSON that is not an object ([1, 2], null)
        raise MailgunError(400, "the body must be a form or a JSON object") from None
