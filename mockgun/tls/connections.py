"""Each live TLS connection: what it negotiated (for the handlers to stamp on its requests),
the deadline for the headers of its next request, and its handshake-log line until the first
request says who the client is.

A successful handshake's line waits (at most :data:`USER_AGENT_WAIT` seconds) for the first
request's ``User-Agent``, so that the report can name the client ("curl 8", "Python
requests"); it is written at that request, or when the wait ends or the connection closes,
whichever comes first.

A client gets ``--request-timeout`` seconds for the headers of each request: counted from
its handshake for the first, from the first byte of the request for the next ones (an idle
keep-alive connection is aiohttp's business: it closes it after 75 s). aiohttp times out
idle connections, but not a client that trickles a request's headers byte by byte
(slowloris), after a first request or before it; the deadline here does. It is cancelled
when the connection closes, so that a closed connection is never kept alive by its timer.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler


def ssl_object_of(request: web.BaseRequest) -> Any:
    """The ``ssl.SSLObject`` of the connection a request came on (None without TLS)."""
    transport = request.transport
    return transport.get_extra_info("ssl_object") if transport is not None else None


@dataclass(frozen=True)
class ConnectionInfo:
    conn_id: int
    peer: str
    tls_version: str | None
    cipher: str | None
    sni: str | None
    alpn: str | None
    ja4: str | None = None
    #: Arrived on the canary port: the client accepted a certificate it should have refused.
    canary: bool = False


def negotiated(
    record: dict[str, Any], ssl_object: Any, sni: str | None, *, canary: bool = False
) -> ConnectionInfo:
    """What a finished handshake negotiated, for the log line and the handlers."""
    cipher = ssl_object.cipher()
    return ConnectionInfo(
        conn_id=record["conn_id"],
        peer=record["peer"],
        tls_version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        sni=sni,
        alpn=ssl_object.selected_alpn_protocol(),
        ja4=record.get("ja4"),
        canary=canary,
    )


#: Seconds a successful handshake's log line waits for the first request's User-Agent.
USER_AGENT_WAIT = 2.0
#: Characters of a User-Agent kept.
MAX_USER_AGENT = 200
#: Writes a held log line, given the User-Agent of the connection's first request (or None).
LineWriter = Callable[[str | None], None]


@dataclass(eq=False)
class _Connection:
    info: ConnectionInfo | None = None
    transport: asyncio.BaseTransport | None = None
    #: Requests whose headers arrived and whose answer is not finished.
    busy: int = 0
    deadline: asyncio.TimerHandle | None = None
    #: The handshake-log line held for the first request's User-Agent, and its timer.
    held: LineWriter | None = None
    held_timer: asyncio.TimerHandle | None = None

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()  # drops the handle's references at once
            self.deadline = None

    def release(self, user_agent: str | None) -> None:
        """Write the held log line (once)."""
        write, self.held = self.held, None
        if self.held_timer is not None:
            self.held_timer.cancel()
            self.held_timer = None
        if write is not None:
            write(user_agent[:MAX_USER_AGENT] if user_agent is not None else None)


class ConnectionRegistry:
    """Finds a live connection's state from its ``ssl_object``.

    Keyed by the SSL object (aiohttp's request handler has ``__slots__``, so nothing can be
    attached to it). An entry holds its transport, for the deadline, so it goes when
    :class:`TrackedProtocol` reports the connection closed (:meth:`closed`).
    """

    def __init__(self, request_timeout: float | None = None) -> None:
        self._by_ssl: weakref.WeakKeyDictionary[Any, _Connection] = weakref.WeakKeyDictionary()
        self.request_timeout = request_timeout
        #: Connections closed because a request's headers did not arrive in time.
        self.slow_closed = 0

    def _state(self, ssl_object: Any) -> _Connection:
        state = self._by_ssl.get(ssl_object)
        if state is None:
            state = self._by_ssl[ssl_object] = _Connection()
        return state

    def add(
        self,
        ssl_object: Any,
        info: ConnectionInfo,
        transport: asyncio.BaseTransport,
        *,
        hold: LineWriter | None = None,
    ) -> None:
        """A connection whose handshake just finished: its first request is due. ``hold``
        writes its log line, called once with the first request's User-Agent, or None."""
        state = self._state(ssl_object)
        state.info, state.transport = info, transport
        if hold is not None:
            state.held = hold
            state.held_timer = asyncio.get_running_loop().call_later(
                USER_AGENT_WAIT, state.release, None
            )
        self._arm(state)

    def request_started(self, ssl_object: Any, user_agent: str | None = None) -> None:
        """A request's headers arrived on this connection."""
        if ssl_object is not None:
            state = self._state(ssl_object)
            state.busy += 1
            state.disarm()
            if state.held is not None:
                state.release(user_agent)

    def request_finished(self, ssl_object: Any) -> None:
        """A request was answered (the next one is timed from its first byte)."""
        state = self._by_ssl.get(ssl_object) if ssl_object is not None else None
        if state is not None:
            state.busy = max(state.busy - 1, 0)

    def data_arrived(self, ssl_object: Any) -> None:
        """Bytes arrived: between requests, they start the next one's headers, now due."""
        state = self._by_ssl.get(ssl_object) if ssl_object is not None else None
        if state is not None and not state.busy and state.deadline is None:
            self._arm(state)

    def closed(self, ssl_object: Any) -> None:
        """The connection is gone: its deadline with it."""
        state = self._by_ssl.pop(ssl_object, None) if ssl_object is not None else None
        if state is not None:
            state.disarm()
            state.release(None)
            state.transport = None

    def release_all(self) -> None:
        """Write every held log line now (shutting down: no line may be lost)."""
        for state in list(self._by_ssl.values()):
            state.release(None)

    def _arm(self, state: _Connection) -> None:
        state.disarm()
        transport = state.transport
        if self.request_timeout is None or transport is None or transport.is_closing():
            return
        state.deadline = asyncio.get_running_loop().call_later(
            self.request_timeout, self._due, state
        )

    def _due(self, state: _Connection) -> None:
        state.deadline = None
        transport = state.transport
        if transport is not None and not transport.is_closing() and not state.busy:
            self.slow_closed += 1
            getattr(transport, "abort", transport.close)()

    def __len__(self) -> int:
        """Connections open now (TLS ones, past their handshake)."""
        return len(self._by_ssl)

    def lookup(self, ssl_object: Any) -> ConnectionInfo | None:
        state = self._by_ssl.get(ssl_object) if ssl_object is not None else None
        return state.info if state is not None else None

    def for_request(self, request: web.BaseRequest) -> ConnectionInfo | None:
        return self.lookup(ssl_object_of(request))


class TrackedProtocol(RequestHandler):
    """aiohttp's connection handler, telling the registry when its connection closes (so that
    the connection's deadline goes with it)."""

    __slots__ = ("_registry", "_ssl_object")

    def __init__(self, manager: Any, *, registry: ConnectionRegistry, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._registry = registry
        self._ssl_object: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._ssl_object = transport.get_extra_info("ssl_object")

    def data_received(self, data: bytes) -> None:
        self._registry.data_arrived(self._ssl_object)
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._registry.closed(self._ssl_object)
        self._ssl_object = None
        super().connection_lost(exc)
