"""The listening port: mockgun's own accept loop in front of aiohttp.

``web.TCPSite`` hands aiohttp only connections whose TLS handshake succeeded,
so a refused client would leave no trace. :class:`TLSSite` accepts sockets
itself and, for each one:

1. peeks at the ClientHello (without consuming it) and parses it;
2. refuses what cannot succeed the way a real server would: the alert OpenSSL sends
   (``protocol_version`` for clients offering only old TLS versions, ``decode_error``
   and friends for a malformed hello; see :mod:`.alerts`), an ``HTTP/1.1 400`` for plain
   HTTP, and a plain close for anything else;
3. hands the rest to OpenSSL with ``loop.connect_accepted_socket``, where a
   server-side handshake error does surface (and its alert is sent, which asyncio
   alone would not do), and then to aiohttp exactly as ``TCPSite`` would;
4. writes one handshake-log line, whatever happened.

One deadline, measured from accept, covers peek and handshake, so a client
dripping bytes cannot hold a connection forever. It is a ``web.BaseSite``, so
``AppRunner.cleanup()`` shuts it down as usual.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from ..config import Config
from ..log import logger
from . import records
from .alerts import PROTOCOL_VERSION, alert_record, first_alert, openssl_answer
from .clienthello import TLS1_2, ClientHello, MalformedHello, NotTLS, TooLarge, version_name
from .connections import ConnectionRegistry, TrackedProtocol, negotiated
from .handshake_log import HandshakeLog
from .peek import HelloTimeout, PeerClosed, close_with_reply, peek_hello
from .policy import HEALTHCHECK_ALPN, accepted_versions, version_label
from .records import HandshakeRecord

#: Running out of descriptors is survivable: stop accepting this long, then try again.
ACCEPT_RETRY_DELAY = 0.5
_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class TLSSite(web.BaseSite):
    """Listens on ``host:port`` and logs every handshake attempt before aiohttp sees it."""

    def __init__(
        self,
        runner: web.BaseRunner,
        config: Config,
        *,
        port: int,
        ssl_context: ssl.SSLContext,
        handshake_log: HandshakeLog,
        registry: ConnectionRegistry,
        ca_file: Path | None = None,
        protocol_factory: Callable[[], asyncio.Protocol] | None = None,
        canary: bool = False,
        cert_names: tuple[str, ...] = (),
        conn_ids: Iterator[int] | None = None,
        listener: str | None = None,
        backlog: int = 1024,  # bursts of CI clients connect at once; the kernel caps it anyway
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host = config.host
        self._requested_port = port
        self._ctx = ssl_context
        #: Wire values of the suites the context enables (TLS 1.3's included).
        self._suites = frozenset(c["id"] & 0xFFFF for c in ssl_context.get_ciphers())
        self._accepted = accepted_versions(config.tls_max)
        self._label = version_label(config.tls_max)
        self._log = handshake_log
        self._registry = registry
        self._handshake_timeout = config.handshake_timeout
        self._max_pending = config.max_pending_handshakes
        self._brief = config.handshake_log_detail == "brief"
        self._ca_file = ca_file
        #: Makes each connection's HTTP protocol (default: the runner's aiohttp server).
        self._protocol_factory = protocol_factory
        self._plain_http_reply = b""
        self._listeners: list[socket.socket] = []
        self._bound_port = 0
        self._pending: set[asyncio.Task[None]] = set()
        #: Accepting is paused because the pending handshakes are at the cap.
        self._at_cap = False
        # Shared with the other listener, so that conn_ids never repeat across ports.
        self._ids = conn_ids if conn_ids is not None else itertools.count(1)
        self._canary = canary
        #: Names this port in each log line (``smtps:{port}``, filled with the bound port);
        #: None: the HTTPS port, unnamed.
        self._listener = listener
        #: The names the certificate covers: a client asking for another one will refuse it.
        self._cert_names = frozenset(name.lower() for name in cert_names)
        self._loop: asyncio.AbstractEventLoop | None = None

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
        self._plain_http_reply = plain_http_reply(self.name, self._ca_file)
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
        # Attempts still pending are logged as such and closed.
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
                    logger.warning(
                        "cannot accept connections (%s); pausing accepts for %ss",
                        exc.strerror,
                        ACCEPT_RETRY_DELAY,
                    )
                    self._loop.remove_reader(listener.fileno())
                    self._loop.call_later(ACCEPT_RETRY_DELAY, self._resume, listener)
                return  # ECONNABORTED and friends: the peer is gone already
            conn.setblocking(False)
            task = self._loop.create_task(self._attempt(conn, addr))
            self._pending.add(task)
            task.add_done_callback(self._attempt_done)
            if len(self._pending) >= self._max_pending:
                self._pause()  # the rest wait in the kernel's backlog, not refused
                return

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if self._at_cap and len(self._pending) < self._max_pending:
            self._at_cap = False
            for listener in self._listeners:
                self._resume(listener)

    def _pause(self) -> None:
        """Stop accepting while :attr:`pending_handshakes` is at the cap: connections beyond
        it wait in the kernel's listen backlog (1,024), and are served as others finish."""
        assert self._loop is not None
        self._at_cap = True
        for listener in self._listeners:
            if listener.fileno() != -1:
                self._loop.remove_reader(listener.fileno())

    def _resume(self, listener: socket.socket) -> None:
        if self._loop is not None and listener.fileno() != -1 and not self._at_cap:
            self._loop.add_reader(listener.fileno(), self._accept, listener)

    def _new_record(self, addr: Any) -> HandshakeRecord:
        record = records.new_attempt(next(self._ids), format_peer(addr), canary=self._canary)
        if self._listener is not None:
            record["listener"] = self._listener.format(port=self.port)
        return record

    async def _attempt(self, conn: socket.socket, addr: Any) -> None:
        """One connection, from accept to a log line."""
        assert self._loop is not None
        loop = self._loop
        record = self._new_record(addr)
        started = time.perf_counter()
        deadline = loop.time() + self._handshake_timeout
        owned = True  # until connect_accepted_socket, closing the socket is our job
        held = False  # a successful handshake's line waits for the first request's User-Agent
        hello: ClientHello | None = None
        data = b""
        try:
            try:
                hello, data = await peek_hello(loop, conn, deadline)
            except HelloTimeout:
                why = f"no complete ClientHello within {self._handshake_timeout:g}s"
                records.end(record, "timeout", why)
                return
            except PeerClosed as exc:
                records.end(record, "closed", str(exc))
                return
            except NotTLS as exc:
                records.end(record, "not_tls", str(exc))
                if exc.looks_like_http:
                    owned = False
                    await close_with_reply(
                        loop,
                        conn,
                        self._plain_http_reply,
                        deadline=min(deadline, loop.time() + 2),
                        read_until=b"\r\n\r\n",
                    )
                return
            except MalformedHello as exc:
                # OpenSSL has the last word: its alert if it refuses too, else the handshake.
                answer = openssl_answer(self._ctx, exc.data)
                if not answer.accepted:
                    records.end(record, "failed", f"{exc} (OpenSSL: {answer.reason})")
                    owned = False
                    await self._refuse(record, conn, answer.reply, deadline)
                    return
                data = exc.data
            except TooLarge as exc:
                record["client_hello_bytes"] = exc.length  # OpenSSL decides, uninspected

            if hello is not None:
                records.add_offer(record, hello)
                if HEALTHCHECK_ALPN in hello.alpn:
                    record["healthcheck"] = True
                if not hello.offers_any(self._accepted):
                    records.end(record, "rejected", self._rejection(hello))
                    answer = openssl_answer(self._ctx, data)
                    # Should OpenSSL disagree, the policy stands: the alert it would send.
                    reply = answer.reply or alert_record(PROTOCOL_VERSION, hello.legacy_version)
                    owned = False
                    await self._refuse(record, conn, reply, deadline)
                    return

            owned = False  # from here on the transport owns the socket, even on failure
            held = await self._hand_over(record, conn, hello, data, deadline, started)
        except asyncio.CancelledError:
            records.end(record, "failed", "mockgun shut down before the handshake finished")
            raise
        finally:
            if owned:
                await _close_owned(loop, conn)
            if not held:
                record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
                self._log.write(record)

    async def _hand_over(
        self,
        record: HandshakeRecord,
        conn: socket.socket,
        hello: ClientHello | None,
        data: bytes,
        deadline: float,
        started: float,
    ) -> bool:
        """OpenSSL's handshake, then aiohttp. Should OpenSSL refuse, its alert is sent.
        Returns whether the connection now holds the log line (see :meth:`_record_success`)."""
        assert self._loop is not None
        loop = self._loop
        remaining = max(deadline - loop.time(), 0.001)
        factory = self._protocol_factory or self._default_protocol
        # asyncio closes a failed handshake without sending the alert OpenSSL wrote: keep a
        # second descriptor on the connection, so that the alert can still go out on it.
        spare = conn.dup()
        try:
            transport, _ = await loop.connect_accepted_socket(
                factory, conn, ssl=self._ctx, ssl_handshake_timeout=remaining
            )
        except Exception as exc:  # every failure is a log line, never a crash
            records.end(record, *_classify_failure(exc, hello, self._suites))
            sni = self._uncovered_name(hello)
            if sni is not None and "refused mockgun's certificate" in record.get("error", ""):
                record["error"] += (
                    f"; it asked for {sni!r}, which the certificate does not cover: serve with "
                    f"--hostname {sni}"
                )
            answer = openssl_answer(self._ctx, data) if isinstance(exc, ssl.SSLError) else None
            if answer is not None and not answer.accepted:
                await self._refuse(record, spare, answer.reply, deadline)
            else:
                spare.close()
            return False
        except BaseException:
            spare.close()
            raise
        spare.close()
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self._record_success(record, transport, hello)
        return True

    async def _refuse(
        self, record: HandshakeRecord, conn: socket.socket, reply: bytes, deadline: float
    ) -> None:
        """Send OpenSSL's alert (noted in the log) and close."""
        alert = first_alert(reply)
        if alert is not None:
            record["alert_sent"] = alert
        assert self._loop is not None
        await close_with_reply(self._loop, conn, reply, deadline=deadline + 1)

    def _default_protocol(self) -> asyncio.Protocol:
        server = self._runner.server
        assert server is not None and self._loop is not None
        return TrackedProtocol(server, registry=self._registry, loop=self._loop)

    def _record_success(
        self,
        record: HandshakeRecord,
        transport: asyncio.BaseTransport,
        hello: ClientHello | None,
    ) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        sni = hello.sni if hello is not None else None
        info = negotiated(dict(record), ssl_object, sni, canary=self._canary)
        records.add_session(record, info, resumed=bool(ssl_object.session_reused))
        sni = self._uncovered_name(hello)
        if sni is not None:
            # A verifying client refuses such a certificate; one that goes on does not check
            # host names, and the same code will fail against a real server's name mismatch.
            record["warning"] = (
                f"the client asked for {sni!r}, a name the certificate does not cover, and went "
                "on: it does not check host names (a client that does refuses the certificate; "
                f"serve with --hostname {sni} for those)"
            )
        if self._brief:
            records.make_brief(record)
        log = self._log

        def write(user_agent: str | None) -> None:
            if user_agent is not None:
                record["user_agent"] = user_agent
            log.write(record)

        # The line is written at the first request (with its User-Agent), or soon after.
        self._registry.add(ssl_object, info, transport, hold=write)

    def _uncovered_name(self, hello: ClientHello | None) -> str | None:
        """The server name the client asked for, if the certificate does not cover it."""
        sni = hello.sni if hello is not None else None
        if not sni or not self._cert_names or sni.lower().rstrip(".") in self._cert_names:
            return None
        return sni[: records.MAX_NAME]

    def _rejection(self, hello: ClientHello) -> str:
        if hello.max_version < TLS1_2:
            return (
                f"client offered at most {version_name(hello.max_version)}; "
                "this endpoint requires TLS 1.2 or newer"
            )
        offered = ", ".join(version_name(v) for v in hello.versions)
        return f"client offered {offered}; this endpoint accepts {self._label}"


