"""The message store: every accepted send, kept in memory in arrival order, with its events.

It only stores and finds: what a send means is :mod:`mockgun.mailgun`'s business, and how
a message is shown is the API's (:mod:`mockgun.api.inspect.views`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .clock import parse_rfc3339
from .mailgun import ids, mime
from .mailgun.eventlog import EventLog
from .mailgun.send import SendRequest
from .seqindex import SeqList
from .spool import Payload, Spool


@dataclass(frozen=True)
class TransportInfo:
    """The connection a message arrived on (all ``None`` for plain-HTTP test clients)."""

    conn_id: int | None = None
    tls_version: str | None = None
    cipher: str | None = None
    peer_ip: str | None = None


#: A built message: its MIME, and for a batch each recipient's copy.
Built = tuple[Payload, tuple[tuple[str, Payload], ...]]


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
    #: Arrival order in the store (what its indexes are sorted by).
    seq: int = 0
    #: Held while the MIME message is built or adopted, so that it is built once.
    _building: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    # The MIME message is built on first use, not on arrival: the email package needs ~0.8 ms
    # per message, several times the cost of everything else a send does. The API builds it
    # in a worker process and adopts the result (a 20 MB body takes seconds); the embedded
    # server's helpers build it on their caller's thread: hence the lock.
    @property
    def mime(self) -> Payload:
        """The message as Mailgun would deliver it (for messages.mime: the upload as sent);
        for a batch, the first recipient's copy."""
        return self._built()[0]

    @property
    def copies(self) -> tuple[tuple[str, Payload], ...]:
        """Batch sends (recipient-variables): one copy per ``to`` recipient."""
        return self._built()[1]

    def copy_for(self, address: str) -> Payload | None:
        """The message a recipient received: their own copy (a batch, or built-in
        variables), or the one message; None if ``address`` is not a recipient. Builds the
        MIME message if it was not yet (callers on the event loop build it in a worker first)."""
        wanted = address.strip().lower()
        for recipient, payload in self.copies:
            if recipient.lower() == wanted:
                return payload
        if wanted in (r.lower() for r in self.request.recipients):
            return self.mime
        return None

    @property
    def is_built(self) -> bool:
        return "_built_parts" in self.__dict__

    def _built(self) -> Built:
        cache: dict[str, Built] = self.__dict__  # a frozen dataclass: a cache, not a field
        if "_built_parts" not in cache:
            with self._building:
                if "_built_parts" not in cache:
                    cache["_built_parts"] = build_parts(
                        self.request, self.id, self.received_at, self.spool
                    )
        return cache["_built_parts"]

    def adopt(self, parts: Built) -> None:
        """Take the parts a worker built (:func:`build_parts`); if they were built meanwhile
        (two readers at once), the spare copy's files are removed."""
        cache: dict[str, Built] = self.__dict__
        with self._building:
            if "_built_parts" not in cache:
                cache["_built_parts"] = parts
                return
        if parts is not cache["_built_parts"] and self.request.mime is None:
            for payload in (parts[0], *(copy for _, copy in parts[1])):
                payload.discard()

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

    def discard_files(self) -> None:
        """Remove the spool files of this message (on eviction and clearing)."""
        if self.is_built or self.request.mime is not None:
            self.mime.discard()
            for _, copy in self.copies:
                copy.discard()
        for part in self.request.files:
            if part.path is not None:
                part.path.unlink(missing_ok=True)


def build_parts(
    request: SendRequest, message_id: str, received_at: float, spool: Spool | None
) -> Built:
    """The MIME message of a send (and, for a batch, each recipient's copy). A module-level
    function of picklable arguments, so that a worker process can run it."""
    date = dt.datetime.fromtimestamp(received_at, dt.timezone.utc)
    if request.mime is not None:
        return request.mime, ()
    if request.personal:
        copies = tuple(
            (box.address, mime.render(request, message_id, date, recipient=box, spool=spool))
            for box in request.to
        )
        if copies:
            return copies[0][1], copies
    return mime.render(request, message_id, date, spool=spool), ()


