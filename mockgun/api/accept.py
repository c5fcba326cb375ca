"""Accepting a send: store it, then write its events. One path for every way a message gets
in (the API's sends and resends, a route's ``forward()`` to an address, a send to a mailing
list address that arrived as inbound mail)."""

from __future__ import annotations

from aiohttp import web

from ..mailgun import events
from ..mailgun.send import SendRequest
from ..store import StoredMessage, TransportInfo
from .keys import CONFIG, STORE, SUPPRESSIONS
from .urls import storage_url

#: What a message made inside mockgun (not sent over a connection) arrived on.
NO_TRANSPORT = TransportInfo()


def accept_send(
    app: web.Application,
    send: SendRequest,
    *,
    base: str,
    transport: TransportInfo = NO_TRANSPORT,
    fault: str | None = None,
    template_failure: str | None = None,
) -> StoredMessage:
    """Store an accepted send, then its events (``accepted``, and what follows; a permanent
    ``failed`` per recipient instead when its template could not be rendered). ``base`` is
    the ``scheme://host`` its storage URL points at."""
    store = app[STORE]
    stored = store.add(send, transport, fault=fault)
    deliver = app[CONFIG].deliver
    book = app[SUPPRESSIONS]
    suppressed = {
        r: why
        for r in send.recipients
        if (why := book.reason_for(send.domain, r, send.options.tags)) is not None
    }
    produced = events.for_send(
        send,
        message_id=stored.bare_id,
        storage_key=stored.key,
        received_at=stored.received_at,
        peer_ip=stored.transport.peer_ip,
        deliver=deliver and template_failure is None,
        storage_url=storage_url(base, send.domain, stored.key),
        suppressed=suppressed,
    )
    if template_failure is not None and not send.options.testmode:
        produced += events.not_rendered(produced, stored.received_at + 0.001, template_failure)
    store.events.add(send.domain, produced)
    return stored
