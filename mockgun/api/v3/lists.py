"""Mailgun's mailing lists API: ``/v3/lists`` and their members."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ...mailgun.errors import MailgunError
from ...mailgun.lists import MAX_BATCH, MailingList, Member, flag, parse_vars
from ..form import csv_rows, read_fields
from ..keys import CONFIG, LISTS
from ..params import int_param

routes = web.RouteTableDef()


async def _fields(request: web.Request) -> dict[str, Any]:
    read = await read_fields(request, max_size=request.app[CONFIG].max_message_size)
    fields: dict[str, Any] = dict(request.query)
    if read.form is not None:
        fields.update({k: v for k, v in read.form.fields})
        fields["_files"] = read.form.files
    return fields


def _address(value: Any, what: str = "address") -> str:
    text = str(value or "").strip()
    local, at, domain = text.rpartition("@")
    if not text:
        raise MailgunError(400, f"{what} parameter is missing")
    if not at or not local or "." not in domain or " " in text or len(text) > 512:
        raise MailgunError(400, f"'{text[:100]}' is not a valid address")
    return text


def _member(record: dict[str, Any]) -> Member:
    return Member(
        address=_address(record.get("address")),
        name=str(record.get("name") or ""),
        vars=parse_vars(record.get("vars")),
        subscribed=flag(record.get("subscribed"), True),
    )


def _page(request: web.Request, items: list[Any], key: str) -> tuple[list[Any], dict[str, str]]:
    limit = int_param(request, "limit", 100, low=1, high=1000)
    page, pivot = request.query.get("page", "first"), request.query.get("address")
    keys = [getattr(i, key).lower() for i in items]
    if page == "last":
        chosen = items[-limit:]
    elif page == "next" and pivot:
        start = next((n for n, k in enumerate(keys) if k > pivot.lower()), len(keys))
        chosen = items[start : start + limit]
    elif page in ("prev", "previous") and pivot:
        end = next((n for n, k in enumerate(keys) if k >= pivot.lower()), len(keys))
        chosen = items[max(end - limit, 0) : end]
    else:
        chosen = items[:limit]
    base = f"{request.url.scheme}://{request.host}{request.path}"

    def link(page: str, address: str | None = None) -> str:
        params = {"page": page, "limit": str(limit), **({"address": address} if address else {})}
        return f"{base}?{urlencode(params)}"

    first = getattr(chosen[0], key) if chosen else pivot
    last = getattr(chosen[-1], key) if chosen else pivot
    return chosen, {
        "first": link("first"),
        "last": link("last"),
        "next": link("next", last),
        "previous": link("previous", first),
    }


def _skip_limit(request: web.Request, items: list[MailingList] | list[Member]) -> web.Response:
    """The older paging of lists and members: ``skip`` and ``limit`` (100), with a count."""
    skip = int_param(request, "skip", 0)
    limit = int_param(request, "limit", 100, low=1, high=1000)
    shown = [item.as_json() for item in items[skip : skip + limit]]
    return web.json_response({"items": shown, "total_count": len(items)})


def _sorted_lists(request: web.Request) -> list[MailingList]:
    return sorted(request.app[LISTS].lists.values(), key=lambda x: x.address.lower())


@routes.get("/v3/lists")
async def list_lists(request: web.Request) -> web.Response:
    lists = _sorted_lists(request)
    return _skip_limit(request, lists)


@routes.get("/v3/lists/pages")
async def list_list_pages(request: web.Request) -> web.Response:
    chosen, paging = _page(request, _sorted_lists(request), "address")
    return web.json_response({"items": [x.as_json() for x in chosen], "paging": paging})


@routes.post("/v3/lists")
async def create_list(request: web.Request) -> web.Response:
    fields = await _fields(request)
    mailing_list = MailingList(address=_address(fields.get("address")))
    mailing_list.configure(fields)
    request.app[LISTS].create(mailing_list)
    return web.json_response(
        {"list": mailing_list.as_json(), "message": "Mailing list has been created"}
    )


@routes.get("/v3/lists/{list}")
async def get_list(request: web.Request) -> web.Response:
    return web.json_response({"list": request.app[LISTS].get(request.match_info["list"]).as_json()})


@routes.put("/v3/lists/{list}")
async def update_list(request: web.Request) -> web.Response:
    book = request.app[LISTS]
    mailing_list = book.get(request.match_info["list"])
    fields = await _fields(request)
    new_address = fields.get("address")
    mailing_list.configure(fields)
    if new_address and new_address.lower() != mailing_list.address.lower():
        book.remove(mailing_list.address)
        mailing_list.address = _address(new_address)
        book.create(mailing_list)
    return web.json_response(
        {"list": mailing_list.as_json(), "message": "Mailing list has been updated"}
    )


@routes.delete("/v3/lists/{list}")
async def delete_list(request: web.Request) -> web.Response:
    removed = request.app[LISTS].remove(request.match_info["list"])
    return web.json_response(
        {"address": removed.address, "message": "Mailing list has been removed"}
    )


def _members(request: web.Request) -> tuple[MailingList, list[Member]]:
    mailing_list = request.app[LISTS].get(request.match_info["list"])
    members = sorted(mailing_list.members.values(), key=lambda m: m.address.lower())
    subscribed = request.query.get("subscribed")
    if subscribed is not None:
        wanted = flag(subscribed, True)
        members = [m for m in members if m.subscribed == wanted]
    return mailing_list, members


@routes.get("/v3/lists/{list}/members")
async def list_members(request: web.Request) -> web.Response:
    _, members = _members(request)
    return _skip_limit(request, members)


@routes.get("/v3/lists/{list}/members/pages")
async def list_member_pages(request: web.Request) -> web.Response:
    _, members = _members(request)
    chosen, paging = _page(request, members, "address")
    return web.json_response({"items": [m.as_json() for m in chosen], "paging": paging})


@routes.post("/v3/lists/{list}/members")
async def add_member(request: web.Request) -> web.Response:
    mailing_list = request.app[LISTS].get(request.match_info["list"])
    fields = await _fields(request)
    member = mailing_list.add(_member(fields), upsert=flag(fields.get("upsert"), False))
    return web.json_response(
        {"member": member.as_json(), "message": "Mailing list member has been created"}
    )


@routes.post("/v3/lists/{list}/members.json")
async def add_members(request: web.Request) -> web.Response:
    """Up to 1,000 members at once: ``members``, a JSON array of addresses or objects."""
    mailing_list = request.app[LISTS].get(request.match_info["list"])
    fields = await _fields(request)
    try:
        records = json.loads(fields.get("members") or "")
    except (ValueError, RecursionError):
        records = None
    if not isinstance(records, list):
        raise MailgunError(400, "members must be a JSON array")
    if len(records) > MAX_BATCH:
        raise MailgunError(400, f"at most {MAX_BATCH} members in one request")
    upsert = flag(fields.get("upsert"), False)
    members = [_member(r if isinstance(r, dict) else {"address": r}) for r in records]
    for member in members:
        mailing_list.add(member, upsert=upsert)
    return _members_added(mailing_list)


@routes.post("/v3/lists/{list}/members.csv")
async def add_members_csv(request: web.Request) -> web.Response:
    mailing_list = request.app[LISTS].get(request.match_info["list"])
    fields = await _fields(request)
    rows = csv_rows(fields.get("_files", []), "members")
    upsert = flag(fields.get("upsert"), False)
    for row in rows:
        mailing_list.add(_member(row), upsert=upsert)
    return _members_added(mailing_list)


def _members_added(mailing_list: MailingList) -> web.Response:
    """Mailgun's answer to a bulk add (it queues a task; here the members are in already)."""
    body = {"list": mailing_list.as_json(), "message": "Mailing list has been updated"}
    return web.json_response({**body, "task-id": secrets.token_hex(16)})


