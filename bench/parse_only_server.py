"""The baseline for request throughput: an aiohttp handler that only parses the send form.

Same TLS policy and certificates as mockgun, behind a plain ``web.TCPSite``; no validation,
no MIME, no store, no events, no handshake log. Prints the port.
"""

from __future__ import annotations

from aiohttp import web
from plain_server import run


async def parse_only(request: web.Request) -> web.Response:
    await request.post()
    return web.json_response({"id": "<0@example.com>", "message": "Queued. Thank you."})


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/v3/{domain}/messages", parse_only)
    run(app)
