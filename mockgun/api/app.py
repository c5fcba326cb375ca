"""``create_app()``: the aiohttp application, independent of how it is served."""

from __future__ import annotations

from aiohttp import web

from ..config import Config
from ..store import MessageStore
from ..tls.connections import ConnectionRegistry
from ..tls.handshake_log import HandshakeLog
from . import domains, events, inspect, messages, stored
from .errors import error_middleware, not_emulated
from .inflight import InFlight
from .keys import CONFIG, CONNECTIONS, HANDSHAKES, INFLIGHT, STORE


async def _unknown(request: web.Request) -> web.Response:
    return not_emulated(request)


def create_app(
    config: Config | None = None,
    *,
    store: MessageStore | None = None,
    connections: ConnectionRegistry | None = None,
    handshakes: HandshakeLog | None = None,
) -> web.Application:
    """Build the app. Handler tests call this directly; ``serve`` puts it behind TLS."""
    config = config or Config()
    inflight = InFlight()
    # The form reader enforces max_message_size itself; this covers request.read() elsewhere.
    app = web.Application(
        middlewares=[inflight.middleware, error_middleware],
        client_max_size=config.max_message_size,
    )
    app[INFLIGHT] = inflight
    app[CONFIG] = config
    app[STORE] = (
        store
        if store is not None
        else MessageStore(deliver=config.deliver, max_messages=config.max_messages)
    )
    app[CONNECTIONS] = connections if connections is not None else ConnectionRegistry()
    app[HANDSHAKES] = handshakes if handshakes is not None else HandshakeLog.in_memory()
    for module in (messages, events, stored, domains, inspect):
        app.add_routes(module.routes)
    app.router.add_route("*", "/{tail:.*}", _unknown)
    return app
