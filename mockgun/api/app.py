"""``create_app()``: the aiohttp application, independent of how it is served.

Two URL surfaces, one package each: Mailgun's API (:mod:`.v3`) and mockgun's own
(:mod:`.inspect`). Every error leaves through :mod:`.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from ..config import Config
from ..faults import FaultBook, parse_rule
from ..log import logger
from ..mailgun.api_keys import KeyRing
from ..mailgun.domains import DomainBook
from ..mailgun.errors import MailgunError
from ..mailgun.forwarding import Forwarder, Inbox
from ..mailgun.links import UNSUBSCRIBE_PATH
from ..mailgun.lists import ListBook
from ..mailgun.routes import RouteBook
from ..mailgun.stats import StatsBook
from ..mailgun.suppressions import SuppressionBook
from ..mailgun.template_files import TemplateFolder
from ..mailgun.templates import TemplateBook
from ..mailgun.webhooks import Webhooks, parse_webhook_option
from ..outbound import JsonPoster
from ..persist import Persister
from ..spool import Spool
from ..store import MessageStore
from ..tls import records
from ..tls.connections import ConnectionRegistry, ssl_object_of
from ..tls.handshake_log import HandshakeLog
from ..tls.report import LiveSummary
from . import inspect, receiving, v3
from .auth import authorized, basic_credentials
from .errors import Handler, error_middleware, not_emulated
from .inflight import InFlight
from .inspect import ui
from .keys import (
    API_KEYS,
    CONFIG,
    CONNECTIONS,
    DOMAINS,
    FAULTS,
    FORWARDER,
    HANDSHAKES,
    INBOUND_WORKER,
    INBOX,
    INFLIGHT,
    LISTS,
    LIVE,
    OFFLOAD,
    PERSIST,
    RELAY,
    RENDERER,
    ROUTES,
    SMTP_PORTS,
    STARTED,
    STATS,
    STORE,
    SUMMARY,
    SUPPRESSIONS,
    TEMPLATE_FOLDER,
    TEMPLATES,
    WEBHOOKS,
)
from .live import Hub
from .offload import Offload, built
from .relay import Relay


def webhooks_from(config: Config, poster: JsonPoster | None = None) -> Webhooks:
    hooks = Webhooks(poster=poster or JsonPoster(ca_file=config.webhook_ca))
    if config.webhook_signing_key:
        hooks.signing_key = config.webhook_signing_key
    for text in config.webhooks:
        name, url = parse_webhook_option(text)
        hooks.everywhere.setdefault(name, []).append(url)
    return hooks


async def _unknown(request: web.Request) -> web.Response:
    raise not_emulated(request)


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
        records.insecure(
            info,
            method=request.method,
            path=request.path,
            user_agent=request.headers.get("User-Agent"),
        )
    )
    raise MailgunError(
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
        needed = (
            config.api_key is not None
            and path not in _OPEN_INSPECTION
            and not path.startswith(UNSUBSCRIBE_PATH)  # a recipient's mail client has no key
        )
    else:
        needed = request.match_info.route.handler not in (_unknown, ui.root)
    if needed and not _key_allows(request, config.api_key):
        # A challenge, as Mailgun's own 401 carries: clients that send credentials only when
        # challenged (urllib's auth handler, Java's Authenticator, .NET's NetworkCredential)
        # need it, and a browser asks for the key only when told to (the web page).
        realm = "mockgun" if path.startswith("/mockgun/") else "MG API"
        challenge = {"WWW-Authenticate": f'Basic realm="{realm}"'}
        raise MailgunError(401, "Forbidden", headers=challenge)
    return await handler(request)


def _key_allows(request: web.Request, account_key: str | None) -> bool:
    """A key made through /v1/keys is judged by its kind (a domain sending key may only send
    for its domain); any other by ``--api-key`` (any key when that is unset)."""
    credentials = basic_credentials(request.headers.get("Authorization"))
    made = request.app[API_KEYS].find(credentials[1]) if credentials is not None else None
    if made is not None and credentials is not None and credentials[0] == "api":
        return made.allows(request.method, request.path)
    return authorized(request, account_key)


def create_app(
    config: Config | None = None,
    *,
    connections: ConnectionRegistry | None = None,
    handshakes: HandshakeLog | None = None,
    spool: Spool | None = None,
) -> web.Application:
    """Build the app and everything it keeps (store, fault rules, webhooks) from ``config``.

    Handler tests call this directly; ``serve`` puts it behind TLS and reads the parts
    back through the app's keys.
    """
    config = config or Config()
    connections = connections if connections is not None else ConnectionRegistry()

    def request_started(request: web.Request) -> None:
        connections.request_started(ssl_object_of(request), request.headers.get("User-Agent"))

    def request_answered(request: web.Request) -> None:
        connections.request_finished(ssl_object_of(request))

    inflight = InFlight(on_request=request_started, on_answered=request_answered)
    # The form reader enforces max_message_size itself; this covers request.read() elsewhere.
    # The canary check looks up every request's connection: only when there is a canary.
    canary = [canary_guard] if config.canary_port is not None else []
    app = web.Application(
        middlewares=[
            inflight.middleware,
            error_middleware,
            *canary,
            auth_middleware,
            # Only with --data-dir: sends without it pay nothing for persistence.
            *([persist_middleware] if config.data_dir is not None else []),
        ],
        client_max_size=config.max_message_size,
    )
    app[STARTED] = time.time()
    app[SMTP_PORTS] = {}
    app[INFLIGHT] = inflight
    app[CONFIG] = config
    app[STORE] = MessageStore(
        max_messages=config.max_messages or None,
        max_events=config.max_events or None,
        spool=spool,
    )
    app[CONNECTIONS] = connections
    app[HANDSHAKES] = handshakes if handshakes is not None else HandshakeLog.in_memory()
    app[FAULTS] = FaultBook([parse_rule(t) for t in config.faults])
    poster = JsonPoster(ca_file=config.webhook_ca)  # one HTTP client for all outbound POSTs
    app[WEBHOOKS] = webhooks_from(config, poster)
    hooks = app[WEBHOOKS]
    app[FORWARDER] = Forwarder(
        signing_key=lambda: hooks.signing_key, scale=config.inbound_retry_scale, poster=poster
    )
    app[ROUTES] = RouteBook()
    app[INBOX] = Inbox()
    app[INBOUND_WORKER] = Offload(memory_limit=receiving.WORKER_MEMORY)
    app[DOMAINS] = DomainBook(config.domains, started=app[STARTED])
    app[API_KEYS] = KeyRing()
    app[LIVE] = Hub.watching(app[STORE], app[HANDSHAKES])
    app[SUMMARY] = LiveSummary()
    app[OFFLOAD] = Offload()
    app[RENDERER] = Offload(memory_limit=RENDER_MEMORY)
    app[TEMPLATES] = TemplateBook()
    app[SUPPRESSIONS] = SuppressionBook()
    # The lists fill themselves from events (bounces, complaints, unsubscribes), as Mailgun's.
    app[STORE].events.listeners.append(app[SUPPRESSIONS].learn)
    app[LISTS] = ListBook()
    app[STATS] = StatsBook()  # counted as events happen: tags and stats
    app[STORE].events.listeners.append(app[STATS].learn)
    if config.templates is not None:
        app[TEMPLATE_FOLDER] = TemplateFolder(config.templates, app[TEMPLATES])
        app.cleanup_ctx.append(_watch_templates)
    app.cleanup_ctx.append(_webhooks_listen)
    app.on_shutdown.append(_end_streams)  # open streams would hold up the shutdown
    if config.data_dir is not None:
        _keep_state(app, config.data_dir)
    if config.relay is not None:
        app[RELAY] = Relay(config.relay, app[STORE], app[OFFLOAD])
        app.cleanup_ctx.append(_relay_listen)
    for module in (*v3.MODULES, *inspect.MODULES):
        app.add_routes(module.routes)
    app.router.add_route("*", "/{tail:.*}", _unknown)
    return app


def _books(app: web.Application) -> dict[str, Any]:
    """What ``--data-dir`` keeps besides messages and events, by name."""
    return {
        "templates": app[TEMPLATES],
        "suppressions": app[SUPPRESSIONS],
        "lists": app[LISTS],
        "routes": app[ROUTES],
        "domains": app[DOMAINS],
        "api_keys": app[API_KEYS],
        "stats": app[STATS],
        "faults": app[FAULTS],
    }


def save_books(app: web.Application) -> None:
    persister = app[PERSIST]
    for name, book in _books(app).items():
        persister.book(name, book)
    hooks = app[WEBHOOKS]
    persister.book("webhooks", {"per_domain": hooks.per_domain, "deliveries": hooks.deliveries})


def _keep_state(app: web.Application, directory: Path) -> None:
    """``--data-dir``: put back what was kept, then keep everything that happens."""
    config = app[CONFIG]
    persister = Persister(
        directory, max_messages=config.max_messages or None, max_events=config.max_events or None
    )
    db = persister.open()
    books = {**_books(app), "webhooks": app[WEBHOOKS]}
    counts = persister.restore(db, app[STORE], books)
    logger.info("restored from %s: %s", persister.path, counts)
    # This start's options still decide what they decide: its --domain list, its --fault rules.
    app[DOMAINS].reseed(config.domains, started=app[STARTED])
    saved = {rule.source for rule in app[FAULTS].rules}
    for text in config.faults:
        if text not in saved:
            app[FAULTS].add(parse_rule(text))
    app[STORE].listeners.append(persister.message)
    app[STORE].events.listeners.append(persister.events)
    app[PERSIST] = persister

    async def writer(app: web.Application) -> AsyncIterator[None]:
        persister.start(db)

        async def learn() -> None:
            # Books that change with events (suppressions learned from bounces, stats, list
            # unsubscribes) are kept every few seconds; the API's changes at once.
            while True:
                await asyncio.sleep(BOOKS_EVERY)
                save_books(app)

        task = asyncio.create_task(learn())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        save_books(app)
        await asyncio.to_thread(persister.close)

    app.cleanup_ctx.append(writer)


async def _relay_listen(app: web.Application) -> AsyncIterator[None]:
    """The relay hears of every event while the app runs (deliveries are what it sends)."""
    relay = app[RELAY]
    app[STORE].events.listeners.append(relay.listen)
    yield
    app[STORE].events.listeners.remove(relay.listen)
    await relay.close()


#: Seconds between saves of the books that change with events.
BOOKS_EVERY = 5.0

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def persist_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With ``--data-dir``: an answer to a change is given once the change is on disk (a
    send's message and events; for other changes, the books)."""
    response = await handler(request)
    if request.method not in _READS and response.status < 400:
        persister = request.app[PERSIST]
        if not request.path.endswith(("/messages", "/messages.mime")):
            save_books(request.app)
        await persister.durable()
    return response