@dataclass(frozen=True)
class Query:
    """What a listing asks the store for: exact ``domain``, ``to`` (any recipient) and
    ``tag``; parts of ``sender`` and ``subject``; ``query`` in any of those; ``since`` a
    message id or an RFC 3339 time."""

    since: str | None = None
    domain: str | None = None
    to: str | None = None
    sender: str | None = None
    subject: str | None = None
    tag: str | None = None
    query: str | None = None
    #: Only messages stored after this one (by ``seq``): what a waiter has not seen yet.
    after_seq: int = 0

    @classmethod
    def of(cls, since: str | None, filters: Mapping[str, str | None]) -> Query:
        """From keyword filters (``domain=``, ``to=``, ...); an unknown name is a TypeError."""
        unknown = set(filters) - set(_FILTER_NAMES)
        if unknown:
            raise TypeError(f"unknown filters: {', '.join(sorted(unknown))}")
        get = filters.get
        return cls(
            since=since,
            domain=get("domain"),
            to=get("to"),
            sender=get("sender"),
            subject=get("subject"),
            tag=get("tag"),
            query=get("query"),
        )

    def filters(self) -> dict[str, str | None]:
        return {
            "domain": self.domain,
            "to": self.to,
            "sender": self.sender,
            "subject": self.subject,
            "tag": self.tag,
            "query": self.query,
        }


_FILTER_NAMES = ("domain", "to", "sender", "subject", "tag", "query")

#: A message id a sender may choose: no spaces or angle brackets, an @, at most 250 characters.
_MESSAGE_ID = re.compile(r"[^\s<>@]{1,200}@[^\s<>@]{1,50}")


