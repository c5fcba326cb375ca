"""Route POSTs as Mailgun makes them: a signed form per ``forward()`` URL and per
``store(notify=...)``, retried on Mailgun's schedule, every attempt recorded.

Mailgun's rules (user manual, "Receiving Messages via HTTP through a forward() action"): a
200 is done, a 406 means rejected and is never retried, anything else (or no answer) is
retried after 10 min, 10 min, 15 min, 30 min, 1 h, 2 h and 4 h. mockgun keeps the shape of
that schedule and divides it by ``scale`` (1200 by default: 0.5 s, 0.5 s, 0.75 s, ... 12 s),
so that a test sees a retry at once and a user can ask for the real thing with a scale of 1.

Each attempt carries a fresh ``timestamp``, ``token`` (50 characters) and ``signature``
(HMAC-SHA256 of timestamp + token with the webhook signing key), as an app checks them. The
POST itself is made by a :class:`FormPoster` (:class:`mockgun.outbound.JsonPoster` when
serving): this module decides what is sent and when, and knows nothing of HTTP clients.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..clock import now_rfc3339
from .webhooks import sign

#: Mailgun's retry schedule for route POSTs, in seconds.
MAILGUN_SCHEDULE = (600, 600, 900, 1800, 3600, 7200, 14400)
DEFAULT_SCALE = 1200.0
#: Attempts kept for the inspection API (the oldest go first).
MAX_RECORDS = 10_000

#: Inbound messages remembered for ``GET /mockgun/inbound``.
MAX_INBOX = 1000

#: A file of a form: (field name, filename, content type, bytes).
FormFile = tuple[str, str, str, bytes]


class FormPoster(Protocol):
    async def post_form(
        self, url: str, fields: Sequence[tuple[str, str]], files: Sequence[FormFile]
    ) -> tuple[int | None, str | None]:
        """POST a multipart form: ``(status, None)``, or ``(None, why)`` with no answer."""
        ...


def retry_delays(scale: float) -> tuple[float, ...]:
    return tuple(seconds / scale for seconds in MAILGUN_SCHEDULE)


def signed(key: str) -> list[tuple[str, str]]:
    timestamp = str(int(time.time()))
    token = secrets.token_hex(25)
    return [("timestamp", timestamp), ("token", token), ("signature", sign(key, timestamp, token))]


@dataclass(frozen=True)
class _Post:
    """One POST a route makes, attempt after attempt (each signed afresh)."""

    url: str
    fields: Sequence[tuple[str, str]]
    files: Sequence[FormFile]
    about: dict[str, Any]


def _settled(record: dict[str, Any]) -> bool:
    """Done with: answered 2xx, or rejected with 406 (Mailgun never retries that)."""
    return bool(record["ok"]) or record.get("status") == 406


@dataclass
class Forwarder:
    signing_key: Callable[[], str]
    scale: float = DEFAULT_SCALE
    poster: FormPoster | None = None
    attempts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_RECORDS))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def deliver(
        self,
        url: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[FormFile],
        *,
        about: dict[str, Any],
    ) -> dict[str, Any]:
        """Make the first attempt now and return its record; retries, when needed, go on in
        the background. ``about`` (inbound id, route, recipient, kind) goes on every record."""
        post = _Post(url, fields, files, about)
        first = await self._attempt(post, 1)
        if not _settled(first):
            task = asyncio.get_running_loop().create_task(self._retry(post))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return first

    async def _retry(self, post: _Post) -> None:
        for attempt, delay in enumerate(retry_delays(self.scale), start=2):
            await asyncio.sleep(delay)
            if _settled(await self._attempt(post, attempt)):
                return

    async def _attempt(self, post: _Post, attempt: int) -> dict[str, Any]:
        record: dict[str, Any] = {
            **post.about,
            "url": post.url,
            "attempt": attempt,
            "ts": now_rfc3339(),
        }
        if self.poster is None:
            record.update(ok=False, error="mockgun makes no outbound requests here")
        else:
            status, error = await self.poster.post_form(
                post.url, [*post.fields, *signed(self.signing_key())], post.files
            )
            if status is not None:
                record["status"] = status
            else:
                record["error"] = error
            record["ok"] = status is not None and 200 <= status < 300
            if status == 406:
                record["rejected"] = True  # Mailgun: rejected, never retried
        self.attempts.append(record)
        return record

    def for_inbound(self, inbound_id: str) -> list[dict[str, Any]]:
        return [a for a in self.attempts if a.get("inbound_id") == inbound_id]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)


class Inbox:
    """What came in, newest last, with what each route did (bounded)."""

    def __init__(self) -> None:
        self.items: deque[dict[str, Any]] = deque(maxlen=MAX_INBOX)

    def clear(self) -> int:
        count = len(self.items)
        self.items.clear()
        return count
