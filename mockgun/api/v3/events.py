"""``GET /v3/{domain}/events`` and its pages, ``GET /v3/{domain}/events/{page}``."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp import web

from ...mailgun.errors import MailgunError
from ...mailgun.eventlog import FILTERS, MAX_LIMIT, EventQuery, StoredEvent
from ..keys import OFFLOAD, STORE
from ..offload import built
from ..params import int_param
from ..urls import base_url

routes = web.RouteTableDef()


def _time(name: str, value: str | None) -> float | None:
    """Epoch seconds or an RFC 2822 date, as Mailgun accepts for ``begin`` and ``end``."""
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        raise MailgunError(400, f"'{name}' must be epoch seconds or an RFC 2822 date") from None


def _query(request: web.Request) -> EventQuery:
    q = request.query
    begin, end = _time("begin", q.get("begin")), _time("end", q.get("end"))
    ascending_raw = q.get("ascending", "").strip().lower()
    # Clients send what their language writes: the Python SDK "True", others "true" or "1".
    if ascending_raw not in ("", "yes", "no", "true", "false", "1", "0"):
        raise MailgunError(400, "'ascending' must be yes or no")
    if ascending_raw:
        ascending = ascending_raw in ("yes", "true", "1")
        if begin is not None and end is not None and (begin < end) != ascending:
            raise MailgunError(400, "'ascending' contradicts the order of 'begin' and 'end'")
    elif begin is not None and end is not None:
        ascending = begin < end
    else:
        # With only 'begin', the walk starts there and goes forward; with nothing, newest first.
        ascending = begin is not None
    limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT, label="'limit'")
    filters = tuple((name, value) for name in FILTERS for value in q.getall(name, []))
    return EventQuery(filters=filters, begin=begin, end=end, ascending=ascending, limit=limit)


def _page_url(request: web.Request, domain: str, query: EventQuery, page: str, seq: int) -> str:
    return f"{base_url(request)}/v3/{domain}/events/{query.token(page, seq)}"


def render_event(request: web.Request, domain: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event as served: the storage URL is built from the request's own scheme and host."""
    storage = data.get("storage")
    if not storage:
        return data
    url = f"{base_url(request)}/v3/domains/{domain}/messages/{storage['key']}"
    return {**data, "storage": {**storage, "url": url}}


async def _fill_sizes(request: web.Request, events: list[StoredEvent]) -> None:
    """The message size of each event, known once the MIME message is built: built on a
    worker thread where it was not yet, and kept, so that later pages need not ask again."""
    store = request.app[STORE]
    missing = [
        (info, message)
        for e in events
        if (info := e.data.get("message", {})).get("size") is None
        and (message := store.by_key(e.data.get("storage", {}).get("key", ""))) is not None
    ]
    for info, message in missing:
        info["size"] = (await built(request.app[OFFLOAD], message)).mime.size


async def _respond(request: web.Request, domain: str, query: EventQuery) -> web.Response:
    events: list[StoredEvent] = request.app[STORE].events.page(domain, query)
    await _fill_sizes(request, events)
    edge = 0 if query.ascending else 2**62
    first_seq = events[0].seq if events else (query.seq or edge)
    last_seq = events[-1].seq if events else (query.seq or edge)
    paging = {
        "first": _page_url(request, domain, query, "first", 0),
        "last": _page_url(request, domain, query, "last", 0),
        "next": _page_url(request, domain, query, "after", last_seq),
        "previous": _page_url(request, domain, query, "before", first_seq),
    }
    return web.json_response(
        {"items": [render_event(request, domain, e.data) for e in events], "paging": paging}
    )


@routes.get("/v3/{domain}/events")
async def list_events(request: web.Request) -> web.StreamResponse:
    return await _respond(request, request.match_info["domain"], _query(request))


@routes.get("/v3/{domain}/events/{page}")
async def events_page(request: web.Request) -> web.StreamResponse:
    try:
        query = EventQuery.from_token(request.match_info["page"])
    except ValueError:
        raise MailgunError(400, "invalid events page token") from None
    return await _respond(request, request.match_info["domain"], query)
