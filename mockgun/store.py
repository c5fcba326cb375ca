"""The message store: every accepted send, kept in memory in arrival order, with its events."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .events import EventLog, event_id
from .mail import mime, view
from .mail.form import FilePart
from .mail.send import Mailbox, SendRequest
from .outcomes import after_acceptance
from .spool import Payload, Spool


@dataclass(frozen=True)
class TransportInfo:
    """The connection a message arrived on (all ``None`` for plain-HTTP test clients)."""

    conn_id: int | None = None
    tls_version: str | None = None
    cipher: str | None = None
    peer_ip: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"conn_id": self.conn_id, "version": self.tls_version, "cipher": self.cipher}


@dataclass(frozen=True)
class StoredMessage:
    id: str  # with angle brackets, as returned to the client
    key: str  # the storage key in events' storage.url
    received_at: float
    request: SendRequest = field(repr=False)
    transport: TransportInfo = TransportInfo()
    #: Where a large rendered message goes.
    spool: Spool | None = field(default=None, repr=False, compare=False)
    #: The id of the fault rule that delayed this message, if one did.
    fault: str | None = None

    # The MIME message is built on first use, not on arrival: the email package needs ~0.8 ms
    # per message, several times the cost of everything else a send does.
    @functools.cached_property
    def mime(self) -> Payload:
        """The message as Mailgun would deliver it (for messages.mime: the upload as sent);
        for a batch, the first recipient's copy."""
        if self.request.mime is not None:
            return self.request.mime
        if self.copies:
            return self.copies[0][1]
        return mime.render(self.request, self.id, self.date, spool=self.spool)

    @functools.cached_property
    def copies(self) -> tuple[tuple[str, Payload], ...]:
        """Batch sends (recipient-variables): one copy per ``to`` recipient."""
        req = self.request
        if req.mime is not None or req.options.recipient_variables is None:
            return ()
        return tuple(
            (box.address, mime.render(req, self.id, self.date, recipient=box, spool=self.spool))
            for box in req.to
        )

    @property
    def date(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.received_at, dt.timezone.utc)

    @property
    def domain(self) -> str:
        return self.request.domain

    @property
    def bare_id(self) -> str:
        return self.id.strip("<>")

    def matches(
        self,
        *,
        domain: str | None = None,
        to: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
        tag: str | None = None,
        query: str | None = None,
    ) -> bool:
        req = self.request
        if query is not None and not self._mentions(query.lower()):
            return False
        if domain is not None and self.domain.lower() != domain.lower():
            return False
        if to is not None and to.lower() not in (r.lower() for r in req.recipients):
            return False
        if sender is not None and sender.lower() not in (req.sender or "").lower():
            return False
        if subject is not None and subject.lower() not in (req.subject or "").lower():
            return False
        return tag is None or tag.lower() in (t.lower() for t in req.options.tags)

    def _mentions(self, word: str) -> bool:
        """``word`` (lower case) is in a recipient, the sender, the subject or a tag."""
        req = self.request
        return any(
            word in text.lower()
            for text in (*req.recipients, req.sender or "", req.subject or "", *req.options.tags)
        )

    def as_json(self, *, with_content: bool = False) -> dict[str, Any]:
        req = self.request
        fields: dict[str, list[str]] = {}
        for name, value in req.fields:
            fields.setdefault(name, []).append(value)
        out: dict[str, Any] = {
            "id": self.id,
            "storage_key": self.key,
            "domain": req.domain,
            "endpoint": req.endpoint,
            "received_at": rfc3339(self.received_at),
            "from": req.sender,
            "to": [box.as_json() for box in req.to],
            "cc": [box.as_json() for box in req.cc],
            "bcc": [box.as_json() for box in req.bcc],
            "recipients": req.recipients,
            "subject": req.subject,
            "text": req.text,
            "html": req.html,
            "tags": list(req.options.tags),
            "user_variables": req.options.variables,
            "test_mode": req.options.testmode,
            "fields": fields,
            "attachments": [
                {
                    "field": part.field,
                    "filename": part.filename,
                    "content_type": part.content_type,
                    "size": part.size,
                    **(_content(part, f"{self.download_path}/{n}") if with_content else {}),
                }
                for n, part in enumerate(req.files)
            ],
            "tls": self.transport.as_json(),
            "fault": self.fault,
        }
        if with_content:
            out["mime_size"] = self.mime.size
            out["headers"] = view.headers(self.mime)
            out.update(_mime_json(self.mime, f"/mockgun/messages/{self.bare_id}.eml"))
            if self.copies:
                out["copies"] = [{"recipient": r, **_mime_json(m, None)} for r, m in self.copies]
        return out

    @property
    def download_path(self) -> str:
        return f"/mockgun/messages/{self.bare_id}/attachments"

    def discard_files(self) -> None:
        """Remove the spool files of this message (on eviction and clearing)."""
        if "mime" in self.__dict__ or self.request.mime is not None:
            self.mime.discard()
        if "copies" in self.__dict__:
            for _, copy in self.copies:
                copy.discard()
        for part in self.request.files:
            if part.path is not None:
                part.path.unlink(missing_ok=True)


