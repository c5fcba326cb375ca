"""``/mockgun/handshakes``: the handshake log as JSON, and the report over it."""

from __future__ import annotations

from aiohttp import web

from ..report import LogContents, build_report, timeline
from .errors import json_error
from .inspect import whole_number
from .keys import HANDSHAKES

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
    """What ``mockgun handshakes --json`` says about the records in memory, plus a
    ``timeline``: attempts per time bucket by negotiated version, refusals apart."""
    log = request.app[HANDSHAKES]
    try:
        buckets = whole_number(request.query.get("buckets")) or 60
    except ValueError:
        return json_error(400, "buckets must be a whole number")
    records = list(log.records)
    report = build_report(LogContents(records=records), log.name).as_json()
    report["timeline"] = timeline(records, buckets=min(buckets, 1000))
    report["evicted"] = log.evicted
    return web.json_response(report)
