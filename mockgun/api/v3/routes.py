"""Mailgun's Routes API: ``/v3/routes`` (per account, not per domain) and ``/v3/routes/match``.

Expressions and actions are checked as they are written (:mod:`mockgun.mailgun.routes`);
``POST /mockgun/inbound`` runs them.
"""

from __future__ import annotations

from aiohttp import web

from ...mailgun.errors import MailgunError, not_found
from ...mailgun.routes import MAX_LIMIT, evaluate, parse_priority
from ..form import read_fields
from ..keys import INBOUND_WORKER, ROUTES
from ..params import int_param

routes = web.RouteTableDef()

#: Form bodies here are small: an expression and actions of 4k each, a description.
MAX_FORM = 64 * 1024
#: Seconds a /routes/match may spend on user-written patterns.
MATCH_TIMEOUT = 5.0


@routes.get("/v3/routes")
async def list_routes(request: web.Request) -> web.StreamResponse:
    skip = int_param(request, "skip", 0, label="'skip'")
    limit = int_param(request, "limit", 100, label="'limit'", high=MAX_LIMIT)
    ordered = request.app[ROUTES].ordered()
    items = [r.as_json() for r in ordered[skip : skip + limit]]
    return web.json_response({"total_count": len(ordered), "items": items})


@routes.post("/v3/routes")
async def create_route(request: web.Request) -> web.StreamResponse:
    fields = await read_fields(request, max_size=MAX_FORM)
    expression = fields.get("expression")
    if expression is None or not expression.strip():
        raise MailgunError(400, "Expression is missing")
    route = request.app[ROUTES].create(
        priority=parse_priority(fields.get("priority"), 0),
        description=fields.get("description") or "",
        expression=expression,
        actions=fields.getall("action") or fields.getall("action[]"),
    )
    return web.json_response({"message": "Route has been created", "route": route.as_json()})


@routes.get("/v3/routes/match")
async def match_route(request: web.Request) -> web.StreamResponse:
    """The first route a message to ``address`` would fire (headers are not known here)."""
    address = request.query.get("address", "").strip()
    if not address:
        raise MailgunError(400, "address parameter is missing")
    if len(address) > 512:
        raise MailgunError(400, "address is too long")
    book = request.app[ROUTES]
    try:
        fired = await request.app[INBOUND_WORKER].run(
            evaluate, book.ordered(), address, [], timeout=MATCH_TIMEOUT
        )
    except TimeoutError:
        raise MailgunError(
            400, f"matching the routes took over {MATCH_TIMEOUT:g}s: a pattern is too costly"
        ) from None
    if not fired:
        raise not_found("Route")
    return web.json_response({"route": book.get(fired[0].route_id).as_json()})


@routes.get("/v3/routes/{id}")
async def get_route(request: web.Request) -> web.StreamResponse:
    return web.json_response({"route": request.app[ROUTES].get(request.match_info["id"]).as_json()})


@routes.put("/v3/routes/{id}")
async def update_route(request: web.Request) -> web.StreamResponse:
    fields = await read_fields(request, max_size=MAX_FORM)
    priority = fields.get("priority")
    route = request.app[ROUTES].update(
        request.match_info["id"],
        priority=parse_priority(priority, 0) if priority is not None else None,
        description=fields.get("description"),
        expression=fields.get("expression"),
        actions=fields.getall("action") or fields.getall("action[]") or None,
    )
    return web.json_response({**route.as_json(), "message": "Route has been updated"})


@routes.delete("/v3/routes/{id}")
async def delete_route(request: web.Request) -> web.StreamResponse:
    route = request.app[ROUTES].remove(request.match_info["id"])
    return web.json_response({"id": route.id, "message": "Route has been deleted"})
