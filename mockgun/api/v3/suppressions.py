"""Mailgun's suppression lists: ``/v3/{domain}/bounces``, ``unsubscribes``, ``complaints`` and
``whitelists``, each with list, get, add (a form, or a JSON array of up to 1,000 records, which
mailgun.js always sends), CSV import, delete one and delete all."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ...mailgun.errors import MailgunError
from ...mailgun.suppressions import ALL_TAGS, KINDS, Entry, parse_created_at
from ..form import csv_rows, read_form
from ..keys import CONFIG, SUPPRESSIONS
from ..params import int_param, sending_domain

routes = web.RouteTableDef()
MAX_BATCH = 1000
#: A JSON body of up to 1,000 records is small; bigger ones are refused before parsing.
MAX_JSON = 2 * 1024 * 1024
_TABLE = {"bounces": "bounces", "unsubscribes": "unsubscribes", "complaints": "complaints"}
_NOT_FOUND = {
    "bounces": "Address not found in bounces table",
    "unsubscribes": "Address not found in unsubscribers table",
    "complaints": "No spam complaints found for this address",
    "whitelists": "Address/Domain not found in whitelists table",
}
_REMOVED = {
    "bounces": "Bounced address has been removed",
    "unsubscribes": "Unsubscribe event has been removed",
    "complaints": "Spam complaint has been removed",
    "whitelists": "Whitelist address/domain has been removed",
}
_CLEARED = {
    "bounces": "Bounced addresses for this domain have been removed",
    "unsubscribes": "Unsubscribe events for this domain have been removed",
    "complaints": "Spam complaints for this domain have been removed",
    "whitelists": "Whitelist addresses/domains for this domain have been removed",
}


def _where(request: web.Request) -> tuple[str, str]:
    return sending_domain(request), request.match_info["kind"]


_ADDRESS = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@[^\s@<>()\[\],;:\"\\]{1,253}")


def _address(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise MailgunError(400, "address parameter is missing")
    if not _ADDRESS.fullmatch(text):
        raise MailgunError(400, f"'{text[:100]}' is not a valid address")
    return text


def _entry(kind: str, record: dict[str, Any]) -> Entry:
    """One record of a POST or an import, checked as Mailgun checks it."""
    if kind == "whitelists":
        if record.get("domain"):
            domain = str(record["domain"]).strip().lower()
            if "@" in domain or "." not in domain or len(domain) > 253:
                raise MailgunError(400, f"'{domain[:100]}' is not a valid domain")
            return Entry(domain, type="domain", reason=str(record.get("reason") or ""))
        return Entry(_address(record.get("address")), reason=str(record.get("reason") or ""))
    entry = Entry(
        _address(record.get("address")), created_at=parse_created_at(record.get("created_at"))
    )
    if kind == "bounces":
        entry.code = str(record.get("code") or "550")
        entry.error = str(record.get("error") or "")
    elif kind == "unsubscribes":
        tags = record.get("tags", record.get("tag"))
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list) or not tags:
            tags = [ALL_TAGS]
        entry.tags = {str(t).strip() or ALL_TAGS for t in tags}
    return entry


@routes.get("/v3/{domain}/{kind:bounces|unsubscribes|complaints|whitelists}")
async def list_entries(request: web.Request) -> web.Response:
    """Alphabetical pages: ``limit`` (100, at most 1,000), ``page`` first/last/next/previous
    around the pivot ``address``."""
    domain, kind = _where(request)
    limit = int_param(request, "limit", 100, low=1, high=1000)
    page = request.query.get("page", "first")
    pivot = request.query.get("address")
    entries = (
        request.app[SUPPRESSIONS]
        .list(domain, kind)
        .page(
            after=pivot if page == "next" else None,
            before=pivot if page in ("prev", "previous") else None,
            limit=limit,
            last=page == "last",
        )
    )
    base = f"{request.url.scheme}://{request.host}{request.path}"

    def link(page: str, address: str | None = None) -> str:
        params = {"page": page, "limit": str(limit), **({"address": address} if address else {})}
        return f"{base}?{urlencode(params)}"

    first = entries[0].value if entries else pivot
    last = entries[-1].value if entries else pivot
    paging = {
        "first": link("first"),
        "last": link("last"),
        "next": link("next", last),
        "previous": link("previous", first),
    }
    return web.json_response({"items": [e.as_json(kind) for e in entries], "paging": paging})


@routes.get("/v3/{domain}/{kind:bounces|unsubscribes|complaints|whitelists}/{value}")
async def get_entry(request: web.Request) -> web.Response:
    domain, kind = _where(request)
    entry = request.app[SUPPRESSIONS].list(domain, kind).get(request.match_info["value"])
    if entry is None:
        raise MailgunError(404, _NOT_FOUND[kind])
    return web.json_response(entry.as_json(kind))


@routes.post("/v3/{domain}/{kind:bounces|unsubscribes|complaints|whitelists}")
async def add_entries(request: web.Request) -> web.Response:
    domain, kind = _where(request)
    book = request.app[SUPPRESSIONS]
    if request.content_type == "application/json":
        records = await _json_records(request)
        entries = [_entry(kind, r) for r in records]
        for entry in entries:
            _put(book, domain, kind, entry)
        noun = "complaint addresses" if kind == "complaints" else "addresses"
        table = _TABLE.get(kind, "whitelists")
        return web.json_response(
            {"message": f"{len(entries)} {noun} have been added to the {table} table"}
        )
    form = await read_form(request, max_size=MAX_JSON, timeout=request.app[CONFIG].request_timeout)
    record: dict[str, Any] = {k: v for k, v in form.fields}
    if kind == "unsubscribes" and len(form.getall("tag")) > 1:
        record["tags"] = form.getall("tag")
    entry = _entry(kind, record)
    _put(book, domain, kind, entry)
    if kind == "whitelists":
        return web.json_response(
            {
                "message": "Address/Domain has been added to the whitelists table",
                "type": entry.type,
                "value": entry.value,
            }
        )
    return web.json_response(
        {"message": f"Address has been added to the {_TABLE[kind]} table", "address": entry.value}
    )


def _put(book: Any, domain: str, kind: str, entry: Entry) -> None:
    if kind == "unsubscribes":  # more tags for an address already there add up
        existing = book.list(domain, kind).get(entry.value)
        if existing is not None and ALL_TAGS not in entry.tags:
            entry.tags |= existing.tags
    book.list(domain, kind).put(entry)


async def _json_records(request: web.Request) -> list[dict[str, Any]]:
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):  # read() returns what has arrived
        body += chunk
        if len(body) > MAX_JSON:
            raise MailgunError(413, "request size exceeds the limit", close=True)
    try:
        records = json.loads(body)
    except (ValueError, RecursionError):
        raise MailgunError(400, "the body is not valid JSON") from None
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise MailgunError(400, "the body must be a JSON array of objects")
    if len(records) > MAX_BATCH:
        raise MailgunError(400, f"at most {MAX_BATCH} records in one request")
    return records


@routes.post("/v3/{domain}/{kind:bounces|unsubscribes|complaints|whitelists}/import")
async def import_csv(request: web.Request) -> web.Response:
    domain, kind = _where(request)
    config = request.app[CONFIG]
    form = await read_form(
        request, max_size=config.max_message_size, timeout=config.request_timeout
    )
    rows = csv_rows(form.files, "file", frozenset({"address", "domain"}))
    book = request.app[SUPPRESSIONS]
    entries = [_entry(kind, row) for row in rows]
    for entry in entries:
        _put(book, domain, kind, entry)
    return web.json_response({"message": "file uploaded successfully"})


@routes.delete("/v3/{domain}/{kind:bounces|unsubscribes|complaints|whitelists}/{value}")
async def delete_entry(request: web.Request) -> web.Response:
    domain, kind = _where(request)
    lst = request.app[SUPPRESSIONS].list(domain, kind)
    value = request.match_info["value"]
    tag = request.query.get("tag")
    entry = lst.get(value)
    if entry is None:
        raise MailgunError(404, _NOT_FOUND[kind])
    if kind == "unsubscribes" and tag:
        entry.tags.discard(tag)
        if entry.tags:
            return web.json_response({"message": _REMOVED[kind], "value": entry.value})
    lst.remove(value)
    body: dict[str, Any] = {"message": _REMOVED[kind]}
    body["value" if kind == "whitelists" else "address"] = entry.value
    return web.json_response(body)


@routes.delete("/v3/{domain}/{kind:bounces|unsubscribes|complaints|whitelists}")
async def delete_all(request: web.Request) -> web.Response:
    domain, kind = _where(request)
    request.app[SUPPRESSIONS].list(domain, kind).clear()
    return web.json_response({"message": _CLEARED[kind]})


assert set(KINDS) == set(_NOT_FOUND)  # every list has its texts
