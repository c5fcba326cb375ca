"""Inbound mail as Mailgun parses it for a route's ``forward()`` and ``store()``.

:func:`parse` reads a raw RFC 5322 message into its headers, bodies and files, refusing what
no mail server would take (nesting deeper than :data:`MAX_DEPTH`, more than
:data:`MAX_PARTS` parts, a header section over :data:`MAX_HEADER_BYTES`) with an
:class:`InboundError` that the API answers as a 400. :func:`forward_fields` then lays out the
form Mailgun POSTs: ``recipient``, ``sender``, ``from``, ``subject``, ``body-plain``,
``stripped-text``, ``stripped-signature``, ``body-html``, ``stripped-html``,
``attachment-count``, ``message-headers``, ``content-id-map``, and every top-level MIME header.

The quoted reply and the signature are cut by rules in the spirit of Mailgun's own
talon library (its rule-based paths, not the trained classifier): a reply marker ("On ...
wrote:", "-----Original Message-----", an Outlook "From:/Sent:" block) or a trailing run of
">"-quoted lines starts the quotation; a "-- " line, or "Sent from my ..." near the end,
starts the signature. talon itself needs numpy, scipy, scikit-learn and lxml and has not
been released since 2019, so it is not a dependency.

Parsing is CPU work on untrusted bytes: the API runs :func:`parse` in a worker process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid, parseaddr

from .routes import Match, Route, evaluate
from .templated import html_to_text

#: Multipart nesting a message may have (real mail nests 3 or 4 deep).
MAX_DEPTH = 32
#: Parts (leaves and containers) a message may have.
MAX_PARTS = 1000
#: Bytes of the top-level header section.
MAX_HEADER_BYTES = 1024 * 1024
#: Lines of the text body examined for a signature, from its end.
SIGNATURE_WINDOW = 15


class InboundError(ValueError):
    """A message this endpoint will not take; the text says why."""


@dataclass(frozen=True)
class File:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None


@dataclass(frozen=True)
class Received:
    """A parsed inbound message: decoded headers in order, bodies by subtype, files."""

    headers: tuple[tuple[str, str], ...]
    bodies: tuple[tuple[str, str], ...]  # ("plain", text), ("html", html), ...
    files: tuple[File, ...]
    size: int

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for n, v in self.headers if n.lower() == wanted), "")

    def body(self, subtype: str) -> str:
        return next((text for kind, text in self.bodies if kind == subtype), "")

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def header_recipients(self) -> list[str]:
        """The addresses of To and Cc (the envelope recipients when none are given)."""
        values = [v for n, v in self.headers if n.lower() in ("to", "cc")]
        return [address for _, address in getaddresses(values) if "@" in address]


def _decoded(value: str) -> str:
    """A header value with RFC 2047 words decoded and folding undone."""
    unfolded = re.sub(r"\r?\n[ \t]+", " ", value)
    if "=?" not in unfolded:
        return unfolded
    try:
        return str(make_header(decode_header(unfolded)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return unfolded


def _header_bytes(raw: bytes) -> int:
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    return len(raw) if end < 0 else end


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


def _walk(message: Message) -> list[Message]:
    """Leaf parts in order, counting every part and the nesting (not recursive: a hostile
    message must not be able to exhaust the stack)."""
    leaves: list[Message] = []
    count = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > MAX_PARTS:
            raise InboundError(f"the message has more than {MAX_PARTS} MIME parts")
        if depth > MAX_DEPTH:
            raise InboundError(f"the message nests multiparts deeper than {MAX_DEPTH}")
        children = part.get_payload() if part.is_multipart() else None
        if isinstance(children, list):
            stack.extend((c, depth + 1) for c in reversed(children) if isinstance(c, Message))
        else:
            leaves.append(part)
    return leaves


def parse(raw: bytes) -> Received:
    if not raw.strip():
        raise InboundError("the message is empty")
    if _header_bytes(raw) > MAX_HEADER_BYTES:
        raise InboundError(f"the header section is over {MAX_HEADER_BYTES // 1024} KiB")
    try:
        # compat32: header values stay raw strings, decoded once below; the default policy
        # parses each header into objects, slowly for the huge ones hostile mail carries.
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except RecursionError:
        raise InboundError(f"the message nests multiparts deeper than {MAX_DEPTH}") from None
    if not message.keys():
        raise InboundError("the message has no headers")
    headers = tuple((name, _decoded(str(value))) for name, value in message.items())
    bodies: list[tuple[str, str]] = []
    files: list[File] = []
    for part in _walk(message):
        maintype = part.get_content_maintype()
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = part.get_filename()
        seen = {kind for kind, _ in bodies}
        if (
            maintype == "text"
            and disposition != "attachment"
            and not filename
            and part.get_content_subtype() not in seen
        ):
            bodies.append((part.get_content_subtype(), _text_of(part)))
            continue
        payload = part.get_payload(decode=True)
        content_id = part.get("Content-ID")
        files.append(
            File(
                filename=_decoded(filename) if filename else f"part-{len(files) + 1}",
                content_type=part.get_content_type(),
                data=payload if isinstance(payload, bytes) else b"",
                content_id=str(content_id).strip() if content_id else None,
            )
        )
    if not any(kind == "plain" for kind, _ in bodies):
        html = next((text for kind, text in bodies if kind == "html"), None)
        if html is not None:  # "Mailgun will create a text representation for you"
            bodies.insert(0, ("plain", html_to_text(html)))
    return Received(headers, tuple(bodies), tuple(files), len(raw))


# --- quotations and signatures -----------------------------------------------------------

_ON_WROTE = re.compile(
    r"^\s*(on|le|am|el|op|il)\b.{0,300}(wrote|écrit|schrieb|escribió)\s*:\s*$", re.I
)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|forwarded message)\s*-{2,}\s*$", re.I)
_OUTLOOK_FROM = re.compile(r"^\s*\*?from:\*?\s", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|to|subject):\*?\s", re.I)
_SIGNATURE = re.compile(r"^(-- ?|--|_{2,}|—)\s*$")
_SENT_FROM = re.compile(r"^\s*sent from my\b", re.I)


def _quotation_start(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if _ON_WROTE.match(line) or _ORIGINAL.match(line):
            return i
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.lstrip().lower().startswith("on ") and _ON_WROTE.match(f"{line} {following}"):
            return i  # "On Tue, 1 Dec 2026, Ann <ann@example.com>\nwrote:" (wrapped)
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1 : i + 4]):
            return i
    # A trailing block of ">"-quoted lines (blank lines allowed in it).
    start = None
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped.startswith(">"):
            start = i
        elif stripped:
            break
    return start


def strip_text(text: str) -> tuple[str, str]:
    """``(stripped-text, stripped-signature)`` of a plain-text body."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = _quotation_start(lines)
    if cut is not None:
        lines = lines[:cut]
    while lines and not lines[-1].strip():
        lines.pop()
    signature = ""
    window = max(0, len(lines) - SIGNATURE_WINDOW)
    for i in range(window, len(lines)):
        if i > 0 and (_SIGNATURE.match(lines[i]) or _SENT_FROM.match(lines[i])):
            signature = "\n".join(lines[i:]).strip()
            lines = lines[:i]
            break
    return "\n".join(lines).strip(), signature


