"""Putting it together: certificates, TLS policy, listener, app and log, started and stopped as one.

Data flows one way: listener (handshake + log line) -> aiohttp app -> handlers -> store.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .api.app import create_app, webhooks_from
from .api.keys import INFLIGHT, LIVE
from .certs import CertResult, ensure_canary_certs, ensure_certs
from .config import Config
from .faults import FaultBook, parse_rule
from .spool import Spool
from .store import MessageStore
from .tls.connections import ConnectionRegistry
from .tls.handshake_log import HandshakeLog
from .tls.listener import TLSSite
from .tls.policy import server_context
from .webhooks import Webhooks

_WILDCARDS = {"", "0.0.0.0", "::"}  # noqa: S104 - names, not binds


@dataclass(frozen=True)
class Server:
    """A running mockgun, as seen by whoever started it."""

    config: Config
    port: int
    certs: CertResult
    store: MessageStore
    handshake_log: HandshakeLog
    faults: FaultBook
    #: The canary listener's port, when one was asked for.
    canary_port: int | None = None
    webhooks: Webhooks | None = None

    @property
    def host_for_urls(self) -> str:
        host = "localhost" if self.config.host in _WILDCARDS else self.config.host
        return f"[{host}]" if ":" in host else host

    @property
    def base_url(self) -> str:
        """What the official SDKs and mailgun.js want: scheme, host and port only."""
        return f"https://{self.host_for_urls}:{self.port}"

    @property
    def api_url(self) -> str:
        """What django-anymail's ``MAILGUN_API_URL`` wants: the base URL plus ``/v3``."""
        return f"{self.base_url}/v3"

    @property
    def ca_file(self) -> Path:
        return self.certs.paths.ca_cert.resolve()


def _cert_names(config: Config) -> list[str]:
    names = list(config.hostnames)
    if config.host not in _WILDCARDS:
        names.append(config.host)  # a specific bind address or name must verify too
    return names


async def _start_canary(
    config: Config,
    runner: web.AppRunner,
    log: HandshakeLog,
    connections: ConnectionRegistry,
    conn_ids: Iterator[int],
) -> TLSSite | None:
    """The certificate-verification canary: same app, a certificate no client should accept."""
    if config.canary_port is None:
        return None
    paths = ensure_canary_certs(config.certs_dir)
    context = server_context(paths.server_cert, paths.server_key, tls_max=config.tls_max)
    canary = TLSSite(
        runner, config.host, config.canary_port, ssl_context=context, tls_max=config.tls_max,
        handshake_log=log, registry=connections, handshake_timeout=config.handshake_timeout,
        max_pending=config.max_pending_handshakes, request_timeout=config.request_timeout,
        canary=True, conn_ids=conn_ids,
    )  # fmt: skip
    await canary.start()
    return canary


@asynccontextmanager
async def serve(config: Config) -> AsyncIterator[Server]:
    """Run mockgun until the ``async with`` block ends; then finish in-flight requests and stop."""
    certs = ensure_certs(config.certs_dir, _cert_names(config))
    ssl_context = server_context(
        certs.paths.server_cert, certs.paths.server_key, tls_max=config.tls_max
    )
    log = HandshakeLog.open(config.handshake_log)
    connections = ConnectionRegistry()
    spool = Spool()  # large attachments and messages, on disk; removed at stop
    store = MessageStore(
        deliver=config.deliver,
        max_messages=config.max_messages,
        max_events=config.max_events,
        spool=spool,
    )
    faults = FaultBook([parse_rule(text) for text in config.faults])
    webhooks = webhooks_from(config)
    app = create_app(
        config, store=store, connections=connections, handshakes=log, faults=faults,
        webhooks=webhooks,
    )  # fmt: skip
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=config.shutdown_timeout,
        # After a 408/413, how long aiohttp keeps draining the unread body so that the client
        # reads the answer instead of a reset (its default of 10 s would let slow clients linger).
        lingering_time=2.0,
    )
    await runner.setup()
    conn_ids = itertools.count(1)
    canary: TLSSite | None = None
    try:
        site = TLSSite(
            runner,
            config.host,
            config.port,
            ssl_context=ssl_context,
            tls_max=config.tls_max,
            handshake_log=log,
            registry=connections,
            handshake_timeout=config.handshake_timeout,
            max_pending=config.max_pending_handshakes,
            brief_log=config.handshake_log_detail == "brief",
            ca_file=certs.paths.ca_cert.resolve(),
            request_timeout=config.request_timeout,
            conn_ids=conn_ids,
        )
        await site.start()
        canary = await _start_canary(config, runner, log, connections, conn_ids)
        yield Server(
            config=config, port=site.port, certs=certs, store=store, handshake_log=log,
            faults=faults, canary_port=canary.port if canary is not None else None,
            webhooks=webhooks,
        )  # fmt: skip
    finally:
        # Stop taking connections, let requests in flight (uploads too) finish, then close.
        await site.close_listeners()
        if canary is not None:
            await canary.close_listeners()
        app[LIVE].close()  # live streams would otherwise count as requests in flight
        await app[INFLIGHT].drain(config.shutdown_timeout)
        await runner.cleanup()
        log.close()
        spool.close()
