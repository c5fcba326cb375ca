"""``GET /mockgun/stream``: server-sent events for the web page (or anyone with curl -N).

Each update is one SSE event named ``message``, ``event``, ``handshake`` or ``cleared``
whose data is a small JSON notice (see live.py); the inspection API has the rest. A comment every
:data:`KEEPALIVE` seconds keeps proxies and idle timeouts from closing a quiet stream.
The stream ends when mockgun stops, when this reader falls too far behind (the hub drops
it), or when one write cannot be delivered within :data:`WRITE_TIMEOUT` (a reader that
stopped reading would otherwise hold its buffers, about a megabyte, for ever); the
``retry`` field tells EventSource how soon to reconnect.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..keys import LIVE

routes = web.RouteTableDef()

KEEPALIVE = 15.0
RETRY_MS = 1000
#: Seconds one write may wait for a reader that does not read.
WRITE_TIMEOUT = 10.0


@routes.get("/mockgun/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    hub = request.app[LIVE]
    sub = hub.subscribe()  # before answering: nothing published from here on is missed
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx in front must not hold events back
        }
    )
    try:  # the reader going away ends this with a ConnectionError or a cancellation
        await response.prepare(request)
        await _write(response, f"retry: {RETRY_MS}\n: mockgun live updates\n\n".encode())
        while True:
            try:
                batch = await asyncio.wait_for(sub.next(), KEEPALIVE)
            except asyncio.TimeoutError:
                await _write(response, b": keep-alive\n\n")
                continue
            if batch is None:
                break
            await _write(response, b"".join(update.frame for update in batch))
    except asyncio.TimeoutError:
        pass  # a reader that stopped reading: the stream ends (EventSource reconnects)
    finally:
        hub.unsubscribe(sub)
    response.force_close()
    return response


async def _write(response: web.StreamResponse, data: bytes) -> None:
    await asyncio.wait_for(response.write(data), WRITE_TIMEOUT)
