"""The message store: every accepted send, kept in memory, in arrival order."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .mail.send import SendRequest


@dataclass(frozen=True)
class TransportInfo:
    """The connection a message arrived on (all ``None`` for plain-HTTP test clients)."""

    conn_id: int | None = None
    tls_version: str | None = None
    cipher: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"conn_id": self.conn_id, "version": self.tls_version, "cipher": self.cipher}


@dataclass(frozen=True)
class StoredMessage:
    id: str  # with angle brackets, as returned to the client
    received_at: float
    request: SendRequest = field(repr=False)
    transport: TransportInfo = TransportInfo()

    @property
    def domain(self) -> str:
        return self.request.domain

    @property
    def bare_id(self) -> str:
        return self.id.strip("<>")

    def matches(self, *, domain: str | None = None, to: str | None = None) -> bool:
        if domain is not None and self.domain.lower() != domain.lower():
            return False
        return to is None or to.lower() in (r.lower() for r in self.request.recipients)

    def as_json(self, *, with_content: bool = False) -> dict[str, Any]:
        req = self.request
        fields: dict[str, list[str]] = {}
        for name, value in req.fields:
            fields.setdefault(name, []).append(value)
        out: dict[str, Any] = {
            "id": self.id,
            "domain": req.domain,
            "endpoint": req.endpoint,
            "received_at": _rfc3339(self.received_at),
            "from": req.sender,
            "to": [box.as_json() for box in req.to],
            "cc": [box.as_json() for box in req.cc],
            "bcc": [box.as_json() for box in req.bcc],
            "recipients": req.recipients,
            "subject": req.subject,
            "text": req.text,
            "html": req.html,
            "fields": fields,
            "attachments": [
                {
                    "field": part.field,
                    "filename": part.filename,
                    "content_type": part.content_type,
                    "size": part.size,
                    **({"data_base64": _b64(part.data)} if with_content else {}),
                }
                for part in req.files
            ],
            "tls": self.transport.as_json(),
        }
        if req.mime is not None:
            out["mime_size"] = len(req.mime)
            if with_content:
                out["mime"] = req.mime.decode("utf-8", errors="replace")
        return out


class MessageStore:
    """In-memory and unbounded for now; everything lives for the life of the process."""

    def __init__(self) -> None:
        self._messages: dict[str, StoredMessage] = {}
        self._seq = itertools.count(1)

    def __len__(self) -> int:
        return len(self._messages)

    def new_id(self, domain: str) -> str:
        # Mailgun's shape: <YYYYMMDDhhmmss.N.HEX@domain>
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        return f"<{stamp}.{next(self._seq)}.{secrets.token_hex(8).upper()}@{domain}>"

    def add(self, request: SendRequest, transport: TransportInfo) -> StoredMessage:
        message = StoredMessage(
            id=self.new_id(request.domain),
            received_at=time.time(),
            request=request,
            transport=transport,
        )
        self._messages[message.bare_id] = message
        return message

    def get(self, message_id: str) -> StoredMessage | None:
        return self._messages.get(message_id.strip().strip("<>"))

    def find(self, *, domain: str | None = None, to: str | None = None) -> list[StoredMessage]:
        """Oldest first."""
        return [m for m in self._messages.values() if m.matches(domain=domain, to=to)]

    def clear(self) -> int:
        count = len(self._messages)
        self._messages.clear()
        return count


def _rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
