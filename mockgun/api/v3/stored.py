"""Stored messages: ``GET/POST /v3/domains/{domain}/messages/{key}`` and their attachments."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from aiohttp import web

from ...mailgun import inbound, mime
from ...mailgun.errors import MailgunError, not_found
from ...mailgun.send import parse_mailboxes
from ...spool import Payload
from ...store import StoredMessage
from ..form import read_form
from ..keys import CONFIG, OFFLOAD, STORE
from ..offload import built
from ..responses import answer_in_pieces, content_disposition, json_answer
from ..urls import base_url, storage_url
from .messages import QUEUED, accept

routes = web.RouteTableDef()


def _parts(msg: EmailMessage) -> list[EmailMessage]:
    return [p for p in msg.walk() if isinstance(p, EmailMessage) and not p.is_multipart()]


def _files(msg: EmailMessage, body_parts: set[int]) -> list[EmailMessage]:
    return [p for p in _parts(msg) if id(p) not in body_parts]


def _text(part: Any) -> str | None:
    if not isinstance(part, EmailMessage):
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return None
    return content if isinstance(content, str) else None


def stored_json(url: str, message: Payload, recipients: str, sender: str) -> dict[str, Any]:
    """Mailgun's JSON for a stored message at ``url``, from its MIME ``message``. Parsing one
    is CPU work: handlers run this, like every function here that parses a message, in a
    worker process (mockgun.api.offload), hence the plain, picklable arguments."""
    msg = mime.parse(message)
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    body_ids = {id(p) for p in (plain, html) if p is not None}
    attachments = []
    content_ids: dict[str, Any] = {}
    for index, part in enumerate(_files(msg, body_ids)):
        payload = part.get_payload(decode=True)
        info = {
            "size": len(payload) if isinstance(payload, bytes) else 0,
            "url": f"{url}/attachments/{index}",
            "name": part.get_filename() or f"part-{index}",
            "content-type": part.get_content_type(),
        }
        if part["Content-ID"]:
            content_ids[str(part["Content-ID"])] = info
        else:
            attachments.append(info)
    text, html_text = _text(plain), _text(html)
    stripped, signature = inbound.strip_text(text or "")
    out: dict[str, Any] = {
        "recipients": recipients,
        "sender": sender,
        "from": str(msg["From"] or ""),
        "subject": str(msg["Subject"] or ""),
        "body-plain": text or "",
        "stripped-text": stripped,
        "stripped-signature": signature,
        "body-html": html_text or "",
        "stripped-html": inbound.strip_html(html_text or ""),
        "attachments": attachments,
        "content-id-map": content_ids,
        "message-headers": [[k, str(v)] for k, v in msg.items()],
    }
    # Mailgun's stored message repeats the top-level MIME headers as keys of their own (To,
    # Message-Id, Mime-Version, Content-Type, X-Mailgun-Variables, ...): the first of each.
    # Names as Mailgun writes them: each part capitalised (Mime-Version, Message-Id).
    for name, value in msg.items():
        out.setdefault("-".join(part.capitalize() for part in name.split("-")), str(value))
    return out


def _sender(message: StoredMessage) -> str:
    return parseaddr(message.request.sender or "")[1]


def _lookup(request: web.Request) -> StoredMessage:
    """The stored message the URL names (a 404 when there is none)."""
    message = request.app[STORE].by_key(request.match_info["key"])
    if message is None or message.domain.lower() != request.match_info["domain"].lower():
        raise not_found("Message")
    return message


@routes.get("/v3/domains/{domain}/messages/{key}")
async def get_stored(request: web.Request) -> web.StreamResponse:
    message = await built(request.app[OFFLOAD], _lookup(request))
    recipients, sender = ", ".join(message.request.recipients), _sender(message)
    if "message/rfc2822" in request.headers.get("Accept", ""):
        work = request.app[OFFLOAD].run(_rfc2822_json, message.mime, recipients, sender)
    else:
        url = storage_url(base_url(request), message.domain, message.key)
        work = request.app[OFFLOAD].run(stored_json, url, message.mime, recipients, sender)
    return await json_answer(request, await work)


def _rfc2822_json(message: Payload, recipients: str, sender: str) -> dict[str, Any]:
    msg = mime.parse(message)
    return {
        "recipients": recipients,
        "sender": sender,
        "from": str(msg["From"] or ""),
        "subject": str(msg["Subject"] or ""),
        "body-mime": message.read().decode("utf-8", errors="replace"),
    }


@routes.get("/v3/domains/{domain}/messages/{key}/attachments/{index}")
async def get_attachment(request: web.Request) -> web.StreamResponse:
    message = await built(request.app[OFFLOAD], _lookup(request))
    found = await request.app[OFFLOAD].run(_attachment, message.mime, request.match_info["index"])
    if found is None:
        raise not_found("Attachment")
    payload, content_type, name = found
    return await answer_in_pieces(
        request,
        payload,
        content_type=content_type,
        headers={"Content-Disposition": content_disposition(name)},
    )


def _attachment(message: Payload, index: str) -> tuple[bytes, str, str] | None:
    """Bytes, type and name of the ``index``-th file part, or None."""
    msg = mime.parse(message)
    body_ids = {id(p) for p in (msg.get_body(("plain",)), msg.get_body(("html",))) if p is not None}
    files = _files(msg, body_ids)
    try:
        part = files[int(index)]
    except (ValueError, IndexError):
        return None
    payload = part.get_payload(decode=True)
    body = payload if isinstance(payload, bytes) else b""
    return body, part.get_content_type(), part.get_filename() or "attachment"


@routes.post("/v3/domains/{domain}/messages/{key}")
async def resend(request: web.Request) -> web.StreamResponse:
    """Send a stored message again to ``to``: a new message, with new events."""
    message = _lookup(request)
    form = await read_form(
        request,
        max_size=request.app[CONFIG].max_message_size,
        timeout=request.app[CONFIG].request_timeout,
        spool=request.app[STORE].spool,
    )
    values = [v for v in form.getall("to") if v.strip()]
    if not values:
        raise MailgunError(400, "to parameter is missing")
    to = parse_mailboxes(values, "to")
    original = message.request
    # The stored MIME goes out again as it is, to the new recipients.
    again = type(original)(
        domain=original.domain,
        endpoint="resend",
        sender=original.sender,
        to=to,
        subject=original.subject,
        options=original.options,
        fields=tuple(form.fields),
        mime=(await built(request.app[OFFLOAD], message)).mime,
    )
    stored = accept(request, again)
    return web.json_response({"id": stored.id, "message": QUEUED})