def plain_http_reply(base_url: str, ca_file: Path | None) -> bytes:
    """The 400 a plain-HTTP request on the TLS port gets: what went wrong and how to fix it."""
    lines = [
        "This is mockgun, a Mailgun API endpoint that speaks HTTPS only (TLS 1.2 or newer).",
        f"Use {base_url}/ instead of http://.",
    ]
    if ca_file is not None:
        lines.append(f"Trust the CA certificate in {ca_file}, e.g. curl --cacert {ca_file} ...")
    body = ("\n".join(lines) + "\n").encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


async def _close_owned(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    if conn.fileno() != -1:
        await close_with_reply(loop, conn, deadline=loop.time())


def format_peer(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(addr)


#: OpenSSL's reasons for a client's alert that says it does not trust the certificate.
_DISTRUST = {
    "TLSV1_ALERT_UNKNOWN_CA": "unknown_ca",
    "SSLV3_ALERT_BAD_CERTIFICATE": "bad_certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "certificate_unknown",
    "TLSV1_ALERT_DECRYPT_ERROR": "decrypt_error",
}


def _classify_failure(
    exc: BaseException, hello: ClientHello | None, suites: frozenset[int]
) -> tuple[records.Outcome, str]:
    """Turn an OpenSSL-side handshake failure into ``outcome`` and a sentence for people."""
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason == "NO_SHARED_CIPHER":
            if hello is not None and not suites.intersection(hello.cipher_suites):
                return "failed", (
                    "no cipher suite in common: the client offered none of the suites "
                    "this endpoint accepts (see --ciphers)"
                )
            return "failed", (
                "no cipher suite in common: the client's suites need a certificate, "
                "signature algorithm or group that it and this endpoint do not share"
            )
        if reason == "INAPPROPRIATE_FALLBACK":
            return "failed", (
                "the client retried with a lower TLS version and said so (TLS_FALLBACK_SCSV): "
                "its first attempt failed for another reason"
            )
        if reason in {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION"}:
            return "rejected", "no TLS version in common with the client"
        if reason in _DISTRUST:
            return "failed", (
                f"the client refused mockgun's certificate ({_DISTRUST[reason]}): it does not "
                "trust the mockgun CA, or the host name it used is not on the certificate"
            )
        if isinstance(exc, ssl.SSLEOFError):
            return "closed", "the client closed the connection mid-handshake"
        return "failed", f"TLS handshake failed: {reason or exc}"
    if isinstance(exc, (ConnectionAbortedError, TimeoutError)):
        return "timeout", "the TLS handshake did not finish in time"
    if isinstance(exc, (ConnectionError, EOFError)):
        return "closed", "the client went away mid-handshake"
    return "failed", f"handshake failed: {exc!r}"


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
