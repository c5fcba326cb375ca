"""Webhooks as Mailgun sends them: a signed JSON POST per event, retried on failure.

Each delivery carries ``signature`` (``timestamp``, ``token`` and ``signature``, the
HMAC-SHA256 of timestamp + token with the signing key) and ``event-data`` (the event).
Every attempt is recorded for ``GET /mockgun/webhooks/deliveries``. The POST itself
is made by a :class:`Poster` (:class:`mockgun.outbound.JsonPoster` when serving), so that
this module decides *what* is sent and *when*, and knows nothing of HTTP clients.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..clock import now_rfc3339

#: Mailgun's webhook names (``failed`` events split by severity).
WEBHOOK_EVENTS = (
    "accepted",
    "delivered",
    "permanent_fail",
    "temporary_fail",
    "opened",
    "clicked",
    "unsubscribed",
    "complained",
)
DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0)


def webhook_name(event: dict[str, Any]) -> str:
    kind = str(event.get("event"))
    if kind == "failed":
        return "permanent_fail" if event.get("severity") == "permanent" else "temporary_fail"
    return kind


def sign(key: str, timestamp: str, token: str) -> str:
    """What a Mailgun user's receiver checks: HMAC-SHA256(key, timestamp + token), hex."""
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def parse_webhook_option(text: str) -> tuple[str, str]:
    """``EVENT=URL`` from ``--webhook``; raises ValueError."""
    name, sep, url = text.partition("=")
    name = name.strip().lower()
    if not sep or name not in WEBHOOK_EVENTS:
        raise ValueError(f"expected EVENT=URL with EVENT one of {', '.join(WEBHOOK_EVENTS)}")
    if not url.startswith(("http://", "https://")):
        raise ValueError("the URL must start with http:// or https://")
    return name, url.strip()


class Poster(Protocol):
    """Makes the HTTP request of one delivery attempt."""

    async def post_json(self, url: str, body: dict[str, Any]) -> tuple[int | None, str | None]:
        """POST ``body`` as JSON: ``(status, None)``, or ``(None, why)`` when no answer came."""
        ...

    async def close(self) -> None: ...


@dataclass
class Webhooks:
    """Configured URLs (for every domain, and per domain through the API) and deliveries."""

    signing_key: str = field(default_factory=lambda: "key-" + secrets.token_hex(16))
    everywhere: dict[str, list[str]] = field(default_factory=dict)
    per_domain: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    poster: Poster | None = None
    #: Completes an event before its first delivery (the app fills in the message size,
    #: known once the message is built).
    prepare: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def urls(self, domain: str, name: str) -> list[str]:
        domain_urls = self.per_domain.get(domain.lower(), {}).get(name, [])
        return [*self.everywhere.get(name, []), *domain_urls]

    def dispatch(self, domain: str, events: Iterable[dict[str, Any]]) -> None:
        """Schedule deliveries for new events (called on the event loop; with no poster,
        nothing is sent)."""
        poster = self.poster
        if poster is None:
            return
        for event in events:
            for url in self.urls(domain, webhook_name(event)):
                task = asyncio.get_running_loop().create_task(self._deliver(poster, url, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, poster: Poster, url: str, event: dict[str, Any]) -> None:
        if self.prepare is not None:
            await self.prepare(event)
        timestamp = str(int(time.time()))
        token = secrets.token_hex(25)
        body = {
            "signature": {
                "timestamp": timestamp,
                "token": token,
                "signature": sign(self.signing_key, timestamp, token),
            },
            "event-data": event,
        }
        for attempt, delay in enumerate((0.0, *self.retry_delays), start=1):
            if delay:
                await asyncio.sleep(delay)
            record: dict[str, Any] = {
                "url": url,
                "event": webhook_name(event),
                "event_id": event.get("id"),
                "attempt": attempt,
                "ts": now_rfc3339(),
            }
            status, error = await poster.post_json(url, body)
            if status is not None:
                record["status"] = status
            else:
                record["error"] = error
            ok = status is not None and 200 <= status < 300
            record["ok"] = ok
            self.deliveries.append(record)
            if ok:
                return

    async def close(self) -> None:
        """Let deliveries under way finish briefly, then stop."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
            for task in list(self._tasks):
                task.cancel()
        if self.poster is not None:
            await self.poster.close()
