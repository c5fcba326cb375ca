"""What each live TLS connection negotiated, for the handlers to stamp on its requests."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from aiohttp import web


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


class ConnectionRegistry:
    """Finds the :class:`ConnectionInfo` of a live connection from its ``ssl_object``.

    Keyed weakly (aiohttp's request handler has ``__slots__``, so nothing can be
    attached to it), so a closed connection's entry disappears with it.
    """

    def __init__(self) -> None:
        self._by_ssl: weakref.WeakKeyDictionary[Any, ConnectionInfo] = weakref.WeakKeyDictionary()
        self._with_requests: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, ssl_object: Any, info: ConnectionInfo) -> None:
        self._by_ssl[ssl_object] = info

    def request_started(self, ssl_object: Any) -> None:
        """A request's headers arrived on this connection."""
        if ssl_object is not None:
            self._with_requests.add(ssl_object)

    def has_requests(self, ssl_object: Any) -> bool:
        return ssl_object in self._with_requests

    def lookup(self, ssl_object: Any) -> ConnectionInfo | None:
        return self._by_ssl.get(ssl_object) if ssl_object is not None else None

    def for_request(self, request: web.BaseRequest) -> ConnectionInfo | None:
        return self.lookup(ssl_object_of(request))
