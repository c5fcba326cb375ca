"""The baseline for request throughput: an aiohttp handler that only parses the send form.

Same TLS policy and certificates as mockgun, behind a plain ``web.TCPSite``; no validation,
no MIME, no store, no events, no handshake log. Prints the port.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

from mockgun.certs import ensure_certs
from mockgun.tls.policy import server_context


async def parse_only(request: web.Request) -> web.Response:
    await request.post()
    return web.json_response({"id": "<0@example.com>", "message": "Queued. Thank you."})


async def main(certs_dir: Path) -> None:
    certs = ensure_certs(certs_dir)
    ctx = server_context(certs.paths.server_cert, certs.paths.server_key)
    app = web.Application()
    app.router.add_post("/v3/{domain}/messages", parse_only)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    print(f"listening on https://127.0.0.1:{site.port} ", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    certs_dir, loop_name = Path(sys.argv[1]), sys.argv[2]
    if loop_name == "uvloop":
        import uvloop

        uvloop.run(main(certs_dir))
    else:
        asyncio.run(main(certs_dir))
