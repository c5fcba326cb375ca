"""``/mockgun/suppressions`` and ``/mockgun/lists``: every suppression list and mailing list at
a glance, and a reset for tests."""

from __future__ import annotations

from aiohttp import web

from ..keys import LISTS, SUPPRESSIONS

routes = web.RouteTableDef()


@routes.get("/mockgun/suppressions")
async def show_suppressions(request: web.Request) -> web.Response:
    """``{"domains": {domain: {"bounces": [...], "unsubscribes": [...], ...}}}``, each list
    as Mailgun's API shows its records (alphabetical)."""
    return web.json_response({"domains": request.app[SUPPRESSIONS].as_json()})


@routes.delete("/mockgun/suppressions")
async def clear_suppressions(request: web.Request) -> web.Response:
    return web.json_response({"deleted": request.app[SUPPRESSIONS].clear()})


@routes.get("/mockgun/lists")
async def show_lists(request: web.Request) -> web.Response:
    """Every mailing list with all its members."""
    lists = sorted(request.app[LISTS].lists.values(), key=lambda x: x.address.lower())
    return web.json_response(
        {
            "items": [
                {**x.as_json(), "members": [m.as_json() for m in x.members.values()]} for x in lists
            ]
        }
    )


@routes.delete("/mockgun/lists")
async def clear_lists(request: web.Request) -> web.Response:
    book = request.app[LISTS]
    count = len(book.lists)
    book.lists.clear()
    return web.json_response({"deleted": count})
