"""``/mockgun/messages``: what tests and people use to see which messages mockgun received."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...mailgun.errors import MailgunError, not_found
from ...spool import Payload
from ...store import Query, StoredMessage
from ..keys import OFFLOAD, RELAY, STORE
from ..offload import built
from ..params import choice_param, float_param, optional_int
from ..responses import answer_in_pieces, content_disposition, json_answer
from . import preview, view
from .views import message_json, received_json

routes = web.RouteTableDef()


_FILTERS = {
    "domain": "domain",
    "to": "to",
    "from": "sender",
    "subject": "subject",
    "tag": "tag",
    "q": "query",
}


def _filters(request: web.Request) -> dict[str, str | None]:
    return {arg: request.query.get(name) for name, arg in _FILTERS.items()}


@routes.get("/mockgun/messages")
async def list_messages(request: web.Request) -> web.StreamResponse:
    """Oldest first (``order=newest`` for newest first); filters ``domain``, ``to``, ``from``,
    ``subject``, ``tag``, ``q`` (any of recipient, sender, subject, tag), ``since``;
    ``limit``. ``total`` counts every match, ``domains`` every domain in the store."""
    store = request.app[STORE]
    order = choice_param(request, "order", ("oldest", "newest"))
    limit = optional_int(request, "limit")
    query = Query.of(request.query.get("since"), _filters(request))
    try:
        shown, total = store.page(query, newest_first=order == "newest", limit=limit)
    except ValueError:
        raise _bad_since() from None
    return await json_answer(
        request,
        {
            "items": [message_json(m) for m in shown],
            "total": total,
            "evicted": store.evicted,
            "domains": store.domains(),
        },
    )


def _bad_since() -> MailgunError:
    return MailgunError(400, "since must be a message id or an RFC 3339 time")


@routes.get("/mockgun/relay")
async def relay_results(request: web.Request) -> web.StreamResponse:
    """``--relay``: every hand-off to the mail catcher, oldest first (404 without one)."""
    relay = request.app.get(RELAY)
    if relay is None:
        raise MailgunError(404, "no --relay is configured")
    return await json_answer(request, {"relay": relay.url, "items": list(relay.results)})


@routes.get("/mockgun/messages/wait")
async def wait_for_message(request: web.Request) -> web.StreamResponse:
    """Answer as soon as a matching message is stored (or is already), else 408 at ``timeout``."""
    timeout = float_param(request, "timeout", 10.0, 0, 300)
    try:
        message = await request.app[STORE].wait_for(
            timeout, since=request.query.get("since"), **_filters(request)
        )
    except ValueError:
        raise _bad_since() from None
    if message is None:
        raise MailgunError(408, f"no matching message within {timeout:g}s")
    return await json_answer(request, await _detail(request, message))


#: Whatever a message carries (an attachment may say it is text/html) must never run as a
#: page of mockgun's: no sniffing, and a sandbox without script should a browser show it.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


def _message(request: web.Request) -> StoredMessage:
    """The stored message the URL's ``{id}`` names (a 404 when there is none)."""
    message = request.app[STORE].get(request.match_info["id"])
    if message is None:
        raise not_found("Message")
    return message


async def _detail(request: web.Request, message: StoredMessage) -> dict[str, Any]:
    """``GET /mockgun/messages/{id}``'s answer (without events): the MIME message is built,
    and its headers read, in a worker process."""
    offload = request.app[OFFLOAD]
    await built(offload, message)
    headers = await offload.run(view.headers, message.mime.read(view.HEADER_LIMIT))
    detail = message_json(message, with_content=True, headers=headers)
    relay = request.app.get(RELAY)
    if relay is not None:  # --relay: what the mail catcher said to each copy
        detail["relay"] = relay.for_message(message.bare_id)
    return detail


async def _download(
    request: web.Request, payload: Payload, content_type: str, **headers: str
) -> web.StreamResponse:
    """A stored payload as a download: streamed from disk when it was spooled, else written
    in pieces (a message built in memory can be megabytes)."""
    headers = {**headers, **DOWNLOAD_HEADERS}
    if payload.path is not None:
        return web.FileResponse(payload.path, headers={**headers, "Content-Type": content_type})
    return await answer_in_pieces(request, payload.data, content_type=content_type, headers=headers)


@routes.get("/mockgun/messages/{id}.eml")
async def get_message_eml(request: web.Request) -> web.StreamResponse:
    message = _message(request)
    await built(request.app[OFFLOAD], message)
    return await _download(request, message.mime, "message/rfc822")


@routes.get("/mockgun/messages/{id}/attachments/{n}")
async def get_message_attachment(request: web.Request) -> web.StreamResponse:
    """An attachment or inline part as uploaded (``n`` counts the message's file parts)."""
    message = _message(request)
    try:
        part = message.request.files[int(request.match_info["n"])]
    except (ValueError, IndexError):
        raise not_found("Attachment") from None
    disposition = content_disposition(part.safe_filename)
    return await _download(
        request, part.content, part.content_type, **{"Content-Disposition": disposition}
    )


#: The HTML preview is a document of its own origin-less kind: no script, nothing remote.
PREVIEW_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; "
    "style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@routes.get("/mockgun/messages/{id}/html")
async def get_message_html(request: web.Request) -> web.StreamResponse:
    """The HTML body, sanitized (see sanitize.py), for the web page's sandboxed frame;
    ``recipient=`` shows the copy that recipient received (rendered for them)."""
    message = _message(request)
    req = message.request
    html, uploaded = req.html, req.mime
    recipient = request.query.get("recipient")
    if recipient:
        copy = (await built(request.app[OFFLOAD], message)).copy_for(recipient)
        if copy is None:
            raise MailgunError(404, f"{recipient} is not a recipient of this message")
        html, uploaded = None, copy
    shown = await request.app[OFFLOAD].run(
        preview.preview, html, uploaded, req.files, preview.HTML_LIMIT, preview.INLINE_BUDGET
    )
    if shown is None:
        raise MailgunError(404, "This message has no HTML body")
    document, blocked = shown
    return await answer_in_pieces(
        request,
        document.encode(),
        content_type="text/html",
        headers={**PREVIEW_HEADERS, "X-Mockgun-Blocked": str(blocked)},
    )


@routes.get("/mockgun/messages/{id}")
async def get_message(request: web.Request) -> web.StreamResponse:
    message = _message(request)
    out = await _detail(request, message)
    out["events"] = request.app[STORE].events.for_message(message.bare_id)
    return await json_answer(request, out)


@routes.get("/mockgun/messages/{id}/received/{address}")
async def received_by(request: web.Request) -> web.StreamResponse:
    """What ``address`` received: their own rendered copy (template, batch and built-in
    variables applied), as ``{"recipient", "from", "to", "subject", "text", "html",
    "headers"}``."""
    message = await built(request.app[OFFLOAD], _message(request))
    address = request.match_info["address"]
    payload = message.copy_for(address)
    if payload is None:
        raise MailgunError(404, f"{address} is not a recipient of this message")
    body = await request.app[OFFLOAD].run(received_json, payload)
    return await json_answer(request, {"recipient": address, **body})


@routes.delete("/mockgun/messages")
async def clear_messages(request: web.Request) -> web.Response:
    return web.json_response({"deleted": request.app[STORE].clear()})
