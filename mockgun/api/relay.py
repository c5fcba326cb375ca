"""``--relay smtp://HOST:PORT``: every copy Mailgun would deliver, handed to a mail catcher.

Teams that look at mail in Mailpit (or MailHog, or any SMTP server) keep doing so: for each
``delivered`` event mockgun writes (so after templates, batch and list expansion, and never for a
suppressed recipient, a bounce, a test-mode send or with ``--no-deliver``), the recipient's own
copy goes over SMTP to the catcher, with the send's sender as the envelope sender. The result
(the catcher's reply, or why it failed) is recorded per recipient: ``GET /mockgun/relay`` and
``relay`` in ``GET /mockgun/messages/{id}``.

The standard library's ``smtplib`` does the talking, on a thread (a catcher on loopback answers
in microseconds; a slow or dead one must not hold the event loop), a few at a time.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections import deque
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from ..clock import now_rfc3339
from ..store import MessageStore
from .offload import Offload, built

#: Relays under way at once.
CONCURRENCY = 4
#: Results kept for /mockgun/relay.
MAX_RESULTS = 10_000
TIMEOUT = 10.0


def parse_relay(url: str) -> tuple[str, int]:
    """``smtp://HOST:PORT`` (port 25 by default); raises ValueError."""
    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError("expected smtp://HOST:PORT, e.g. smtp://mailpit:1025")
    return parts.hostname, parts.port or 25


def _deliver(host: str, port: int, sender: str, recipient: str, data: bytes) -> str:
    with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
        smtp.ehlo_or_helo_if_needed()
        smtp.mail(sender)
        code, reply = smtp.rcpt(recipient)
        if code >= 400:
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        code, reply = smtp.data(data)
        return f"{code} {reply.decode(errors='replace')}"


class Relay:
    def __init__(self, url: str, store: MessageStore, offload: Offload) -> None:
        self.url = url
        self.host, self.port = parse_relay(url)
        self.store = store
        self.offload = offload
        self.results: deque[dict[str, Any]] = deque(maxlen=MAX_RESULTS)
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()

    def listen(self, domain: str, events: list[dict[str, Any]]) -> None:
        """An event-log listener: relay each delivered copy."""
        for event in events:
            if event.get("event") != "delivered" or event.get("flags", {}).get("is-test-mode"):
                continue
            message_id = str(event.get("message", {}).get("headers", {}).get("message-id", ""))
            task = asyncio.get_running_loop().create_task(
                self._relay(message_id, str(event.get("recipient", "")))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _relay(self, message_id: str, recipient: str) -> None:
        record: dict[str, Any] = {"message_id": message_id, "recipient": recipient}
        async with self._slots:
            message = self.store.get(message_id)
            try:
                if message is None:
                    raise LookupError("the message was evicted before it could be relayed")
                await built(self.offload, message)
                payload = message.copy_for(recipient)
                if payload is None:
                    raise LookupError("no copy for this recipient")
                sender = parseaddr(message.request.sender or "")[1]
                data = await asyncio.to_thread(payload.read)
                reply = await asyncio.to_thread(
                    _deliver, self.host, self.port, sender, recipient, data
                )
                record.update(ok=True, reply=reply)
            except (OSError, smtplib.SMTPException, LookupError, RuntimeError) as exc:
                record.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        record["ts"] = now_rfc3339()
        self.results.append(record)

    def for_message(self, bare_id: str) -> list[dict[str, Any]]:
        return [r for r in self.results if r["message_id"] == bare_id]

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