@routes.get("/v3/lists/{list}/members/{member}")
async def get_member(request: web.Request) -> web.Response:
    mailing_list = request.app[LISTS].get(request.match_info["list"])
    return web.json_response(
        {"member": mailing_list.member(request.match_info["member"]).as_json()}
    )


@routes.put("/v3/lists/{list}/members/{member}")
async def update_member(request: web.Request) -> web.Response:
    mailing_list = request.app[LISTS].get(request.match_info["list"])
    member = mailing_list.member(request.match_info["member"])
    fields = await _fields(request)
    if fields.get("name") is not None:
        member.name = str(fields["name"])
    if fields.get("vars") is not None:
        member.vars = parse_vars(fields["vars"])
    if fields.get("subscribed") is not None:
        member.subscribed = flag(fields["subscribed"], member.subscribed)
    new_address = fields.get("address")
    if new_address and new_address.lower() != member.address.lower():
        del mailing_list.members[member.address.lower()]
        member.address = _address(new_address)
        mailing_list.members[member.address.lower()] = member
    return web.json_response(
        {"member": member.as_json(), "message": "Mailing list member has been updated"}
    )


@routes.delete("/v3/lists/{list}/members/{member}")
async def delete_member(request: web.Request) -> web.Response:
    mailing_list = request.app[LISTS].get(request.match_info["list"])
    member = mailing_list.member(request.match_info["member"])
    del mailing_list.members[member.address.lower()]
    return web.json_response(
        {"member": {"address": member.address}, "message": "Mailing list member has been deleted"}
    )
