"""``/mockgun/*``: what tests and people use to see what mockgun received."""

from __future__ import annotations

import base64
import time
from typing import Any

from aiohttp import web

from .. import __version__
from ..mail import view
from ..mail.sanitize import sanitise_html
from ..outcomes import ADDABLE, follow_up
from ..spool import Payload
from ..store import StoredMessage
from ..tls.policy import version_label
from .errors import json_error
from .keys import CONFIG, HANDSHAKES, STORE
from .stored import content_disposition

routes = web.RouteTableDef()


@routes.get("/mockgun/health")
async def health(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "tls": version_label(config.tls_max),
            "messages": len(request.app[STORE]),
            "messages_evicted": request.app[STORE].evicted,
            "events": len(request.app[STORE].events),
            "events_evicted": request.app[STORE].events.evicted,
            "handshake_log": request.app[HANDSHAKES].status(),
        }
    )


_FILTERS = {
    "domain": "domain", "to": "to", "from": "sender", "subject": "subject", "tag": "tag",
    "q": "query",
}  # fmt: skip


def _filters(request: web.Request) -> dict[str, str | None]:
    return {arg: request.query.get(name) for name, arg in _FILTERS.items()}


@routes.get("/mockgun/messages")
async def list_messages(request: web.Request) -> web.Response:
    """Oldest first (``order=newest`` for newest first); filters ``domain``, ``to``, ``from``,
    ``subject``, ``tag``, ``q`` (any of recipient, sender, subject, tag), ``since``;
    ``limit``. ``total`` counts every match, ``domains`` every domain in the store."""
    store = request.app[STORE]
    order = request.query.get("order", "oldest")
    if order not in ("oldest", "newest"):
        return json_error(400, "order must be oldest or newest")
    try:
        limit = whole_number(request.query.get("limit"))
    except ValueError:
        return json_error(400, "limit must be a whole number")
    try:
        found = store.find(since=request.query.get("since"), **_filters(request))
    except ValueError:
        return json_error(400, "since must be a message id or an RFC 3339 time")
    shown = found[::-1] if order == "newest" else found
    return web.json_response(
        {
            "items": [m.as_json() for m in shown[:limit]],
            "total": len(found),
            "evicted": store.evicted,
            "domains": store.domains(),
        }
    )


def whole_number(text: str | None) -> int | None:
    """A ``limit``-style query value: None when absent; ValueError unless a whole number."""
    if text is None:
        return None
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


@routes.get("/mockgun/messages/wait")
async def wait_for_message(request: web.Request) -> web.Response:
    """Answer as soon as a matching message is stored (or is already), else 408 at ``timeout``."""
    try:
        timeout = float(request.query.get("timeout", "10"))
        if not 0 <= timeout <= 300:
            raise ValueError
    except ValueError:
        return json_error(400, "timeout must be a number of seconds from 0 to 300")
    try:
        message = await request.app[STORE].wait_for(
            timeout, since=request.query.get("since"), **_filters(request)
        )
    except ValueError:
        return json_error(400, "since must be a message id or an RFC 3339 time")
    if message is None:
        return json_error(408, f"no matching message within {timeout:g}s")
    return web.json_response(message.as_json(with_content=True))


#: Whatever a message carries (an attachment may say it is text/html) must never run as a
#: page of mockgun's: no sniffing, and a sandbox without script should a browser show it.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


def _message(request: web.Request) -> StoredMessage | web.Response:
    """The stored message the URL's ``{id}`` names, or the 404 to answer instead."""
    message = request.app[STORE].get(request.match_info["id"])
    return json_error(404, "Message not found") if message is None else message


def _download(payload: Payload, content_type: str, **headers: str) -> web.StreamResponse:
    """A stored payload as a download: streamed from disk when it was spooled."""
    headers = {**headers, **DOWNLOAD_HEADERS, "Content-Type": content_type}
    if payload.path is not None:
        return web.FileResponse(payload.path, headers=headers)
    return web.Response(body=payload.data, headers=headers)


@routes.get("/mockgun/messages/{id}.eml")
async def get_message_eml(request: web.Request) -> web.StreamResponse:
    message = _message(request)
    if isinstance(message, web.Response):
        return message
    return _download(message.mime, "message/rfc822")


@routes.get("/mockgun/messages/{id}/attachments/{n}")
async def get_message_attachment(request: web.Request) -> web.StreamResponse:
    """An attachment or inline part as uploaded (``n`` counts the message's file parts)."""
    message = _message(request)
    if isinstance(message, web.Response):
        return message
    try:
        part = message.request.files[int(request.match_info["n"])]
    except (ValueError, IndexError):
        return json_error(404, "Attachment not found")
    disposition = content_disposition(part.safe_filename)
    return _download(part.content, part.content_type, **{"Content-Disposition": disposition})


