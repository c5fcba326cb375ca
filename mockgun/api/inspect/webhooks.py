"""``GET /mockgun/webhooks/deliveries``: every webhook delivery attempt mockgun made."""

from __future__ import annotations

from aiohttp import web

from ..keys import WEBHOOKS

routes = web.RouteTableDef()


@routes.get("/mockgun/webhooks/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    """Every delivery attempt, oldest first: url, event, event_id, attempt, status/error, ok."""
    hooks = request.app[WEBHOOKS]
    return web.json_response(
        {"signing_key_set": bool(hooks.signing_key), "items": hooks.deliveries}
    )
