"""``create_app()``: the aiohttp application, independent of how it is served."""

from __future__ import annotations

from aiohttp import web

from ..config import Config
from ..faults import FaultBook, parse_rule
from ..live import Hub
from ..report import LiveSummary
from ..store import MessageStore
from ..tls.connections import ConnectionRegistry, ssl_object_of
from ..tls.handshake_log import HandshakeLog, rfc3339_now
from ..webhooks import Webhooks, parse_webhook_option
from . import (
    domains,
    events,
    fault_routes,
    handshake_routes,
    inspect,
    messages,
    stored,
    stream,
    ui,
    webhook_routes,
)  # fmt: skip
from .auth import authorised
from .errors import Handler, error_middleware, forbidden, json_error, not_emulated
from .inflight import InFlight
from .keys import (
    CONFIG,
    CONNECTIONS,
    FAULTS,
    HANDSHAKES,
    INFLIGHT,
    LIVE,
    STORE,
    SUMMARY,
    WEBHOOKS,
)  # fmt: skip


def webhooks_from(config: Config) -> Webhooks:
    hooks = Webhooks(ca_file=config.webhook_ca)
    if config.webhook_signing_key:
        hooks.signing_key = config.webhook_signing_key
    for text in config.webhooks:
        name, url = parse_webhook_option(text)
        hooks.everywhere.setdefault(name, []).append(url)
    return hooks


async def _close_webhooks(app: web.Application) -> None:
    await app[WEBHOOKS].close()


async def _end_streams(app: web.Application) -> None:
    app[LIVE].close()


async def _unknown(request: web.Request) -> web.Response:
    return not_emulated(request)


#: Inspection endpoints open to anyone: liveness, and the CA certificate (public anyway).
_OPEN_INSPECTION = frozenset({"/mockgun/health", "/mockgun/ca.pem"})


@web.middleware
async def canary_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request on the canary port proves the client skipped certificate verification:
    log it as ``insecure`` (with what identifies the client) and refuse it."""
    info = request.app[CONNECTIONS].for_request(request)
    if info is None or not info.canary:
        return await handler(request)
    request.app[HANDSHAKES].write(
        {
            "ts": rfc3339_now(),
            "conn_id": info.conn_id,
            "peer": info.peer,
            "outcome": "insecure",
            "canary": True,
            "tls_version": info.tls_version,
            "sni": info.sni,
            "ja4": info.ja4,
            "method": request.method,
            "path": request.path,
            "user_agent": request.headers.get("User-Agent"),
            "error": "the client accepted a certificate from an unknown CA for another host "
            "name, and sent an HTTP request: it does not verify TLS certificates",
        }
    )
    return json_error(
        403,
        "mockgun canary: this client accepted a certificate it should have refused; "
        "it does not verify TLS certificates",
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTTP Basic auth for every emulated Mailgun endpoint (user ``api``; any key unless
    ``--api-key`` is set) and, with ``--api-key`` set, for ``/mockgun/*`` too: messages are
    private data. Unemulated paths get their 404 without it."""
    config = request.app[CONFIG]
    path = request.path
    if path.startswith("/mockgun/"):
        needed = config.api_key is not None and path not in _OPEN_INSPECTION
    else:
        needed = request.match_info.route.handler not in (_unknown, ui.root)
    if needed and not authorised(request, config.api_key):
        response = forbidden()
        if path.startswith("/mockgun/"):  # so that a browser asks for the key (the web page)
            response.headers["WWW-Authenticate"] = 'Basic realm="mockgun", charset="UTF-8"'
        return response
    return await handler(request)


def create_app(
    config: Config | None = None,
    *,
    store: MessageStore | None = None,
    connections: ConnectionRegistry | None = None,
    handshakes: HandshakeLog | None = None,
    faults: FaultBook | None = None,
    webhooks: Webhooks | None = None,
) -> web.Application:
    """Build the app. Handler tests call this directly; ``serve`` puts it behind TLS."""
    config = config or Config()
    connections = connections if connections is not None else ConnectionRegistry()

    def request_started(request: web.Request) -> None:
        connections.request_started(ssl_object_of(request))

    inflight = InFlight(on_request=request_started)
    # The form reader enforces max_message_size itself; this covers request.read() elsewhere.
    # The canary check looks up every request's connection: only when there is a canary.
    canary = [canary_guard] if config.canary_port is not None else []
    app = web.Application(
        middlewares=[inflight.middleware, error_middleware, *canary, auth_middleware],
        client_max_size=config.max_message_size,
    )
    app[INFLIGHT] = inflight
    app[CONFIG] = config
    app[STORE] = (
        store
        if store is not None
        else MessageStore(
            deliver=config.deliver,
            max_messages=config.max_messages,
            max_events=config.max_events,
        )
    )
    app[CONNECTIONS] = connections
    app[HANDSHAKES] = handshakes if handshakes is not None else HandshakeLog.in_memory()
    app[WEBHOOKS] = webhooks if webhooks is not None else webhooks_from(config)
    app[STORE].events.listeners.append(app[WEBHOOKS].dispatch)
    app.on_cleanup.append(_close_webhooks)
    app[FAULTS] = (
        faults if faults is not None else FaultBook([parse_rule(t) for t in config.faults])
    )
    app[LIVE] = Hub.watching(app[STORE], app[HANDSHAKES])
    app[SUMMARY] = LiveSummary()
    app.on_shutdown.append(_end_streams)
    for module in (
        messages, events, stored, domains, inspect, handshake_routes, stream, ui, fault_routes,
        webhook_routes,
    ):  # fmt: skip
        app.add_routes(module.routes)
    app.router.add_route("*", "/{tail:.*}", _unknown)
    return app
