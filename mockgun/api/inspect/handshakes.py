"""``/mockgun/handshakes``: the handshake log as JSON, and a summary of it for the page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...mailgun.errors import MailgunError
from ...tls.report import negotiated_json
from ..keys import HANDSHAKES, SUMMARY
from ..params import choice_param, flag_param, optional_int
from ..responses import answer_in_pieces

routes = web.RouteTableDef()


@routes.get("/mockgun/handshakes")
async def list_handshakes(request: web.Request) -> web.Response:
    """Handshake records, oldest first (``order=newest``: newest first): ``outcome``
    (comma-separated), ``since``, ``limit``, ``healthchecks=0`` to leave those out."""
    log = request.app[HANDSHAKES]
    query = request.query
    outcomes = [o for o in query.get("outcome", "").split(",") if o]
    order = choice_param(request, "order", ("oldest", "newest"))
    limit = optional_int(request, "limit")
    healthchecks = flag_param(request, "healthchecks", True)
    try:
        items = log.select(
            outcomes=outcomes,
            since=query.get("since"),
            limit=limit,
            newest_first=order == "newest",
            healthchecks=healthchecks,
        )
    except ValueError:
        raise MailgunError(400, "since must be an RFC 3339 time or a conn_id") from None
    return web.json_response({"items": items, "total": len(items), "evicted": log.evicted})


@routes.get("/mockgun/handshakes/log")
async def handshake_log_lines(request: web.Request) -> web.StreamResponse:
    """The log itself, JSON lines, for ``mockgun handshakes --url`` (CI jobs that cannot reach
    the server's files): the file as it is, every run in it; without a file (``-`` or memory
    only), the lines still held in memory. ``X-Mockgun-Run`` names this server's run and
    ``X-Mockgun-Evicted`` counts lines the answer lacks because memory no longer holds them."""
    log = request.app[HANDSHAKES]
    headers = {"X-Mockgun-Run": log.run, "Content-Type": "application/x-ndjson"}
    path = log.path
    if path is not None and path.is_file():
        response = web.FileResponse(path, headers={**headers, "X-Mockgun-Evicted": "0"})
        response.content_type = "application/x-ndjson"
        return response
    headers["X-Mockgun-Evicted"] = str(log.evicted)
    body = b"".join(kept.line for kept in list(log.records))
    return await answer_in_pieces(
        request, body, content_type=headers.pop("Content-Type"), headers=headers
    )


@routes.get("/mockgun/handshakes/report")
async def handshake_report(request: web.Request) -> web.Response:
    """Every handshake since start (health checks apart): totals by outcome and by
    negotiated version and cipher, one row per client, and a ``timeline`` of attempts per
    time bucket by negotiated version, refusals apart."""
    buckets = optional_int(request, "buckets") or 60
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