_HTML_QUOTE = re.compile(
    r"<div[^>]*class=[\"'][^\"']*(gmail_quote|moz-cite-prefix|OutlookMessageHeader)"
    r"|<blockquote\b|<div[^>]*id=[\"']?(divRplyFwdMsg|appendonsend)",
    re.I,
)


def strip_html(html: str) -> str:
    """The HTML body without its quoted reply (what follows a Gmail, Thunderbird, Apple
    Mail or Outlook quotation marker)."""
    found = _HTML_QUOTE.search(html)
    return html if found is None else html[: found.start()].rstrip()


# --- what is posted ---------------------------------------------------------------------


def content_id_map(received: Received) -> dict[str, str]:
    """Each file's Content-ID (angle brackets kept, as in the header) to its form field."""
    return {
        f.content_id: f"attachment-{i}"
        for i, f in enumerate(received.files, start=1)
        if f.content_id
    }


def parsed_fields(received: Received) -> list[tuple[str, str]]:
    """The parsed-message fields shared by a forward() POST and a stored message."""
    plain, html = received.body("plain"), received.body("html")
    stripped, signature = strip_text(plain)
    fields = [
        ("from", received.header("From")),
        ("subject", received.subject),
        ("body-plain", plain),
        ("stripped-text", stripped),
        ("stripped-signature", signature),
    ]
    if html:
        fields += [("body-html", html), ("stripped-html", strip_html(html))]
    for kind, text in received.bodies:  # "all parts of the message will be posted"
        if kind not in ("plain", "html"):
            fields.append((f"body-{kind}", text))
    fields.append(("message-headers", json.dumps([list(h) for h in received.headers])))
    fields.append(("content-id-map", json.dumps(content_id_map(received))))
    return fields