#: Address space of the template-rendering worker: a runaway {{#each}} hits this, not the host.
RENDER_MEMORY = 1024 * 1024 * 1024


#: Seconds between looks at the --templates folder for changed files.
TEMPLATES_POLL = 1.0


async def _watch_templates(app: web.Application) -> AsyncIterator[None]:
    """Reload the --templates folder when its files change (a look a second, off the loop)."""
    folder = app[TEMPLATE_FOLDER]

    async def watch() -> None:
        while True:
            await asyncio.sleep(TEMPLATES_POLL)
            happened = await asyncio.to_thread(folder.poll)
            if happened is not None:
                logger.warning("templates in %s: %s", folder.directory, happened)

    task = asyncio.create_task(watch())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _webhooks_listen(app: web.Application) -> AsyncIterator[None]:
    """Webhooks hear of every event while the app runs; deliveries under way get a moment
    to finish when it stops."""
    listeners = app[STORE].events.listeners
    listeners.append(app[WEBHOOKS].dispatch)

    async def with_size(event: dict[str, Any]) -> None:
        """The message size, as in Mailgun's events (known once the message is built)."""
        info = event.get("message", {})
        message = app[STORE].by_key(event.get("storage", {}).get("key", ""))
        if info.get("size") is None and message is not None:
            with contextlib.suppress(RuntimeError):  # the server is stopping
                info["size"] = (await built(app[OFFLOAD], message)).mime.size

    app[WEBHOOKS].prepare = with_size
    yield
    listeners.remove(app[WEBHOOKS].dispatch)
    await app[FORWARDER].close()
    await app[WEBHOOKS].close()


async def _end_streams(app: web.Application) -> None:
    app[LIVE].close()
    app[OFFLOAD].close()  # a render in progress must not hold the stop up
    app[RENDERER].close()
    app[INBOUND_WORKER].close()
