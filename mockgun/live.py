"""Live updates: what the store and the handshake log publish, for ``GET /mockgun/stream``.

Publishing never blocks and never fails the sender (a send or a handshake must not
wait on a slow browser tab): each subscriber has a bounded queue, and a subscriber
that falls that far behind is dropped. Its stream then ends, EventSource reconnects
on its own, and the page reloads its lists, so it misses nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

#: Updates a subscriber may have waiting before it is dropped.
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Update:
    kind: str  # "message", "event", "handshake", "cleared"
    data: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[Update | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    #: Set when the hub dropped this subscriber (too slow) or closed (server stopping).
    ended: bool = False

    async def next(self) -> Update | None:
        """The next update, or None once the subscription has ended."""
        if self.ended and self.queue.empty():
            return None
        return await self.queue.get()


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self.closed = False

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
