"""How ``/mockgun/*`` (and the embedded server's helpers) show a stored message as JSON.

Presentation lives here, not in the store: the download paths below are this API's URLs.
"""

from __future__ import annotations

import base64
from typing import Any

from ...clock import rfc3339
from ...mailgun import mime
from ...mailgun.form import FilePart
from ...spool import Payload
from ...store import StoredMessage, TransportInfo
from . import view

#: Contents larger than this are not inlined in JSON answers; a download path is given instead.
JSON_CONTENT_LIMIT = 1024 * 1024


def message_path(message: StoredMessage) -> str:
    return f"/mockgun/messages/{message.bare_id}"


def message_json(
    message: StoredMessage, *, with_content: bool = False, headers: list[list[str]] | None = None
) -> dict[str, Any]:
    """A stored message as ``GET /mockgun/messages`` lists it (``with_content``: as
    ``GET /mockgun/messages/{id}`` shows it, with its MIME message and attachments; this
    builds the MIME message and reads its ``headers`` unless given: off the event loop)."""
    req = message.request
    fields: dict[str, list[str]] = {}
    for name, value in req.fields:
        fields.setdefault(name, []).append(value)
    downloads = f"{message_path(message)}/attachments"
    out: dict[str, Any] = {
        "id": message.id,
        "storage_key": message.key,
        "domain": req.domain,
        "endpoint": req.endpoint,
        "received_at": rfc3339(message.received_at),
        "from": req.sender,
        "to": [box.as_json() for box in req.to],
        "cc": [box.as_json() for box in req.cc],
        "bcc": [box.as_json() for box in req.bcc],
        "recipients": req.recipients,
        "subject": req.subject,
        "text": req.text,
        "html": req.html,
        "tags": list(req.options.tags),
        "user_variables": req.options.variables,
        "test_mode": req.options.testmode,
        "fields": fields,
        "attachments": [
            {
                "field": part.field,
                "filename": part.filename,
                "content_type": part.content_type,
                "size": part.size,
                **(_content(part, f"{downloads}/{n}") if with_content else {}),
            }
            for n, part in enumerate(req.files)
        ],
        "tls": transport_json(message.transport),
        "fault": message.fault,
    }
    if with_content:
        out["mime_size"] = message.mime.size
        if headers is None:
            headers = view.headers(message.mime.read(view.HEADER_LIMIT))
        out["headers"] = headers
        out.update(_mime_json(message.mime, f"{message_path(message)}.eml"))
        if message.copies:
            out["copies"] = [{"recipient": r, **_mime_json(m, None)} for r, m in message.copies]
    return out


def transport_json(transport: TransportInfo) -> dict[str, Any]:
    return {
        "conn_id": transport.conn_id,
        "version": transport.tls_version,
        "cipher": transport.cipher,
    }


def _content(part: FilePart, download: str) -> dict[str, str]:
    if part.size > JSON_CONTENT_LIMIT:
        return {"download": download}
    return {"data_base64": base64.b64encode(part.read()).decode("ascii"), "download": download}


def _mime_json(payload: Payload, download: str | None) -> dict[str, Any]:
    if payload.size > JSON_CONTENT_LIMIT:
        return {"mime_download": download} if download else {}
    return {"mime": payload.read().decode("utf-8", errors="replace")}


def received_json(payload: Payload) -> dict[str, Any]:
    """What a recipient sees of a message: its headers decoded, its text and HTML. Parsing is
    CPU work: a worker process runs this (plain, picklable argument)."""
    msg = mime.parse(payload)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return {
        "from": str(msg["From"] or ""),
        "to": str(msg["To"] or ""),
        "subject": str(msg["Subject"] or ""),
        "message_id": str(msg["Message-Id"] or ""),
        "text": _part_text(text),
        "html": _part_text(html),
        "headers": [[name, str(value)] for name, value in msg.items()],
    }


def _part_text(part: Any) -> str | None:
    if part is None:
        return None
    try:
        return str(part.get_content())
    except (LookupError, ValueError, AssertionError):  # an unknown charset, a broken part
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
