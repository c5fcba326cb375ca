"""``/mockgun/handshakes``: the handshake log as JSON, and a summary of it for the page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..report import negotiated_json
from .errors import json_error
from .inspect import whole_number
from .keys import HANDSHAKES, SUMMARY

routes = web.RouteTableDef()


def _flag(text: str | None, default: bool) -> bool:
    if text is None:
        return default
    if text.lower() in ("1", "true", "yes", "include"):
        return True
    if text.lower() in ("0", "false", "no", "exclude"):
        return False
    raise ValueError(text)


@routes.get("/mockgun/handshakes")
async def list_handshakes(request: web.Request) -> web.Response:
    """Handshake records, oldest first (``order=newest``: newest first): ``outcome``
    (comma-separated), ``since``, ``limit``, ``healthchecks=0`` to leave those out."""
    log = request.app[HANDSHAKES]
    query = request.query
    outcomes = [o for o in query.get("outcome", "").split(",") if o]
    order = query.get("order", "oldest")
    if order not in ("oldest", "newest"):
        return json_error(400, "order must be oldest or newest")
    try:
        limit = whole_number(query.get("limit"))
    except ValueError:
        return json_error(400, "limit must be a whole number")
    try:
        healthchecks = _flag(query.get("healthchecks"), True)
    except ValueError:
        return json_error(400, "healthchecks must be 1 or 0")
    try:
        items = log.select(
            outcomes=outcomes, since=query.get("since"), limit=limit,
            newest_first=order == "newest", healthchecks=healthchecks,
        )  # fmt: skip
    except ValueError:
        return json_error(400, "since must be an RFC 3339 time or a conn_id")
    return web.json_response({"items": items, "total": len(items), "evicted": log.evicted})


@routes.get("/mockgun/handshakes/report")
async def handshake_report(request: web.Request) -> web.Response:
    """Every handshake since start (health checks apart): totals by outcome and by
    negotiated version and cipher, one row per client, and a ``timeline`` of attempts per
    time bucket by negotiated version, refusals apart."""
    try:
        buckets = whole_number(request.query.get("buckets")) or 60
    except ValueError:
        return json_error(400, "buckets must be a whole number")
    summary = request.app[SUMMARY]
    tally = summary.catch_up(request.app[HANDSHAKES])
    clients = tally.client_rows()
    body: dict[str, Any] = {
        "attempts": sum(tally.outcomes.values()),
        "healthchecks_left_out": tally.healthchecks,
        "missed": summary.missed,
        "outcomes": dict(tally.outcomes),
        "negotiated": negotiated_json(tally.negotiated),
        "clients": [c.as_json() for c in clients],
        "legacy_found": tally.legacy_found,
        "timeline": tally.timeline(buckets=min(buckets, 1000)),
    }
    return web.json_response(body)
