"""``POST /v3/{domain}/messages`` and ``POST /v3/{domain}/messages.mime``."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ..mail.form import Form, FormError, read_form
from ..mail.send import SendRequest, validate_mime_send, validate_send
from ..store import TransportInfo
from ..tls.connections import ssl_object_of
from .errors import json_error
from .fault_routes import FAULT_HEADER, apply_fault
from .keys import CONFIG, CONNECTIONS, STORE

QUEUED = "Queued. Thank you."

routes = web.RouteTableDef()


@routes.post("/v3/{domain}/messages")
async def send_message(request: web.Request) -> web.Response:
    return await _send(request, validate_send)


@routes.post("/v3/{domain}/messages.mime")
async def send_mime(request: web.Request) -> web.Response:
    return await _send(request, validate_mime_send)


async def _send(request: web.Request, validate: Callable[[Form, str], SendRequest]) -> web.Response:
    config = request.app[CONFIG]
    domain = request.match_info["domain"]
    if not config.domain_allowed(domain):
        return json_error(404, f"Domain not found: {domain}")
    try:
        form = await read_form(
            request,
            max_size=config.max_message_size,
            timeout=config.request_timeout,
            spool=request.app[STORE].spool,
        )
    except FormError as exc:
        response = json_error(exc.status, exc.message)
        if exc.status in (408, 413):
            response.force_close()  # the rest of the body is not read: the connection must go
        return response
    rule = await apply_fault(request, form, domain)
    if isinstance(rule, web.StreamResponse):
        return rule
    try:
        send = validate(form, domain)
    except FormError as exc:
        return json_error(exc.status, exc.message)
    stored = request.app[STORE].add(
        send, transport_of(request), fault=rule.id if rule is not None else None
    )
    response = web.json_response({"id": stored.id, "message": QUEUED})
    if rule is not None:
        response.headers[FAULT_HEADER] = rule.id
    return response


def transport_of(request: web.Request) -> TransportInfo:
    """The TLS version and cipher of the connection this request came on."""
    peer = request.remote
    ssl_object = ssl_object_of(request)
    if ssl_object is None:
        return TransportInfo(peer_ip=peer)
    info = request.app[CONNECTIONS].lookup(ssl_object)
    if info is not None:
        return TransportInfo(info.conn_id, info.tls_version, info.cipher, peer)
    cipher = ssl_object.cipher()
    return TransportInfo(None, ssl_object.version(), cipher[0] if cipher else None, peer)
