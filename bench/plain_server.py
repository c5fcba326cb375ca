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


async def main(certs_dir: Path) -> None:
    certs = ensure_certs(certs_dir)
    ctx = server_context(certs.paths.server_cert, certs.paths.server_key)
    runner = web.AppRunner(create_app(Config()), access_log=None, handle_signals=False)
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
