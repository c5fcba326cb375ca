"""The listening port: mockgun's own accept loop in front of aiohttp.

``web.TCPSite`` hands aiohttp only connections whose TLS handshake succeeded,
so a refused client would leave no trace. :class:`TLSSite` accepts sockets
itself, runs each handshake with ``loop.connect_accepted_socket`` (where a
server-side handshake error does surface), writes one handshake-log line per
attempt, and then leaves the connection to aiohttp exactly as ``TCPSite`` would.
It is a ``web.BaseSite``, so ``AppRunner.cleanup()`` shuts it down as usual.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import socket
import ssl
import sys
import time
import weakref
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .handshake_log import HandshakeLog, rfc3339_now
from .policy import version_label

#: Running out of descriptors is survivable: stop accepting this long, then try again.
ACCEPT_RETRY_DELAY = 0.5
_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


@dataclass(frozen=True)
class ConnectionInfo:
    """What one TLS connection negotiated; requests on it are stamped with this."""

    conn_id: int
    peer: str
    tls_version: str | None
    cipher: str | None
    sni: str | None
    alpn: str | None


class ConnectionRegistry:
    """Finds the :class:`ConnectionInfo` of a live connection from its ``ssl_object``.

    Keyed weakly, so a closed connection's entry disappears with it.
    """

    def __init__(self) -> None:
        self._by_ssl: weakref.WeakKeyDictionary[Any, ConnectionInfo] = weakref.WeakKeyDictionary()

    def add(self, ssl_object: Any, info: ConnectionInfo) -> None:
        self._by_ssl[ssl_object] = info

    def lookup(self, ssl_object: Any) -> ConnectionInfo | None:
        return self._by_ssl.get(ssl_object) if ssl_object is not None else None


class TLSSite(web.BaseSite):
    """Listens on ``host:port`` and logs every handshake attempt before aiohttp sees it."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext,
        handshake_log: HandshakeLog,
        registry: ConnectionRegistry,
        handshake_timeout: float = 10.0,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        #: What the policy accepts, for error sentences ("TLS 1.2-1.3").
        self._accepts = version_label(
            "1.2" if ssl_context.maximum_version == ssl.TLSVersion.TLSv1_2 else "1.3"
        )
        self._host = host
        self._requested_port = port
        self._ctx = ssl_context
        self._log = handshake_log
        self._registry = registry
        self._handshake_timeout = handshake_timeout
        self._listeners: list[socket.socket] = []
        self._bound_port = 0
        self._pending: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._sni: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None
        ssl_context.sni_callback = self._remember_sni

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"https://{host}:{self.port}"

    @property
    def port(self) -> int:
        return self._bound_port or self._requested_port

    @property
    def pending_handshakes(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        await super().start()
        self._loop = asyncio.get_running_loop()
        self._listeners = _bind(self._host, self._requested_port, self._backlog)
        self._bound_port = int(self._listeners[0].getsockname()[1])
        for sock in self._listeners:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    async def close_listeners(self) -> None:
        """Stop accepting; connections already accepted carry on. Safe to call twice."""
        for sock in self._listeners:
            if sock.fileno() != -1:
                if self._loop is not None:
                    self._loop.remove_reader(sock.fileno())
                sock.close()

    async def stop(self) -> None:
        await self.close_listeners()
        pending = list(self._pending)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await super().stop()

    def _accept(self, listener: socket.socket) -> None:
        assert self._loop is not None
        for _ in range(self._backlog):
            try:
                conn, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRNOS:
                    print(
                        f"mockgun: cannot accept connections ({exc.strerror}); "
                        f"pausing accepts for {ACCEPT_RETRY_DELAY}s",
                        file=sys.stderr,
                    )
                    self._loop.remove_reader(listener.fileno())
                    self._loop.call_later(ACCEPT_RETRY_DELAY, self._resume, listener)
                return  # ECONNABORTED and friends: the peer is gone already
            conn.setblocking(False)
            task = self._loop.create_task(self._handshake(conn, addr))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def _resume(self, listener: socket.socket) -> None:
        if self._loop is not None and listener.fileno() != -1:
            self._loop.add_reader(listener.fileno(), self._accept, listener)

    def _remember_sni(self, ssl_object: Any, server_name: str | None, _ctx: Any) -> None:
        if server_name:
            self._sni[ssl_object] = server_name

    async def _handshake(self, conn: socket.socket, addr: Any) -> None:
        assert self._loop is not None
        conn_id = next(self._ids)
        started = time.perf_counter()
        record: dict[str, Any] = {
            "ts": rfc3339_now(),
            "conn_id": conn_id,
            "peer": format_peer(addr),
        }
        server = self._runner.server
        assert server is not None
        try:
            # From here on the transport owns the socket, even when the handshake fails.
            transport, _ = await self._loop.connect_accepted_socket(
                server, conn, ssl=self._ctx, ssl_handshake_timeout=self._handshake_timeout
            )
        except asyncio.CancelledError:
            record.update(outcome="failed", error="the server shut down mid-handshake")
            self._finish(record, started)
            raise
        except Exception as exc:  # every failure is a log line, never a crash
            record.update(_classify_failure(exc, self._accepts))
            self._finish(record, started)
            return
        ssl_object = transport.get_extra_info("ssl_object")
        cipher = ssl_object.cipher()
        info = ConnectionInfo(
            conn_id=conn_id,
            peer=record["peer"],
            tls_version=ssl_object.version(),
            cipher=cipher[0] if cipher else None,
            sni=self._sni.get(ssl_object),
            alpn=ssl_object.selected_alpn_protocol(),
        )
        self._registry.add(ssl_object, info)
        record.update(
            outcome="ok",
            tls_version=info.tls_version,
            cipher=info.cipher,
            sni=info.sni,
            alpn=info.alpn,
            resumed=bool(ssl_object.session_reused),
        )
        self._finish(record, started)

    def _finish(self, record: dict[str, Any], started: float) -> None:
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self._log.write(record)


def format_peer(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(addr)


def _classify_failure(exc: BaseException, accepts: str) -> dict[str, str]:
    """Turn a handshake exception into ``outcome`` and a sentence for people."""
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason in {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION"}:
            return {
                "outcome": "rejected",
                "error": f"client offered no TLS version this endpoint accepts ({accepts}); "
                "TLS 1.0 and 1.1 are refused",
            }
        if reason in {"HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "WRONG_VERSION_NUMBER"}:
            return {"outcome": "not_tls", "error": "the client did not speak TLS"}
        if reason == "NO_SHARED_CIPHER":
            return {
                "outcome": "failed",
                "error": "no cipher in common: this endpoint offers ECDHE with AES-GCM "
                "or ChaCha20-Poly1305 only",
            }
        if isinstance(exc, ssl.SSLEOFError):
            return {"outcome": "closed", "error": "the client closed mid-handshake"}
        return {"outcome": "failed", "error": f"TLS handshake failed: {reason or exc}"}
    if isinstance(exc, (ConnectionAbortedError, TimeoutError)):
        return {"outcome": "timeout", "error": "no finished handshake in time"}
    if isinstance(exc, (ConnectionError, EOFError)):
        return {"outcome": "closed", "error": "the client went away mid-handshake"}
    return {"outcome": "failed", "error": f"handshake failed: {exc!r}"}


def _bind(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Bind every address ``host`` resolves to; with port 0 they share the first one's port."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen: set[Any] = set()
    try:
        for family, kind, proto, _name, sockaddr in infos:
            if sockaddr[0] in seen:
                continue
            seen.add(sockaddr[0])
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                sockaddr = (sockaddr[0], sockets[0].getsockname()[1], *sockaddr[2:])
            sock.bind(sockaddr)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets
