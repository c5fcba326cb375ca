"""``/mockgun/inbound``: hand mockgun a message as if Mailgun's MX had received it.

``POST /mockgun/inbound`` takes the message as a raw MIME body (``message/rfc822``, or any
body that is not a form), as a form with a ``message`` file or field, or as fields (``from``,
``to``, ``subject``, ``text``, ``html``, ``attachment`` files; a JSON object works too). The
envelope comes from ``to`` (repeatable or comma-separated; default: the To and Cc headers)
and ``from`` (default: the From header), in the query string or the form. It answers with
what happened: the routes each recipient fired, the first attempt of every POST (``wait=no``
answers before they are made), stored and forwarded messages. ``GET`` lists what came in,
with every attempt; ``DELETE`` forgets it.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ...mailgun.errors import MailgunError
from ...mailgun.inbound import Composed, File
from ..form import read_form
from ..keys import CONFIG, FORWARDER, INBOX, STORE
from ..receiving import receive
from ..urls import base_url

routes = web.RouteTableDef()

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def _split(values: list[str]) -> list[str]:
    return [a.strip() for v in values for a in v.split(",") if a.strip()]


async def _message(request: web.Request) -> tuple[bytes | Composed, list[str], str | None]:
    """The message, its envelope recipients and its envelope sender."""
    config = request.app[CONFIG]
    to = _split(request.query.getall("to", []))
    sender = request.query.get("from")
    if request.content_type in _FORMS:
        form = await read_form(
            request,
            max_size=config.max_message_size,
            timeout=config.request_timeout,
            spool=request.app[STORE].spool,
        )
        to = to or _split(form.getall("to"))
        files = form.files_named("message")
        raw = files[0].read() if files else (form.get("message") or "").encode()
        if raw.strip():
            return raw, to, sender or form.get("from")
        return _composed(form.get, to, sender, form), to, sender
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            raise MailgunError(400, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise MailgunError(400, "the body must be a JSON object")
        listed = body.get("to") or []
        to = to or _split(listed if isinstance(listed, list) else [str(listed)])
        return _composed(lambda n: _text(body.get(n)), to, sender, None), to, sender
    raw = await request.read()
    return raw, to, sender


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _composed(get: Any, to: list[str], sender: str | None, form: Any) -> Composed:
    sender = sender or get("from")
    if not sender:
        raise MailgunError(400, "from parameter is missing (or send a raw MIME message)")
    if not to:
        raise MailgunError(400, "to parameter is missing")
    files = tuple(
        File(p.filename or "attachment", p.content_type or "application/octet-stream", p.read())
        for p in (form.files_named("attachment") if form is not None else [])
    )
    return Composed(
        sender=sender,
        to=tuple(to),
        subject=get("subject") or "",
        text=get("text"),
        html=get("html"),
        files=files,
    )


@routes.post("/mockgun/inbound")
async def post_inbound(request: web.Request) -> web.Response:
    message, to, sender = await _message(request)
    wait = request.query.get("wait", "yes").strip().lower() not in ("no", "false", "0")
    record = await receive(
        request.app, message, to=to, sender=sender, base=base_url(request), wait=wait
    )
    return web.json_response(record)


@routes.get("/mockgun/inbound")
async def list_inbound(request: web.Request) -> web.Response:
    """Every inbound message, oldest first, each with all its POST attempts so far."""
    forwarder = request.app[FORWARDER]
    items = [
        {**record, "attempts": forwarder.for_inbound(record["id"])}
        for record in request.app[INBOX].items
    ]
    return web.json_response({"items": items})


@routes.get("/mockgun/inbound/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    """Every route POST attempt, oldest first: url, kind (forward or notify), route,
    recipient, attempt, status or error, ok (and rejected for a 406)."""
    return web.json_response({"items": list(request.app[FORWARDER].attempts)})


@routes.delete("/mockgun/inbound")
async def clear_inbound(request: web.Request) -> web.Response:
    request.app[FORWARDER].attempts.clear()
    return web.json_response({"deleted": request.app[INBOX].clear()})
