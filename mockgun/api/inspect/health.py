"""``GET /mockgun/health`` (what ``mockgun healthcheck`` calls) and ``GET /mockgun/ca.pem``."""

from __future__ import annotations

from aiohttp import web

from ..._version import __version__
from ...mailgun.errors import MailgunError
from ...tls.policy import version_label
from ..keys import CONFIG, CONNECTIONS, HANDSHAKES, PERSIST, SMTP_PORTS, STORE

routes = web.RouteTableDef()


@routes.get("/mockgun/health")
async def health(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    log = request.app[HANDSHAKES].status()
    # Healthy means doing its job: a server whose handshake log cannot be written is not
    # (its verdicts would be lost), and says why.
    problem = (
        None
        if log.get("ok", True)
        else (f"the handshake log {log.get('path')} cannot be written: {log.get('error')}")
    )
    smtp_ports = request.app[SMTP_PORTS]
    persister = request.app.get(PERSIST)
    kept = None
    if persister is not None:
        kept = {
            "path": str(persister.path),
            "ok": persister.error is None,
            "error": persister.error,
            "messages_written": persister.written,
        }
        if persister.error is not None and problem is None:
            problem = f"the database {persister.path} cannot be written: {persister.error}"
    return web.json_response(
        {
            "status": "ok" if problem is None else "unhealthy",
            **({"reason": problem} if problem is not None else {}),
            "version": __version__,
            "tls": version_label(config.tls_max),
            "messages": len(request.app[STORE]),
            "messages_evicted": request.app[STORE].evicted,
            "events": len(request.app[STORE].events),
            "events_evicted": request.app[STORE].events.evicted,
            "handshake_log": log,
            **({"data_dir": kept} if kept is not None else {}),
            **({"smtp": {**smtp_ports}} if smtp_ports else {}),
            "connections": {
                "open": len(request.app[CONNECTIONS]),
                "slow_closed": request.app[CONNECTIONS].slow_closed,
            },
        },
        status=200 if problem is None else 503,
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
