"""``/mockgun/unsubscribe/{token}``: where ``%unsubscribe_url%`` and its kin point.

A recipient's mail client opens it without any key (it is open even with ``--api-key``), by
GET (a click) or POST (RFC 8058 one-click ``List-Unsubscribe-Post``). It records an
``unsubscribed`` event for that message and recipient (with the message's tags, as every
event of it carries them), which fires the ``unsubscribed`` webhook like any other event.
"""

from __future__ import annotations

import html
import time

from aiohttp import web

from ...mailgun.errors import MailgunError
from ...mailgun.events import follow_up
from ...mailgun.links import UNSUBSCRIBE_PATH, parse_token
from ...mailgun.suppressions import ALL_TAGS, Entry
from ..keys import LISTS, STORE, SUPPRESSIONS

routes = web.RouteTableDef()


@routes.get(UNSUBSCRIBE_PATH + "{token}")
@routes.post(UNSUBSCRIBE_PATH + "{token}")
async def unsubscribe(request: web.Request) -> web.Response:
    link = parse_token(request.match_info["token"])
    store = request.app[STORE]
    message = store.get(link.message_id) if link is not None else None
    if link is None or message is None:
        raise MailgunError(404, "unsubscribe link not found")
    accepted = [
        e
        for e in store.events.for_message(message.bare_id)
        if e["event"] == "accepted" and e["recipient"] == link.recipient
    ]
    if not accepted:
        raise MailgunError(404, "unsubscribe link not found")
    event = follow_up(accepted[0], "unsubscribed", time.time())
    if link.kind == "list":
        # %mailing_list_unsubscribe_url%: the member leaves the list, and nothing more (the
        # event names the list, so the unsubscribe list does not take it as "everything").
        mailing_list = request.app[LISTS].find(message.request.mailing_list or "")
        if mailing_list is not None:
            member = mailing_list.members.get(link.recipient.lower())
            if member is not None:
                member.subscribed = False
            event["mailing-list"] = {"address": mailing_list.address}
        what = f"the list {mailing_list.address}" if mailing_list is not None else "the list"
    else:
        # The unsubscribe list first, with the message's tags for a tag link (the event alone
        # would unsubscribe the address from everything).
        tags = set(event.get("tags") or []) if link.kind == "tag" else {ALL_TAGS}
        unsubscribes = request.app[SUPPRESSIONS].list(message.domain, "unsubscribes")
        existing = unsubscribes.get(link.recipient)
        if existing is not None and ALL_TAGS not in tags:
            tags |= existing.tags
        unsubscribes.put(Entry(link.recipient, tags=tags or {ALL_TAGS}))
        what = "all mail" if link.kind == "all" else "mail tagged " + ", ".join(event["tags"])
    store.events.add(message.domain, [event])
    body = (
        "<!doctype html><title>Unsubscribed</title>"
        f"<p>{html.escape(link.recipient)} is unsubscribed from {html.escape(what)} "
        f"of {html.escape(message.domain)} (mockgun: recorded as an unsubscribed event).</p>"
    )
    return web.Response(text=body, content_type="text/html")