class MessageStore:
    """In memory for the life of the process. With ``max_messages``, the oldest are evicted
    (and counted: nothing disappears silently)."""

    def __init__(
        self,
        *,
        max_messages: int | None = None,
        max_events: int | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.spool = spool
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self._by_key: dict[str, str] = {}
        self._seq = itertools.count(1)
        # Indexes (lower-cased keys), so that a page or a lookup never walks the whole store.
        self._all: SeqList[StoredMessage] = SeqList()
        self._by_domain: dict[str, SeqList[StoredMessage]] = {}
        self._by_recipient: dict[str, SeqList[StoredMessage]] = {}
        self._by_tag: dict[str, SeqList[StoredMessage]] = {}
        self._stamp: tuple[int, str] = (-1, "")
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

    def _id_for(self, request: SendRequest) -> str:
        """The send's own ``h:Message-Id`` when it set a usable one (real Mailgun keeps it and
        returns it as the id: nodemailer-mailgun-transport and Rails set it), else a new id.
        One already stored here gets a new id, so that no message replaces another."""
        wanted = next(
            (v for n, v in request.options.headers if n.lower() == "message-id"), ""
        ).strip()
        bare = wanted.strip("<>").strip()
        if _MESSAGE_ID.fullmatch(bare) and bare not in self._messages:
            return f"<{bare}>"
        return self.new_id(request.domain)

    def add(
        self,
        request: SendRequest,
        transport: TransportInfo = TransportInfo(),
        *,
        fault: str | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            id=self._id_for(request),
            key=ids.token(18),
            received_at=time.time(),
            request=request,
            transport=transport,
            spool=self.spool,
            fault=fault,
            seq=next(self._seq),
        )
        self._keep(message)
        for listener in self.listeners:  # before its events (the caller adds those next)
            listener(message)
        while self.max_messages is not None and len(self._messages) > self.max_messages:
            _, old = self._messages.popitem(last=False)
            self._by_key.pop(old.key, None)
            self._unindex(old)
            old.discard_files()
            self.evicted += 1
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_result(None)
        return message

    def restore(
        self,
        message_id: str,
        key: str,
        received_at: float,
        request: SendRequest,
        transport: TransportInfo,
        fault: str | None,
        seq: int,
    ) -> StoredMessage:
        """Put back a message kept by ``--data-dir`` (oldest first, each with the ``seq`` it
        had; no listener hears of it). Later messages are numbered after it."""
        message = StoredMessage(
            id=message_id,
            key=key,
            received_at=received_at,
            request=request,
            transport=transport,
            spool=self.spool,
            fault=fault,
            seq=seq,
        )
        self._keep(message)
        self._seq = itertools.count(seq + 1)
        return message

    def get(self, message_id: str) -> StoredMessage | None:
        return self._messages.get(message_id.strip().strip("<>"))

    def by_key(self, key: str) -> StoredMessage | None:
        bare = self._by_key.get(key)
        return self._messages.get(bare) if bare else None

    def _keep(self, message: StoredMessage) -> None:
        """Store ``message`` and add it to every index."""
        self._messages[message.bare_id] = message
        self._by_key[message.key] = message.bare_id
        self._all.append(message.seq, message)
        for index, keys in self._index_keys(message):
            for key in keys:
                index.setdefault(key, SeqList()).append(message.seq, message)

    def _index_keys(
        self, message: StoredMessage
    ) -> list[tuple[dict[str, SeqList[StoredMessage]], set[str]]]:
        req = message.request
        return [
            (self._by_domain, {message.domain.lower()}),
            (self._by_recipient, {r.lower() for r in req.recipients}),
            (self._by_tag, {t.lower() for t in req.options.tags}),
        ]

    def _unindex(self, old: StoredMessage) -> None:
        """Drop an evicted message (the oldest) from every index it is in."""
        self._all.drop_through(old.seq)
        for index, keys in self._index_keys(old):
            for key in keys:
                entries = index.get(key)
                if entries is not None:
                    entries.drop_through(old.seq)
                    if not entries:
                        del index[key]

    def find(self, *, since: str | None = None, **filters: str | None) -> list[StoredMessage]:
        """Oldest first. ``since``: a message id (messages after it) or an RFC 3339 time."""
        return self.page(Query.of(since, filters))[0]

    def page(
        self, query: Query, *, newest_first: bool = False, limit: int | None = None
    ) -> tuple[list[StoredMessage], int]:
        """One page of matching messages and how many match in all. The smallest index among
        ``domain``, ``to`` and ``tag`` (exact, any case) is walked from ``since``; other
        filters (parts of the sender, subject, or ``query``) are checked on what it holds.
        Raises ValueError for a ``since`` that is neither a stored id nor an RFC 3339 time."""
        exact = (
            ("domain", self._by_domain, query.domain),
            ("to", self._by_recipient, query.to),
            ("tag", self._by_tag, query.tag),
        )
        candidates = self._all
        used = None
        for name, index, value in exact:
            if value is None:
                continue
            entries = index.get(value.lower())
            if entries is None:
                return [], 0
            if used is None or len(entries) < len(candidates):
                candidates, used = entries, name
        rest = {k: v for k, v in query.filters().items() if v is not None and k != used}
        position = candidates.start
        if query.since:
            position = self._position_after(candidates, query.since)
        if query.after_seq:
            position = max(position, candidates.first_after(query.after_seq))
        if not rest:
            walk = (
                candidates.backward(bottom=position)
                if newest_first
                else candidates.forward(position)
            )
            return list(itertools.islice(walk, limit)), candidates.end - position
        matching = [m for m in candidates.forward(position) if m.matches(**rest)]
        if newest_first:
            matching.reverse()
        return (matching if limit is None else matching[:limit]), len(matching)

    def _position_after(self, candidates: SeqList[StoredMessage], since: str) -> int:
        bare = since.strip().strip("<>")
        message = self._messages.get(bare)
        if message is not None:
            return candidates.first_after(message.seq)
        cutoff = parse_rfc3339(since).timestamp()  # an RFC 3339 time; ValueError otherwise
        return candidates.first_where_at_least(cutoff, key=lambda m: m.received_at)

    def domains(self) -> list[str]:
        return sorted(self._by_domain)

    def clear(self) -> int:
        count = len(self._messages)
        for message in self._messages.values():
            message.discard_files()
        self._messages.clear()
        self.events.clear()
        self._by_key.clear()
        self._all = SeqList()
        self._by_domain.clear()
        self._by_recipient.clear()
        self._by_tag.clear()
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
        query = Query.of(since, filters)
        while True:
            found, _ = self.page(query, limit=1)
            if found:
                return found[0]
            newest = self._all.newest()
            query = dataclasses.replace(query, after_seq=newest.seq if newest else query.after_seq)
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
