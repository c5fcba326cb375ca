"""Putting it together: certificates, TLS policy, listener, app and log, started and stopped as one.

Data flows one way: listener (handshake + log line) -> aiohttp app -> handlers -> store.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .api.app import create_app
from .api.errors import MailgunShapedProtocol
from .api.keys import FAULTS, INFLIGHT, LISTS, LIVE, SMTP_PORTS, STORE, SUPPRESSIONS, WEBHOOKS
from .certs import CertResult, ensure_canary_certs, ensure_certs
from .config import Config
from .faults import FaultBook
from .mailgun.lists import ListBook
from .mailgun.suppressions import SuppressionBook
from .mailgun.webhooks import Webhooks
from .spool import Spool
from .store import MessageStore
from .tls.connections import ConnectionRegistry
from .tls.handshake_log import HandshakeLog
from .tls.listener import TLSSite
from .tls.policy import server_context

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
    webhooks: Webhooks
    suppressions: SuppressionBook
    lists: ListBook
    #: The canary listener's port, when one was asked for.
    canary_port: int | None = None
    #: The application itself (for what runs on its event loop: inbound mail, say).
    app: web.Application | None = None
    #: The SMTP door's ports (STARTTLS, implicit TLS), when asked for.
    smtp_port: int | None = None
    smtps_port: int | None = None

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


@asynccontextmanager
async def serve(config: Config) -> AsyncIterator[Server]:
    """Run mockgun until the ``async with`` block ends; then finish in-flight requests and stop."""
    certs = ensure_certs(config.certs_dir, _cert_names(config))
    log = HandshakeLog.open(config.handshake_log)
    connections = ConnectionRegistry(request_timeout=config.request_timeout)
    spool = Spool()  # large attachments and messages, on disk; removed at stop
    app = create_app(config, connections=connections, handshakes=log, spool=spool)
    handler_args: dict[str, Any] = {
        "access_log": None,
        # After a 408/413, how long aiohttp keeps draining the unread body so that the client
        # reads the answer instead of a reset (its default of 10 s would let slow clients linger).
        "lingering_time": 2.0,
    }
    # serve() drains requests in flight itself (below), for --shutdown-timeout; what is still
    # running after that is cancelled at once rather than waited for a second time.
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1, **handler_args)
    await runner.setup()
    http = runner.server
    assert http is not None

    def protocol() -> asyncio.Protocol:
        # aiohttp's own protocol, answering its own errors in Mailgun's shape too.
        return MailgunShapedProtocol(
            http, registry=connections, loop=asyncio.get_running_loop(), **handler_args
        )

    conn_ids = itertools.count(1)  # shared, so that conn_ids never repeat across ports
    sites: list[TLSSite] = []
    smtp_servers: list[asyncio.base_events.Server] = []

    async def listen(
        port: int,
        chains: list[tuple[Path, Path]],
        *,
        ca_file: Path | None = None,
        canary: bool = False,
        cert_names: tuple[str, ...] = (),
        factory: Callable[[], asyncio.Protocol] | None = None,
        listener: str | None = None,
    ) -> TLSSite:
        site = TLSSite(
            runner,
            config,
            port=port,
            ssl_context=server_context(chains, tls_max=config.tls_max, ciphers=config.ciphers),
            handshake_log=log,
            registry=connections,
            ca_file=ca_file,
            protocol_factory=factory or protocol,
            canary=canary,
            cert_names=cert_names,
            conn_ids=conn_ids,
            listener=listener,
        )
        sites.append(site)
        await site.start()
        return site

    try:
        paths = certs.paths
        main = await listen(
            config.port,
            paths.leaves(),
            ca_file=paths.ca_cert.resolve(),
            cert_names=certs.hostnames,
        )
        canary_port = None
        if config.canary_port is not None:
            # The certificate-verification canary: same app, a certificate no client should accept.
            canary = ensure_canary_certs(config.certs_dir)
            site = await listen(
                config.canary_port, [(canary.server_cert, canary.server_key)], canary=True
            )
            canary_port = site.port
        smtp_port = smtps_port = None
        if config.smtp_port is not None or config.smtps_port is not None:
            from .smtp.door import Door  # noqa: PLC0415 - only when the SMTP door is asked for

            ctx = server_context(paths.leaves(), tls_max=config.tls_max, ciphers=config.ciphers)
            door = Door(app, config, ctx, log, conn_ids, main.name)
            if config.smtp_port is not None:
                plain = await asyncio.get_running_loop().create_server(
                    lambda: door.protocol(implicit=False), config.host, config.smtp_port
                )
                smtp_servers.append(plain)
                smtp_port = door.smtp_port = plain.sockets[0].getsockname()[1]
                app[SMTP_PORTS]["starttls"] = smtp_port
            if config.smtps_port is not None:
                site = await listen(
                    config.smtps_port,
                    paths.leaves(),
                    cert_names=certs.hostnames,
                    factory=lambda: door.protocol(implicit=True),
                    listener="smtps:{port}",
                )
                smtps_port = app[SMTP_PORTS]["implicit_tls"] = site.port
        yield Server(
            config=config,
            port=main.port,
            certs=certs,
            store=app[STORE],
            handshake_log=log,
            faults=app[FAULTS],
            suppressions=app[SUPPRESSIONS],
            lists=app[LISTS],
            webhooks=app[WEBHOOKS],
            canary_port=canary_port,
            app=app,
            smtp_port=smtp_port,
            smtps_port=smtps_port,
        )
    finally:
        # Stop taking connections, let requests in flight (uploads too) finish, then close.
        for site in sites:
            await site.close_listeners()
        for smtp in smtp_servers:
            smtp.close()
        app[LIVE].close()  # live streams would otherwise count as requests in flight
        await app[INFLIGHT].drain(config.shutdown_timeout)
        await runner.cleanup()
        connections.release_all()  # lines still waiting for a first request's User-Agent
        log.close()
        spool.close()
