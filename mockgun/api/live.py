"""Live updates: what the store and the handshake log publish, for ``GET /mockgun/stream``.

Updates are notices, small on purpose (a send makes three of them): which message, event
or handshake, with what a reader needs to decide whether to fetch it from the inspection
API. Handshake records are small already and go out whole.

Publishing never blocks and never fails the sender (a send or a handshake must not
wait on a slow browser tab): each subscriber has a bounded queue, and a subscriber
that falls that far behind is dropped. Its stream then ends, EventSource reconnects
on its own, and the page reloads its lists, so it misses nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass, field
from typing import Any

from ..clock import rfc3339
from ..store import MessageStore, StoredMessage
from ..tls.handshake_log import HandshakeLog
from ..tls.records import HandshakeRecord

#: Updates a subscriber may have waiting before it is dropped.
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Update:
    kind: str  # "message", "event", "handshake", "cleared"
    data: dict[str, Any]

    @functools.cached_property
    def frame(self) -> bytes:
        """The update as one server-sent event, encoded once for every reader."""
        return (
            f"event: {self.kind}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n".encode()
        )


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[Update | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    #: Set when the hub dropped this subscriber (too slow) or closed (server stopping).
    ended: bool = False

    async def next(self) -> list[Update] | None:
        """The updates waiting (at least one, waiting for it if need be), or None once the
        subscription has ended. Taking all at once lets a busy stream write them together."""
        if self.ended and self.queue.empty():
            return None
        first = await self.queue.get()
        batch = [] if first is None else [first]
        while not self.queue.empty():
            update = self.queue.get_nowait()
            if update is None:
                self.ended = True
                break
            batch.append(update)
        return batch or None


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self.closed = False

    @classmethod
    def watching(cls, store: MessageStore, handshakes: HandshakeLog) -> Hub:
        """A hub fed by ``store`` (messages, clearing), its events and the handshake log.
        With nobody subscribed, each costs one length check."""
        hub = cls()

        def message(stored: StoredMessage | None) -> None:
            if hub and stored is not None:
                hub.publish("message", _message_notice(stored))
            elif hub:
                hub.publish("cleared", {})

        def event(domain: str, added: list[dict[str, Any]]) -> None:
            if hub:
                for data in added:
                    hub.publish("event", _event_notice(domain, data))

        def handshake(record: HandshakeRecord) -> None:
            if hub:
                hub.publish("handshake", dict(record))

        store.listeners.append(message)
        store.events.listeners.append(event)
        handshakes.listeners.append(handshake)
        return hub

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscription:
        sub = Subscription()
        if self.closed:
            sub.ended = True
        else:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        update = Update(kind, data)
        for sub in list(self._subscribers):
            # Keep one slot free for the end marker, so that _end never finds the queue full.
            if sub.queue.qsize() < QUEUE_SIZE - 1:
                sub.queue.put_nowait(update)
            else:
                self._end(sub)

    def close(self) -> None:
        """End every stream (the server is stopping) and refuse new subscribers."""
        self.closed = True
        for sub in list(self._subscribers):
            self._end(sub)

    def _end(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        if not sub.ended:
            sub.ended = True
            sub.queue.put_nowait(None)


def _message_notice(message: StoredMessage) -> dict[str, Any]:
    req = message.request
    return {
        "id": message.id,
        "domain": req.domain,
        "received_at": rfc3339(message.received_at),
        "subject": req.subject,
    }


def _event_notice(domain: str, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event.get("id"),
        "event": event.get("event"),
        "domain": domain,
        "message_id": event.get("message", {}).get("headers", {}).get("message-id"),
        "recipient": event.get("recipient"),
        "timestamp": event.get("timestamp"),
    }