class MessageStore:
    """In memory for the life of the process. With ``max_messages``, the oldest are evicted
    (and counted: nothing disappears silently)."""

    def __init__(
        self,
        *,
        deliver: bool = True,
        max_messages: int | None = None,
        max_events: int | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.spool = spool
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self._by_key: dict[str, str] = {}
        self._seq = itertools.count(1)
        self._stamp: tuple[int, str] = (-1, "")
        self.deliver = deliver
        self.max_messages = max_messages
        self.evicted = 0
        self.events = EventLog(max_events)
        #: Called with each message as it is stored, and with None when the store is cleared.
        self.listeners: list[Callable[[StoredMessage | None], None]] = []
        self._waiters: set[asyncio.Future[None]] = set()

    def __len__(self) -> int:
        return len(self._messages)

    def new_id(self, domain: str) -> str:
        # Mailgun's shape: <YYYYMMDDhhmmss.N.HEX@domain>
        second = int(time.time())
        if second != self._stamp[0]:  # strftime is slow; format each second once
            self._stamp = (second, time.strftime("%Y%m%d%H%M%S", time.gmtime(second)))
        return f"<{self._stamp[1]}.{next(self._seq)}.{ids.hex_token(8)}@{domain}>"

    def add(
        self,
        request: SendRequest,
        transport: TransportInfo = TransportInfo(),
        *,
        fault: str | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            id=self.new_id(request.domain),
            key=ids.token(18),
            received_at=time.time(),
            request=request,
            transport=transport,
            spool=self.spool,
            fault=fault,
        )
        self._messages[message.bare_id] = message
        self._by_key[message.key] = message.bare_id
        for listener in self.listeners:  # before its events, so that they follow it
            listener(message)
        self.events.add(request.domain, self._events_for(message))
        while self.max_messages is not None and len(self._messages) > self.max_messages:
            _, old = self._messages.popitem(last=False)
            self._by_key.pop(old.key, None)
            old.discard_files()
            self.evicted += 1
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_result(None)
        return message

    def get(self, message_id: str) -> StoredMessage | None:
        return self._messages.get(message_id.strip().strip("<>"))

    def by_key(self, key: str) -> StoredMessage | None:
        bare = self._by_key.get(key)
        return self._messages.get(bare) if bare else None

    def find(self, *, since: str | None = None, **filters: str | None) -> list[StoredMessage]:
        """Oldest first. ``since``: a message id (messages after it) or an RFC 3339 time."""
        messages = list(self._messages.values())
        if since:
            messages = _after(messages, since)
        return [m for m in messages if m.matches(**filters)]

    def domains(self) -> list[str]:
        return sorted({m.domain.lower() for m in self._messages.values()})

    def clear(self) -> int:
        count = len(self._messages)
        for message in self._messages.values():
            message.discard_files()
        self._messages.clear()
        self.events.clear()
        self._by_key.clear()
        for listener in self.listeners:
            listener(None)
        return count

    async def wait_for(
        self, timeout: float, *, since: str | None = None, **filters: str | None
    ) -> StoredMessage | None:
        """The first message matching ``filters`` (after ``since``, a message id or a time)
        that is here or arrives within ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        checked: set[str] = set()
        while True:
            for message in self.find(since=since, **filters):
                if message.bare_id not in checked:
                    return message
            checked.update(self._messages)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                return None
            finally:
                self._waiters.discard(waiter)

    def _events_for(self, message: StoredMessage) -> list[dict[str, Any]]:
        req = message.request
        sender = _address_of(req.sender)
        headers = {
            "to": ", ".join(_format(b) for b in req.to),
            "message-id": message.bare_id,
            "from": req.sender or "",
            "subject": req.subject or "",
        }
        common: dict[str, Any] = {
            "message": {
                "headers": headers,
                "attachments": [
                    {"filename": p.filename, "content-type": p.content_type, "size": p.size}
                    for p in req.attachments
                ],
                "recipients": req.recipients,
                "size": None,  # filled in when served: the MIME is built on first use
            },
            "storage": {"key": message.key},
            "campaigns": [],
            "tags": list(req.options.tags),
            "user-variables": dict(req.options.variables),
        }
        scheduled = req.options.deliverytime
        if scheduled is not None:
            common["message"]["scheduled-for"] = scheduled.timestamp()
        deliver = self.deliver and not req.options.testmode
        events: list[dict[str, Any]] = []
        for recipient in req.recipients:
            base = {
                **common,
                "recipient": recipient,
                "recipient-domain": recipient.rpartition("@")[2],
            }
            events.append(
                {
                    "event": "accepted",
                    "id": event_id(),
                    "timestamp": message.received_at,
                    "log-level": "info",
                    "method": "HTTP",
                    "originating-ip": message.transport.peer_ip,
                    "envelope": {"sender": sender, "transport": "smtp", "targets": recipient},
                    "flags": {"is-authenticated": True, "is-test-mode": req.options.testmode},
                    **base,
                }
            )
        if deliver:
            when = max(message.received_at + 0.001, scheduled.timestamp() if scheduled else 0)
            for accepted in list(events):
                events.extend(after_acceptance(accepted, when))
        return events


def _after(messages: list[StoredMessage], since: str) -> list[StoredMessage]:
    ids = [m.bare_id for m in messages]
    bare = since.strip().strip("<>")
    if bare in ids:
        return messages[ids.index(bare) + 1 :]
    from .tls.handshake_log import parse_ts  # an RFC 3339 time; ValueError otherwise

    cutoff = parse_ts(since).timestamp()
    return [m for m in messages if m.received_at >= cutoff]


def _format(box: Mailbox) -> str:
    return f"{box.name} <{box.address}>" if box.name else box.address


def _address_of(raw: str | None) -> str:
    text = (raw or "").strip()
    if not any(c in text for c in '<>"(),;:'):  # a bare address: nothing to parse
        return text
    from email.utils import parseaddr

    return parseaddr(text)[1]


def rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: Contents larger than this are not inlined in JSON answers; a download path is given instead.
JSON_CONTENT_LIMIT = 1024 * 1024


def _content(part: FilePart, download: str) -> dict[str, str]:
    if part.size > JSON_CONTENT_LIMIT:
        return {"download": download}
    return {"data_base64": _b64(part.read()), "download": download}


def _mime_json(payload: Payload, download: str | None) -> dict[str, Any]:
    if payload.size > JSON_CONTENT_LIMIT:
        return {"mime_download": download} if download else {}
    return {"mime": payload.read().decode("utf-8", errors="replace")}
