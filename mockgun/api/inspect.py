"""``/mockgun/*``: what tests and people use to see what mockgun received."""

from __future__ import annotations

from aiohttp import web

from .. import __version__
from ..tls.policy import version_label
from .errors import json_error
from .keys import CONFIG, HANDSHAKES, STORE

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
        }
    )


@routes.get("/mockgun/messages")
async def list_messages(request: web.Request) -> web.Response:
    found = request.app[STORE].find(domain=request.query.get("domain"), to=request.query.get("to"))
    return web.json_response({"items": [m.as_json() for m in found], "total": len(found)})


@routes.get("/mockgun/messages/{id}")
async def get_message(request: web.Request) -> web.Response:
    message = request.app[STORE].get(request.match_info["id"])
    if message is None:
        return json_error(404, "Message not found")
    return web.json_response(message.as_json(with_content=True))


@routes.delete("/mockgun/messages")
async def clear_messages(request: web.Request) -> web.Response:
    return web.json_response({"deleted": request.app[STORE].clear()})


@routes.get("/mockgun/handshakes")
async def list_handshakes(request: web.Request) -> web.Response:
    """Handshake records, oldest first: ``outcome`` (comma-separated), ``since``, ``limit``."""
    log = request.app[HANDSHAKES]
    query = request.query
    outcomes = [o for o in query.get("outcome", "").split(",") if o]
    try:
        limit = int(query["limit"]) if "limit" in query else None
        if limit is not None and limit < 0:
            raise ValueError
    except ValueError:
        return json_error(400, "limit must be a whole number")
    try:
        items = log.select(outcomes=outcomes, since=query.get("since"), limit=limit)
    except ValueError:
        return json_error(400, "since must be an RFC 3339 time or a conn_id")
    return web.json_response({"items": items, "total": len(items), "evicted": log.evicted})
