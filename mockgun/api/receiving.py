"""Inbound mail, end to end: parse the message, run the routes, carry out their actions.

``POST /mockgun/inbound`` and the pytest fixture's ``receive()`` both land in
:func:`receive`. The message is parsed and the routes matched in a worker process of its
own (hostile MIME and user-written patterns can take unbounded CPU; the worker has a time
and a memory limit), then, for each recipient, in route order:

- ``forward(URL)``: the parsed form (or ``body-mime`` for a URL ending in ``mime``), signed,
  POSTed by the :class:`~mockgun.mailgun.forwarding.Forwarder` (retries in the background);
- ``forward(address)``: an outgoing message to that address, stored with its events;
- ``store(notify=URL)``: a stored message, its ``stored`` event, and the notify POST.

A recipient that is a mailing list address also gets the list's send, whatever the routes
did (Mailgun: "Mailing Lists work independently from Routes").
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from ..clock import rfc3339
from ..mailgun import events, forwarding, ids, inbound, lists
from ..mailgun.errors import MailgunError
from ..mailgun.inbound import Composed, Examined, InboundError
from ..mailgun.routes import Match
from ..mailgun.send import Mailbox, SendRequest
from ..spool import Payload
from ..store import StoredMessage
from .accept import accept_send
from .keys import FORWARDER, INBOUND_WORKER, INBOX, LISTS, ROUTES, STORE
from .urls import storage_url

#: Seconds the worker may take to parse one message and match its routes.
PARSE_TIMEOUT = 10.0
#: Address space of the worker: a hostile message fails there, not on the host.
WORKER_MEMORY = 1024 * 1024 * 1024


async def _examine(app: web.Application, message: bytes | Composed, to: list[str]) -> Examined:
    routes = app[ROUTES].ordered()
    try:
        return await app[INBOUND_WORKER].run(
            inbound.examine, message, to, routes, timeout=PARSE_TIMEOUT
        )
    except InboundError as exc:
        raise MailgunError(400, f"The message cannot be received: {exc}") from None
    except TimeoutError:
        raise MailgunError(
            400, f"The message cannot be received: parsing it took over {PARSE_TIMEOUT:g}s"
        ) from None
    except MemoryError:
        raise MailgunError(
            400, "The message cannot be received: it needs too much memory"
        ) from None
    except RuntimeError as exc:  # the worker was stopped under it
        raise MailgunError(503, f"The message was not received: {exc}") from None


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _send_for(
    examined: Examined, *, domain: str, to: list[str], sender: str, endpoint: str
) -> SendRequest:
    received = examined.received
    return SendRequest(
        domain=domain,
        endpoint=endpoint,
        sender=received.header("From") or sender,
        to=tuple(Mailbox("", a) for a in to),
        subject=received.subject,
        mime=Payload(data=examined.raw),
    )


async def receive(
    app: web.Application,
    message: bytes | Composed,
    *,
    to: list[str],
    sender: str | None,
    base: str,
    wait: bool = True,
) -> dict[str, Any]:
    """Take one inbound message; returns the record ``GET /mockgun/inbound`` shows."""
    examined = await _examine(app, message, to)
    received = examined.received
    envelope_from = inbound.envelope_sender(received, sender)
    inbound_id = f"inbound-{ids.token(9)}"  # Message-Ids repeat (a test resends its fixture)
    record: dict[str, Any] = {
        "id": inbound_id,
        "message_id": received.header("Message-Id").strip().strip("<>") or None,
        "ts": rfc3339(time.time()),
        "sender": envelope_from,
        "from": received.header("From"),
        "subject": received.subject,
        "size": received.size,
        "recipients": list(examined.recipients),
        "attachments": [
            {"filename": f.filename, "content-type": f.content_type, "size": len(f.data)}
            for f in received.files
        ],
        "routes": {},
        "forwarded": [],
        "stored": [],
        "lists": [],
        "deliveries": [],
    }
    posts: list[asyncio.Task[dict[str, Any]]] = []
    forwarder = app[FORWARDER]
    for recipient, matches in examined.matches:
        record["routes"][recipient] = [m.route_id for m in matches]
        for match in matches:
            about = {"inbound_id": inbound_id, "route": match.route_id, "recipient": recipient}
            for url in match.forward_urls:
                fields, files = _forward_form(examined, url, recipient, envelope_from)
                posts.append(
                    asyncio.ensure_future(
                        forwarder.deliver(url, fields, files, about={**about, "kind": "forward"})
                    )
                )
            if match.forward_addresses:
                forwarded = accept_send(
                    app,
                    _send_for(
                        examined,
                        domain=_domain_of(recipient),
                        to=list(match.forward_addresses),
                        sender=envelope_from,
                        endpoint="forward",
                    ),
                    base=base,
                )
                record["forwarded"].append(forwarded.id)
            if match.store:
                stored, url = _store(app, examined, recipient, envelope_from, match, base)
                record["stored"].append({"key": stored.key, "url": url, "id": stored.id})
                if match.notify:
                    fields = _notify_form(examined, recipient, envelope_from, stored.domain, url)
                    posts.append(
                        asyncio.ensure_future(
                            forwarder.deliver(
                                match.notify, fields, [], about={**about, "kind": "notify"}
                            )
                        )
                    )
        mailing_list = app[LISTS].find(recipient)
        if mailing_list is not None:
            send = lists.expand(
                _send_for(
                    examined,
                    domain=_domain_of(recipient),
                    to=[recipient],
                    sender=envelope_from,
                    endpoint="messages.mime",
                ),
                app[LISTS],
            )
            record["lists"].append(accept_send(app, send, base=base).id)
    app[INBOX].items.append(record)
    if wait and posts:
        record["deliveries"] = list(await asyncio.gather(*posts))
    return record


def _forward_form(
    examined: Examined, url: str, recipient: str, sender: str
) -> tuple[list[tuple[str, str]], list[forwarding.FormFile]]:
    received = examined.received
    if url.split("?")[0].rstrip("/").lower().endswith("mime"):
        return inbound.mime_fields(received, examined.raw, recipient, sender), []
    files = [
        (f"attachment-{i}", f.filename, f.content_type, f.data)
        for i, f in enumerate(received.files, start=1)
    ]
    return inbound.forward_fields(received, recipient, sender), files


def _store(
    app: web.Application,
    examined: Examined,
    recipient: str,
    sender: str,
    match: Match,
    base: str,
) -> tuple[StoredMessage, str]:
    """The message kept for retrieval, with Mailgun's ``stored`` event; and its URL."""
    send = _send_for(
        examined, domain=_domain_of(recipient), to=[recipient], sender=sender, endpoint="inbound"
    )
    store = app[STORE]
    stored = store.add(send)
    url = storage_url(base, send.domain, stored.key)
    event = events.stored(
        send,
        message_id=stored.bare_id,
        storage_key=stored.key,
        storage_url=url,
        received_at=stored.received_at,
        recipient=recipient,
        size=examined.received.size,
        route={"id": match.route_id, "expression": match.expression, "priority": match.priority},
    )
    store.events.add(send.domain, [event])
    return stored, url


def _notify_form(
    examined: Examined, recipient: str, sender: str, domain: str, url: str
) -> list[tuple[str, str]]:
    """What ``store(notify=URL)`` POSTs: the stored message's fields and ``message-url``."""
    received = examined.received
    attachments = [
        {
            "size": len(f.data),
            "url": f"{url}/attachments/{i}",
            "name": f.filename,
            "content-type": f.content_type,
        }
        for i, f in enumerate(received.files)
    ]
    return [
        ("domain", domain),
        ("recipient", recipient),
        ("sender", sender),
        *inbound.parsed_fields(received),
        ("attachments", json.dumps(attachments)),
        ("message-url", url),
    ]


def clear(app: web.Application) -> int:
    return app[INBOX].clear()
