"""The baseline: mockgun's own app behind a plain ``web.TCPSite(ssl_context=...)``.

Same app, same certificates, same TLS policy, same event loop choice; only the
listener differs (no ClientHello peek, no handshake log). Prints the port.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

from mockgun import Config, create_app
from mockgun.certs import ensure_certs
from mockgun.tls.policy import server_context


async def serve_app(app: web.Application, certs_dir: Path) -> None:
    """Serve ``app`` behind a plain ``TCPSite`` with mockgun's TLS policy until SIGTERM."""
    certs = ensure_certs(certs_dir)
    ctx = server_context(certs.paths.leaves())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    print(f"listening on https://127.0.0.1:{site.port} ", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


def run(app: web.Application) -> None:
    """``python SCRIPT CERTS_DIR asyncio|uvloop``."""
    certs_dir, loop_name = Path(sys.argv[1]), sys.argv[2]
    if loop_name == "uvloop":
        import uvloop  # noqa: PLC0415 - only for the uvloop run

        uvloop.run(serve_app(app, certs_dir))
    else:
        asyncio.run(serve_app(app, certs_dir))


if __name__ == "__main__":
    run(create_app(Config()))
