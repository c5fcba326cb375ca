"""Webhooks as Mailgun sends them: a signed JSON POST per event, retried on failure.

Each delivery carries ``signature`` (``timestamp``, ``token`` and ``signature``, the
HMAC-SHA256 of timestamp + token with the signing key) and ``event-data`` (the event).
Every attempt is recorded for ``GET /mockgun/webhooks/deliveries``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

#: Mailgun's webhook names (``failed`` events split by severity).
WEBHOOK_EVENTS = (
    "accepted", "delivered", "permanent_fail", "temporary_fail",
    "opened", "clicked", "unsubscribed", "complained",
)  # fmt: skip
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


@dataclass
class Webhooks:
    """Configured URLs (for every domain, and per domain through the API) and deliveries."""

    signing_key: str = field(default_factory=lambda: "key-" + secrets.token_hex(16))
    everywhere: dict[str, list[str]] = field(default_factory=dict)
    per_domain: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    ca_file: Path | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def urls(self, domain: str, name: str) -> list[str]:
        domain_urls = self.per_domain.get(domain.lower(), {}).get(name, [])
        return [*self.everywhere.get(name, []), *domain_urls]

    def dispatch(self, domain: str, events: Iterable[dict[str, Any]]) -> None:
        """Schedule deliveries for new events (called on the event loop)."""
        for event in events:
            for url in self.urls(domain, webhook_name(event)):
                task = asyncio.get_running_loop().create_task(self._deliver(url, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, event: dict[str, Any]) -> None:
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
                "url": url, "event": webhook_name(event), "event_id": event.get("id"),
                "attempt": attempt, "ts": time.time(),
            }  # fmt: skip
            try:
                async with self._client().post(
                    url, json=body, timeout=aiohttp.ClientTimeout(total=10)
                ) as resp:
                    record["status"] = resp.status
                    ok = 200 <= resp.status < 300
            except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
                ok = False
            record["ok"] = ok
            self.deliveries.append(record)
            if ok:
                return

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None
            )
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        return self._session

    async def close(self) -> None:
        """Let deliveries under way finish briefly, then stop."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
            for task in list(self._tasks):
                task.cancel()
        if self._session is not None:
            await self._session.close()
