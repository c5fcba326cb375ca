"""Where Mailgun's events are kept, and the Events API's paging over them.

Events get an increasing sequence number; paging tokens carry a position in that
sequence, so walking ``next`` returns every event exactly once, in order, and a
``next`` page that was empty fills up as new events arrive (Mailgun's polling).
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..seqindex import SeqList

MAX_LIMIT = 300
DEFAULT_LIMIT = 100
#: Filters mockgun understands, matched case-insensitively (``a OR b`` lists alternatives).
FILTERS = ("event", "recipient", "to", "from", "subject", "tags", "message-id")


@dataclass
class StoredEvent:
    seq: int
    domain: str
    data: dict[str, Any]


@dataclass(frozen=True)
class EventQuery:
    """One page request: filters, time range, direction, page size and a position."""

    filters: tuple[tuple[str, str], ...] = ()
    begin: float | None = None
    end: float | None = None
    ascending: bool = False
    limit: int = DEFAULT_LIMIT
    #: "first", "last", "after" or "before" (the two last relative to ``seq``).
    page: str = "first"
    seq: int = 0

    def token(self, page: str, seq: int) -> str:
        raw = {
            "f": list(self.filters),
            "b": self.begin,
            "e": self.end,
            "a": self.ascending,
            "l": self.limit,
            "p": page,
            "s": seq,
        }
        return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> EventQuery:
        """Raises ValueError for a token mockgun did not make."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return cls(
                filters=tuple((str(k), str(v)) for k, v in raw["f"]),
                begin=raw["b"],
                end=raw["e"],
                ascending=bool(raw["a"]),
                limit=int(raw["l"]),
                page=str(raw["p"]),
                seq=int(raw["s"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("not a paging token") from exc


def _alternatives(value: str) -> list[str]:
    return [v.strip().strip('"').lower() for v in value.split(" OR ") if v.strip()]


def _matches(event: dict[str, Any], name: str, value: str) -> bool:
    wanted = _alternatives(value)
    headers = event.get("message", {}).get("headers", {})
    if name == "event":
        have = [str(event.get("event", ""))]
    elif name == "recipient":
        have = [str(event.get("recipient", ""))]
    elif name == "message-id":
        wanted = [w.strip("<>") for w in wanted]
        have = [str(headers.get("message-id", ""))]
    elif name == "tags":
        have = [str(t) for t in event.get("tags", [])]
    else:  # to, from, subject: a word or phrase anywhere in the header
        text = str(headers.get(name, "")).lower()
        return any(w in text for w in wanted)
    have = [h.lower() for h in have]
    return any(w in have for w in wanted)


K = TypeVar("K")


def _drop(index: dict[K, SeqList[StoredEvent]], key: K, seq: int) -> None:
    """Forget an evicted event in one index (and the key once nothing is left under it)."""
    entries = index.get(key)
    if entries is not None:
        entries.drop_through(seq)
        if not entries:
            del index[key]


class EventLog:
    def __init__(self, max_events: int | None = None) -> None:
        #: Called with (domain, new events) whenever events are added: webhooks listen here.
        self.listeners: list[Callable[[str, list[dict[str, Any]]], None]] = []
        # With a cap, the oldest events go first; they are counted, never dropped silently.
        self._events: collections.deque[StoredEvent] = collections.deque(maxlen=max_events)
        self.evicted = 0
        self._seq = itertools.count(1)
        # Indexes, so that a page reads what it shows, not every event stored: by domain, by
        # domain and event type (the filter apps use most: event=stored, event=failed), and
        # by message (a message's own events).
        self._by_domain: dict[str, SeqList[StoredEvent]] = {}
        self._by_kind: dict[tuple[str, str], SeqList[StoredEvent]] = {}
        self._by_message: dict[str, SeqList[StoredEvent]] = {}

    def __len__(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        """Forget every event (sequence numbers keep counting, so old page tokens stay valid)."""
        self._events.clear()
        self._by_domain.clear()
        self._by_kind.clear()
        self._by_message.clear()

    @staticmethod
    def _keys(event: StoredEvent) -> tuple[str, str, str]:
        data = event.data
        message_id = str(data.get("message", {}).get("headers", {}).get("message-id", ""))
        return event.domain, str(data.get("event", "")).lower(), message_id.lower()

    def add(self, domain: str, events: Iterable[dict[str, Any]]) -> None:
        added = list(events)
        self._append(domain, added)
        for listener in self.listeners:
            listener(domain, added)

    def restore(self, domain: str, data: dict[str, Any]) -> None:
        """Put back an event kept by ``--data-dir`` (no listener hears of it again)."""
        self._append(domain, [data])

    def _append(self, domain: str, added: list[dict[str, Any]]) -> None:
        for data in added:
            if len(self._events) == self._events.maxlen:
                self.evicted += 1
                self._unindex(self._events[0])
            event = StoredEvent(next(self._seq), domain.lower(), data)
            self._events.append(event)
            domain_key, kind, message_id = self._keys(event)
            self._by_domain.setdefault(domain_key, SeqList()).append(event.seq, event)
            self._by_kind.setdefault((domain_key, kind), SeqList()).append(event.seq, event)
            self._by_message.setdefault(message_id, SeqList()).append(event.seq, event)

    def _unindex(self, oldest: StoredEvent) -> None:
        domain_key, kind, message_id = self._keys(oldest)
        _drop(self._by_domain, domain_key, oldest.seq)
        _drop(self._by_kind, (domain_key, kind), oldest.seq)
        _drop(self._by_message, message_id, oldest.seq)

    def for_message(self, bare_id: str) -> list[dict[str, Any]]:
        entries = self._by_message.get(bare_id.lower())  # the index is by id in lower case
        if entries is None:
            return []
        return [
            e.data
            for e in entries.forward()
            if e.data.get("message", {}).get("headers", {}).get("message-id") == bare_id
        ]

    def _candidates(self, domain: str, query: EventQuery) -> SeqList[StoredEvent] | None:
        """The smallest index that holds every event the query can select: one message's
        events, one type's, or the domain's."""
        choices: list[SeqList[StoredEvent] | None] = [self._by_domain.get(domain)]
        for name, value in query.filters:
            wanted = _alternatives(value)
            if len(wanted) != 1:
                continue
            if name == "event":
                choices.append(self._by_kind.get((domain, wanted[0])))
            elif name == "message-id":
                choices.append(self._by_message.get(wanted[0].strip("<>")))
        if any(c is None for c in choices):
            return None  # a filter that no stored event can meet
        return min((c for c in choices if c is not None), key=len)

    def page(self, domain: str, query: EventQuery) -> list[StoredEvent]:
        """The events of one page, in the query's direction: read from the position the page
        starts at, only until it is full."""
        domain = domain.lower()
        entries = self._candidates(domain, query)
        if entries is None or not query.limit:
            return []
        forward = query.ascending
        if query.page in ("after", "before"):
            # "after" continues in the query's direction; "before" goes back against it.
            forward = forward if query.page == "after" else not forward
            newer = forward  # walking towards newer events
            start = (
                entries.first_after(query.seq) if newer else entries.first_at_or_after(query.seq)
            )
        else:
            # "first" starts at the query's own end; "last" at the other end, walking back.
            forward = forward if query.page == "first" else not forward
            start = entries.start if forward else entries.end
        walk = entries.forward(start) if forward else entries.backward(top=start)
        found: list[StoredEvent] = []
        for event in walk:
            if self._selected(event, domain, query):
                found.append(event)
                if len(found) >= query.limit:
                    break
        # A page is always in the query's direction, whichever way it was read.
        if forward != query.ascending:
            found.reverse()
        return found

    @staticmethod
    def _selected(event: StoredEvent, domain: str, query: EventQuery) -> bool:
        if event.domain != domain:
            return False
        ts = float(event.data.get("timestamp", 0))
        if query.begin is not None and query.end is not None:
            low, high = sorted((query.begin, query.end))
            if not low <= ts <= high:
                return False
        elif query.begin is not None and (
            ts < query.begin if query.ascending else ts > query.begin
        ):
            return False
        return all(_matches(event.data, name, value) for name, value in query.filters)
