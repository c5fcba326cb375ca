"""Reading a stored message back for people: its header block and its HTML body."""

from __future__ import annotations

from email import policy
from email.parser import BytesHeaderParser

from ...mailgun import mime
from ...spool import Payload

#: A header block larger than this is cut (a message's headers are a few KiB).
HEADER_LIMIT = 256 * 1024
#: Bodies are read for display only from messages up to this size.
BODY_LIMIT = 32 * 1024 * 1024


def headers(head: bytes) -> list[list[str]]:
    """``[name, value]`` pairs in order, encoded words decoded where they are well formed,
    from the start of a message (``payload.read(HEADER_LIMIT)``: the caller reads, so that
    only these bytes, not a whole message, go to a worker process)."""
    for end in (b"\r\n\r\n", b"\n\n"):
        if end in head:
            head = head[: head.index(end) + len(end)]
            break
    parsed = BytesHeaderParser(policy=policy.default).parsebytes(head)
    out = []
    for name, raw in parsed.raw_items():
        try:
            value = str(parsed.policy.header_fetch_parse(name, raw))
        except Exception:  # a malformed header is shown as it came
            value = str(raw)
        out.append([name, value])
    return out


def html_body(payload: Payload) -> str | None:
    """The ``text/html`` body of a MIME message (for sends through ``messages.mime``)."""
    if payload.size > BODY_LIMIT:
        return None
    message = mime.parse(payload)
    try:
        part = message.get_body(preferencelist=("html",))
        return None if part is None else str(part.get_content())
    except (LookupError, ValueError, AttributeError):  # an unknown charset, a broken part
        return None