#: Inline parts shown in the preview (as data: URLs), and how large they may be.
INLINE_IMAGE_TYPES = frozenset(
    {"image/png", "image/gif", "image/jpeg", "image/webp", "image/bmp", "image/svg+xml"}
)
INLINE_IMAGE_MAX = 2 * 1024 * 1024
#: The HTML preview is a document of its own origin-less kind: no script, nothing remote.
PREVIEW_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; "
    "style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@routes.get("/mockgun/messages/{id}/html")
async def get_message_html(request: web.Request) -> web.Response:
    """The HTML body, sanitised (see mail/sanitize.py), for the web page's sandboxed frame."""
    message = _message(request)
    if isinstance(message, web.Response):
        return message
    source = message.request.html
    if source is None and message.request.mime is not None:
        source = view.html_body(message.request.mime)
    if source is None:
        return json_error(404, "This message has no HTML body")
    files = message.request.files

    def resolve_cid(name: str) -> str | None:
        # Inlined as data: URLs: the sandboxed preview has no origin of its own, so a browser
        # would not send the API key with a request back to mockgun for the part.
        for part in files:
            if (part.filename == name or part.safe_filename == name) and (
                part.content_type.lower() in INLINE_IMAGE_TYPES and part.size <= INLINE_IMAGE_MAX
            ):
                encoded = base64.b64encode(part.read()).decode()
                return f"data:{part.content_type.lower()};base64,{encoded}"
        return None

    body, blocked = sanitise_html(source, resolve_cid=resolve_cid)
    return web.Response(
        text=f"<!doctype html><meta charset=utf-8>{body}",
        content_type="text/html",
        headers={**PREVIEW_HEADERS, "X-Mockgun-Blocked": str(blocked)},
    )


@routes.get("/mockgun/messages/{id}")
async def get_message(request: web.Request) -> web.Response:
    message = _message(request)
    if isinstance(message, web.Response):
        return message
    out = message.as_json(with_content=True)
    out["events"] = request.app[STORE].events.for_message(message.bare_id)
    return web.json_response(out)


@routes.delete("/mockgun/messages")
async def clear_messages(request: web.Request) -> web.Response:
    return web.json_response({"deleted": request.app[STORE].clear()})


@routes.get("/mockgun/ca.pem")
async def ca_certificate(request: web.Request) -> web.Response:
    """The CA certificate (public), for CI jobs that cannot share a volume with mockgun."""
    path = request.app[CONFIG].certs_dir / "ca.pem"
    try:
        pem = path.read_bytes()
    except OSError:
        return json_error(404, "no CA certificate yet")
    return web.Response(body=pem, content_type="application/x-pem-file")


@routes.post("/mockgun/events/{domain}/{event}/{message_id}")
async def add_event(request: web.Request) -> web.Response:
    """Add an event (``failed``, ``opened``, ``clicked``, ...) to a stored message.

    Form or JSON fields: ``recipient`` (default: every recipient), ``severity``
    (``permanent``/``temporary``, for ``failed``), ``url`` (for ``clicked``).
    """
    kind = request.match_info["event"]
    if kind not in ADDABLE:
        return json_error(400, f"event must be one of {', '.join(ADDABLE)}")
    store = request.app[STORE]
    message = store.get(request.match_info["message_id"])
    domain = request.match_info["domain"]
    if message is None or message.domain.lower() != domain.lower():
        return json_error(404, "Message not found")
    fields: dict[str, Any] = {}
    if request.can_read_body:
        try:
            raw = (
                await request.json()
                if request.content_type == "application/json"
                else await request.post()
            )
            fields = {k: str(v) for k, v in dict(raw).items()}
        except ValueError:
            return json_error(400, "the body must be a form or a JSON object")
    severity = fields.get("severity", "permanent")
    if severity not in ("permanent", "temporary"):
        return json_error(400, "severity must be permanent or temporary")
    accepted = [
        e for e in store.events.for_message(message.bare_id)
        if e["event"] == "accepted" and fields.get("recipient", e["recipient"]) == e["recipient"]
    ]  # fmt: skip
    if not accepted:
        return json_error(404, f"{fields.get('recipient')} is not a recipient of this message")
    extra: dict[str, Any] = {}
    if kind == "failed":
        extra["severity"] = severity
    if kind == "clicked" and "url" in fields:
        extra["url"] = fields["url"]
    now = time.time()
    added = [follow_up(a, kind, now, **extra) for a in accepted]
    store.events.add(message.domain, added)
    return web.json_response({"items": added}, status=201)
