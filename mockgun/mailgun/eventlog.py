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
from typing import Any

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


class EventLog:
    def __init__(self, max_events: int | None = None) -> None:
        #: Called with (domain, new events) whenever events are added: webhooks listen here.
        self.listeners: list[Callable[[str, list[dict[str, Any]]], None]] = []
        # With a cap, the oldest events go first; they are counted, never dropped silently.
        self._events: collections.deque[StoredEvent] = collections.deque(maxlen=max_events)
        self.evicted = 0
        self._seq = itertools.count(1)

    def __len__(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        """Forget every event (sequence numbers keep counting, so old page tokens stay valid)."""
        self._events.clear()

    def add(self, domain: str, events: Iterable[dict[str, Any]]) -> None:
        added = list(events)
        for data in added:
            if len(self._events) == self._events.maxlen:
                self.evicted += 1
            self._events.append(StoredEvent(next(self._seq), domain.lower(), data))
        for listener in self.listeners:
            listener(domain, added)

    def for_message(self, bare_id: str) -> list[dict[str, Any]]:
        return [
            e.data
            for e in self._events
            if e.data.get("message", {}).get("headers", {}).get("message-id") == bare_id
        ]

    def page(self, domain: str, query: EventQuery) -> list[StoredEvent]:
        """The events of one page, in the query's direction."""
        selected = [e for e in self._events if self._selected(e, domain.lower(), query)]
        if not query.ascending:
            selected.reverse()

        def after(e: StoredEvent) -> bool:
            return e.seq > query.seq if query.ascending else e.seq < query.seq

        if query.page == "first":
            return selected[: query.limit]
        if query.page == "last":
            return selected[-query.limit :] if query.limit else []
        if query.page == "after":
            return [e for e in selected if after(e)][: query.limit]
        before = [e for e in selected if e.seq != query.seq and not after(e)]
        return before[-query.limit :] if query.limit else []

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
