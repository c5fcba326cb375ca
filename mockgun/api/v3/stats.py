"""Mailgun's tags and stats: ``/v3/{domain}/tags`` and ``/v3/{domain}/stats/total``, counted
from mockgun's own events (see :mod:`mockgun.mailgun.stats`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from ...clock import mailgun_date
from ...mailgun.errors import MailgunError
from ...mailgun.stats import (
    EVENTS,
    RESOLUTIONS,
    parse_duration,
    parse_moment,
)
from ..form import read_form
from ..keys import STATS
from ..params import int_param, sending_domain

routes = web.RouteTableDef()


def _window(request: web.Request) -> tuple[list[str], dt.datetime, dt.datetime, str]:
    events = request.query.getall("event", [])
    if not events:
        raise MailgunError(400, "Missing mandatory parameter: event")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise MailgunError(400, f"'{unknown[0]}' is not a valid event: {', '.join(EVENTS)}")
    resolution = request.query.get("resolution", "day")
    if resolution not in RESOLUTIONS:
        raise MailgunError(400, "'resolution' must be hour, day or month")
    end_text = request.query.get("end")
    end = parse_moment(end_text, "end") if end_text else dt.datetime.now(dt.timezone.utc)
    start_text, duration = request.query.get("start"), request.query.get("duration")
    if start_text:
        start = parse_moment(start_text, "start")
    else:
        start = end - (parse_duration(duration) if duration else dt.timedelta(days=7))
    if start > end:
        raise MailgunError(400, "'start' must be before 'end'")
    if (end - start) > dt.timedelta(days=3 * 366):
        raise MailgunError(400, "the window can be at most 3 years")
    return events, start, end, resolution


def _answer(request: web.Request, tag: str | None) -> dict[str, Any]:
    domain = sending_domain(request)
    events, start, end, resolution = _window(request)
    if resolution == "hour" and end - start > dt.timedelta(days=93):
        raise MailgunError(400, "an hourly resolution covers at most 93 days")
    stats = request.app[STATS].total(domain, tag, events, start, end, resolution)
    return {
        "start": mailgun_date(start),
        "end": mailgun_date(end),
        "resolution": resolution,
        "stats": stats,
    }


@routes.get("/v3/{domain}/stats/total")
async def stats_total(request: web.Request) -> web.Response:
    return web.json_response(_answer(request, None))


@routes.get("/v3/{domain}/tags")
async def list_tags(request: web.Request) -> web.Response:
    tags = sorted(
        request.app[STATS].tags.get(sending_domain(request).lower(), {}).values(),
        key=lambda t: t.tag,
    )
    limit = int_param(request, "limit", 100, low=1, high=1000)
    return web.json_response({"items": [t.as_json() for t in tags[:limit]], "paging": {}})


def _tag(request: web.Request) -> Any:
    tag = (
        request.app[STATS]
        .tags.get(sending_domain(request).lower(), {})
        .get(request.match_info["tag"])
    )
    if tag is None:
        raise MailgunError(404, "tag not found")
    return tag


@routes.get("/v3/{domain}/tags/{tag}")
async def get_tag(request: web.Request) -> web.Response:
    return web.json_response(_tag(request).as_json())


@routes.put("/v3/{domain}/tags/{tag}")
async def update_tag(request: web.Request) -> web.Response:
    tag = _tag(request)
    form = await read_form(request, max_size=64 * 1024)
    description = form.get("description") or request.query.get("description")
    if description is not None:
        tag.description = description[:1024]
    return web.json_response({"message": "Tag updated"})


@routes.delete("/v3/{domain}/tags/{tag}")
async def delete_tag(request: web.Request) -> web.Response:
    tag = _tag(request)
    request.app[STATS].forget_tag(sending_domain(request), tag.tag)
    return web.json_response({"message": "Tag deleted"})


@routes.get("/v3/{domain}/tags/{tag}/stats")
async def tag_stats(request: web.Request) -> web.Response:
    tag = _tag(request)
    return web.json_response(
        {"tag": tag.tag, "description": tag.description, **_answer(request, tag.tag)}
    )
