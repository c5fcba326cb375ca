"""The RFC 5322 message Mailgun would deliver for a send, built with the standard library.

Structure: ``multipart/mixed`` (attachments) around ``multipart/alternative``
(text, html, amp-html), whose html part becomes ``multipart/related`` with the
inline parts (each with ``Content-ID: <filename>``, so that HTML can say
``cid:filename``) — each layer only when needed. Bcc never appears in the headers.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import mimetypes
import re
import secrets
from collections.abc import Callable
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, getaddresses
from typing import Any, BinaryIO

from ..spool import Payload, Spool
from . import links
from .form import FilePart
from .links import substitute
from .send import Mailbox, SendRequest

#: Headers mockgun writes itself; ``h:`` parameters with these names stay in the stored
#: fields but do not replace them (the returned id must stay the Message-Id, for one).
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)


def _addresses(boxes: tuple[Mailbox, ...]) -> list[Address | str]:
    out: list[Address | str] = []
    for box in boxes:
        try:
            out.append(Address(display_name=box.name, addr_spec=box.address))
        except (ValueError, IndexError):
            out.append(box.address)
    return out


def render(
    send: SendRequest,
    message_id: str,
    date: dt.datetime,
    *,
    recipient: Mailbox | None = None,
    spool: Spool | None = None,
) -> Payload:
    """The message for ``send``; in a batch, the copy for ``recipient`` (who alone is in To).

    With spooled (large) parts and a ``spool``, the message is written to a spool file and
    their content streamed into it in base64 chunks; otherwise it is built in memory.
    """
    markers: dict[bytes, FilePart] = {}
    msg = _build(send, message_id, date, recipient, markers)
    if not markers:
        return Payload(data=msg.as_bytes())
    # The email package lays out the structure around small markers; the real content of
    # each spooled part is streamed in where its marker's base64 line stands.
    skeleton = msg.as_bytes()
    if spool is not None:
        try:
            return _stream_to_spool(skeleton, markers, spool)
        except OSError:
            pass  # a full disk: the message is built in memory instead (at most 25 MiB or so)
    for marker, part in markers.items():
        skeleton = skeleton.replace(_b64_line(marker), _b64_lines(part.read()))
    return Payload(data=skeleton)


def _stream_to_spool(skeleton: bytes, markers: dict[bytes, FilePart], spool: Spool) -> Payload:
    path = spool.new_path(".eml")
    try:
        with path.open("wb") as out:
            _write_streamed(out, skeleton, markers)
    except OSError:
        path.unlink(missing_ok=True)  # never a partial file left behind
        raise
    return Payload(path=path)


def _write_streamed(out: BinaryIO, skeleton: bytes, markers: dict[bytes, FilePart]) -> None:
    rest = skeleton
    for marker, part in markers.items():
        before, _, rest = rest.partition(_b64_line(marker))
        out.write(before)
        first = True
        for chunk in part.chunks(_STREAM_CHUNK):
            if not first:
                out.write(b"\r\n")
            out.write(_b64_lines(chunk))
            first = False
    out.write(rest)


#: Multiparts nested deeper than this are not read back: the standard library walks a message
#: recursively, and a hostile upload can nest thousands deep.
MAX_DEPTH = 64


def parse(payload: Payload) -> EmailMessage:
    """A stored message read back. One nested deeper than :data:`MAX_DEPTH` multiparts comes
    back as its header block with an empty body (it is still stored, and downloadable, as is)."""
    parser = BytesParser(policy=policy.default)
    try:
        if payload.path is not None:
            with payload.path.open("rb") as fh:
                parsed = parser.parse(fh)
        else:
            parsed = parser.parsebytes(payload.data)
        if isinstance(parsed, EmailMessage) and _depth(parsed) <= MAX_DEPTH:
            return parsed
    except RecursionError:  # the parser itself recurses per nested part
        pass
    shallow = BytesHeaderParser(policy=policy.default).parsebytes(payload.read(256 * 1024))
    assert isinstance(shallow, EmailMessage)
    del shallow["Content-Type"]
    shallow.set_payload("")
    return shallow


def _depth(message: Message) -> int:
    deepest, stack = 0, [(message, 0)]
    while stack:  # not recursive, on purpose
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        children = part.get_payload() if part.is_multipart() else []
        if depth <= MAX_DEPTH and isinstance(children, list):
            stack.extend((child, depth + 1) for child in children if isinstance(child, Message))
    return deepest


#: Raw bytes per streamed chunk: a multiple of 57, so that each chunk is whole 76-char lines.
_STREAM_CHUNK = 57 * 4096


def _b64_line(data: bytes) -> bytes:
    return base64.b64encode(data)


def _b64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _content(part: FilePart, markers: dict[bytes, FilePart]) -> bytes:
    if part.path is None:
        return part.data
    marker = f"mockgun-spooled-part-{secrets.token_hex(12)}".encode()  # < 57 bytes: one line
    markers[marker] = part
    return marker


def _build(
    send: SendRequest,
    message_id: str,
    date: dt.datetime,
    recipient: Mailbox | None,
    markers: dict[bytes, FilePart],
) -> EmailMessage:
    values: dict[str, Any] | None = None
    builtins: dict[str, str] | None = None
    if recipient is not None:
        if send.options.recipient_variables is not None:
            values = send.options.recipient_variables.get(recipient.address, {})
        builtins = links.builtins_for(
            domain=send.domain,
            message_id=message_id,
            address=recipient.address,
            name=recipient.name,
            base=send.links_base,
        )

    def personal(text: str | None) -> str | None:
        return links.fill(substitute(text, values), builtins)

    msg = EmailMessage(policy=policy.SMTP)
    if send.sender:
        sender = getaddresses([send.sender])
        msg["From"] = _addresses(tuple(Mailbox(n, a) for n, a in sender)) if sender else send.sender
    # A batch copy names its recipient alone; a copy made for built-in variables keeps To.
    batch = recipient is not None and send.options.recipient_variables is not None
    msg["To"] = _addresses((recipient,) if batch and recipient is not None else send.to)
    if send.cc:
        msg["Cc"] = _addresses(send.cc)
    msg["Subject"] = personal(send.subject) or ""
    msg["Date"] = format_datetime(date)
    msg["Message-Id"] = message_id
    for name, value in send.options.headers:
        if name.lower() not in RESERVED_HEADERS:
            msg[name] = personal(value) or ""
    for tag in send.options.tags:
        msg["X-Mailgun-Tag"] = tag
    if send.options.variables:
        # In a batch, %recipient.x% in v: values too (django-anymail's per-recipient metadata).
        variables = {k: substitute(v, values) for k, v in send.options.variables.items()}
        msg["X-Mailgun-Variables"] = json.dumps(variables)
    if send.options.template:
        msg["X-Mailgun-Template-Name"] = send.options.template
    _set_body(msg, send, personal)
    _add_inline(msg, send.inline, markers)
    for part in send.attachments:
        maintype, subtype = _split_type(part)
        msg.add_attachment(
            _content(part, markers),
            maintype=maintype,
            subtype=subtype,
            filename=part.safe_filename,
        )
    return msg


def _set_body(
    msg: EmailMessage, send: SendRequest, personal: Callable[[str | None], str | None]
) -> None:
    text = personal(send.text)
    html = personal(send.html)
    amp = personal(send.amp_html)
    if not (text or html or amp):
        template = send.options.template or "?"
        variables = json.dumps(send.options.template_variables or {})
        text = (
            f"[mockgun: the template '{template}' was not rendered (see this message's failed "
            f"event); t:variables: {variables}]\n"
        )
    if text:
        msg.set_content(text)
    if html:
        if text:
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(html, subtype="html")
    if amp:
        if text or html:
            msg.add_alternative(amp, subtype="x-amp-html")
        else:
            msg.set_content(amp, subtype="x-amp-html")


def _add_inline(msg: EmailMessage, parts: list[FilePart], markers: dict[bytes, FilePart]) -> None:
    if not parts:
        return
    html = msg.get_body(preferencelist=("html",))
    for part in parts:
        maintype, subtype = _split_type(part)
        options: dict[str, Any] = {
            "maintype": maintype,
            "subtype": subtype,
            "cid": f"<{part.safe_filename}>",
            "filename": part.safe_filename,
            "disposition": "inline",
        }
        if isinstance(html, EmailMessage):
            html.add_related(_content(part, markers), **options)
        else:  # no HTML to relate to: still delivered, as an inline attachment
            msg.add_attachment(_content(part, markers), **options)


def _split_type(part: FilePart) -> tuple[str, str]:
    content_type = part.content_type.split(";")[0].strip().lower()
    if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", content_type):
        content_type = mimetypes.guess_type(part.filename)[0] or "application/octet-stream"
    maintype, _, subtype = content_type.partition("/")
    return maintype or "application", subtype or "octet-stream"


def with_rendered_html(payload: Payload, html: str) -> Payload | None:
    """The uploaded message of a ``messages.mime`` send with its HTML part's content replaced
    by a rendered template, everything else as uploaded; None when Mailgun would not render
    it: an upload with no HTML part (Mailgun documents that a text/plain-only body is not
    template-rendered)."""
    msg = parse(payload)
    part = msg.get_body(preferencelist=("html",))
    if not isinstance(part, EmailMessage) or part.get_content_type() != "text/html":
        return None
    part.set_content(html, subtype="html")
    return Payload(data=msg.as_bytes(policy=policy.SMTP))