def forward_fields(received: Received, recipient: str, sender: str) -> list[tuple[str, str]]:
    """The form of a ``forward()`` POST (before the files and the signature): Mailgun's
    parsed fields, then every top-level MIME header (the first of each name)."""
    fields = [("recipient", recipient), ("sender", sender)]
    fields += parsed_fields(received)
    fields.append(("attachment-count", str(len(received.files))))
    names = {name for name, _ in fields}
    for name, value in received.headers:
        if name not in names:
            names.add(name)
            fields.append((name, value))
    return fields


def mime_fields(
    received: Received, raw: bytes, recipient: str, sender: str
) -> list[tuple[str, str]]:
    """The form of a ``forward()`` to a URL ending in ``mime``: the message as it came."""
    return [
        ("recipient", recipient),
        ("sender", sender),
        ("from", received.header("From")),
        ("subject", received.subject),
        ("body-mime", raw.decode("utf-8", errors="replace")),
    ]


def envelope_sender(received: Received, given: str | None) -> str:
    """``MAIL FROM``: the one given, else the From header's address."""
    if given:
        return given
    return parseaddr(received.header("From"))[1]


# --- the worker's job ---------------------------------------------------------------------


@dataclass(frozen=True)
class Composed:
    """A message given as fields (``POST /mockgun/inbound`` without a raw message)."""

    sender: str
    to: tuple[str, ...]
    subject: str = ""
    text: str | None = None
    html: str | None = None
    files: tuple[File, ...] = ()

    def build(self) -> bytes:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Subject"] = self.subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-Id"] = make_msgid(domain="mockgun.invalid")
        if self.text is not None or self.html is None:
            msg.set_content(self.text or "")
        if self.html is not None:
            if self.text is None:
                msg.set_content(self.html, subtype="html")
            else:
                msg.add_alternative(self.html, subtype="html")
        for f in self.files:
            maintype, _, subtype = f.content_type.partition("/")
            msg.add_attachment(
                f.data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=f.filename,
            )
        return msg.as_bytes()


@dataclass(frozen=True)
class Examined:
    raw: bytes
    received: Received
    recipients: tuple[str, ...]
    matches: tuple[tuple[str, tuple[Match, ...]], ...]


def examine(
    message: bytes | Composed, recipients: Sequence[str], routes: Sequence[Route]
) -> Examined:
    """Parse an inbound message and find, for each recipient, the routes that fire."""
    raw = message.build() if isinstance(message, Composed) else message
    received = parse(raw)
    wanted = list(recipients) or received.header_recipients
    if not wanted:
        raise InboundError("the message has no recipient: give 'to' or a To header")
    for address in wanted:
        if not _ADDRESS.fullmatch(address):
            raise InboundError(f"not an email address: {address[:200]}")
    matches = tuple((r, tuple(evaluate(routes, r, received.headers))) for r in wanted)
    return Examined(raw, received, tuple(wanted), matches)


_ADDRESS = re.compile(r"[^\s@<>]{1,64}@[\w-]+(\.[\w-]+)*")
