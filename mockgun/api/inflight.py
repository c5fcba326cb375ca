"""Counting requests in flight, so that a stop can wait for them.

aiohttp's own graceful shutdown stops reading from connections at once, so a
request whose body is still arriving (an upload) would be cut off. mockgun
instead closes the listener, waits here until the requests being handled are
answered (or the shutdown timeout passes), and only then lets aiohttp close
the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web

from .errors import Handler


class InFlight:
    def __init__(
        self,
        on_request: Callable[[web.Request], None] | None = None,
        on_answered: Callable[[web.Request], None] | None = None,
    ) -> None:
        self._on_request = on_request
        self._on_answered = on_answered
        self.count = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.count += 1
        self._idle.clear()
        if self._on_request is not None:
            self._on_request(request)
        try:
            response = await handler(request)
            if self.draining:
                response.force_close()  # no further requests on this connection
            return response
        finally:
            if self._on_answered is not None:
                self._on_answered(request)
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if ``timeout`` passed first."""
        self.draining = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        return self._idle.is_set()
