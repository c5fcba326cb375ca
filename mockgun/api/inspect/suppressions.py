"""``/mockgun/suppressions``: every suppression list at a glance, and a reset for tests."""

from __future__ import annotations

from aiohttp import web

from ..keys import SUPPRESSIONS

routes = web.RouteTableDef()


@routes.get("/mockgun/suppressions")
async def show_suppressions(request: web.Request) -> web.Response:
    """``{"domains": {domain: {"bounces": [...], "unsubscribes": [...], ...}}}``, each list
    as Mailgun's API shows its records (alphabetical)."""
    return web.json_response({"domains": request.app[SUPPRESSIONS].as_json()})


@routes.delete("/mockgun/suppressions")
async def clear_suppressions(request: web.Request) -> web.Response:
    return web.json_response({"deleted": request.app[SUPPRESSIONS].clear()})
