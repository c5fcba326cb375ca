"""``GET /mockgun/health`` (what ``mockgun healthcheck`` calls) and ``GET /mockgun/ca.pem``."""

from __future__ import annotations

from aiohttp import web

from ..._version import __version__
from ...mailgun.errors import MailgunError
from ...tls.policy import version_label
from ..keys import CONFIG, CONNECTIONS, HANDSHAKES, STORE

routes = web.RouteTableDef()


@routes.get("/mockgun/health")
async def health(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "tls": version_label(config.tls_max),
            "messages": len(request.app[STORE]),
            "messages_evicted": request.app[STORE].evicted,
            "events": len(request.app[STORE].events),
            "events_evicted": request.app[STORE].events.evicted,
            "handshake_log": request.app[HANDSHAKES].status(),
            "connections": {
                "open": len(request.app[CONNECTIONS]),
                "slow_closed": request.app[CONNECTIONS].slow_closed,
            },
        }
    )


@routes.get("/mockgun/ca.pem")
async def ca_certificate(request: web.Request) -> web.Response:
    """The CA certificate (public), for CI jobs that cannot share a volume with mockgun."""
    path = request.app[CONFIG].certs_dir / "ca.pem"
    try:
        pem = path.read_bytes()
    except OSError:
        raise MailgunError(404, "no CA certificate yet") from None
    return web.Response(body=pem, content_type="application/x-pem-file")
