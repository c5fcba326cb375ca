"""Validating a send: a :class:`Form` in, a :class:`SendRequest` or Mailgun's error out.

Error texts are Mailgun's own (see ``shared/reference/mailgun-api.md`` §5),
checked in the order a client most often trips over them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses

from ..spool import Payload
from . import links
from .errors import MailgunError
from .form import FilePart, Form
from .options import HEADER_UNSAFE as _CONTROL
from .options import SendOptions, json_object, parse_options

MAX_RECIPIENTS = 1000
MAX_OPTIONS_BYTES = 16 * 1024
BODY_FIELDS = ("text", "html", "amp-html", "template")
NEED_BODY = "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified"
OPTIONS_TOO_BIG = "Send options (parameters starting with o:, h:, or v:) are limited to 16 kB total"

_LOCAL = r"[^\s@<>()\[\],;:\"\\]{1,64}"
_DOMAIN = r"[\w-]+(?:\.[\w-]+)*"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")
#: Characters that only appear in addresses with display names, quotes or comments.
_NEEDS_PARSER = frozenset('<>"()\\;: ')


@dataclass(frozen=True)
class Mailbox:
    name: str
    address: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "address": self.address}


@dataclass(frozen=True)
class SendRequest:
    """A send that passed validation, with every field kept as it came."""

    domain: str
    endpoint: str  # "messages" or "messages.mime"
    sender: str | None
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...] = ()
    bcc: tuple[Mailbox, ...] = ()
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    amp_html: str | None = None
    options: SendOptions = field(default_factory=SendOptions)
    fields: tuple[tuple[str, str], ...] = ()
    files: tuple[FilePart, ...] = field(default=(), repr=False)
    #: For messages.mime (and resends): the message as uploaded.
    mime: Payload | None = field(default=None, repr=False)
    #: ``scheme://host`` the send came to: where the unsubscribe links it carries point.
    links_base: str | None = None
    #: The mailing list address this send went to (its members are ``to``).
    mailing_list: str | None = None

    @property
    def personal(self) -> bool:
        """Whether each recipient gets a copy of their own: a batch send, or one that uses
        Mailgun's built-in per-recipient variables (``%recipient_name%``, ...)."""
        if self.options.recipient_variables is not None:
            return True
        texts = [self.subject, self.text, self.html, self.amp_html]
        return links.uses_builtins(texts + [v for _, v in self.options.headers])

    @property
    def attachments(self) -> list[FilePart]:
        return [p for p in self.files if p.field == "attachment"]

    @property
    def inline(self) -> list[FilePart]:
        return [p for p in self.files if p.field == "inline"]

    @property
    def recipients(self) -> list[str]:
        """Envelope recipients, each address once, in order (Mailgun ignores duplicates)."""
        seen: dict[str, None] = {}
        for box in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(box.address, None)
        return list(seen)


def _nonempty(values: Iterable[str]) -> list[str]:
    return [v for v in values if v.strip()]


def parse_mailboxes(values: Iterable[str], field_name: str) -> tuple[Mailbox, ...]:
    """Split comma-separated, possibly repeated address fields; quoted commas stay in names."""
    values = _nonempty(values)
    boxes: list[Mailbox] = []
    if not any(c in v for v in values for c in _NEEDS_PARSER):
        # The common case, bare addresses ("a@x.com, b@y.org"): no need for the full parser.
        for value in values:
            for piece in value.split(","):
                address = piece.strip()
                if not address:
                    continue
                if not _ADDRESS.fullmatch(address):
                    raise invalid_address(field_name)
                boxes.append(Mailbox("", address))
        if values and not boxes:
            raise invalid_address(field_name)
        return tuple(boxes)
    for name, address in addresses(values, field_name):
        if not address and not name:
            continue
        if not _ADDRESS.fullmatch(address):
            raise invalid_address(field_name)
        boxes.append(Mailbox(name, address))
    # getaddresses drops a value it cannot parse at all; an address-less field is still invalid.
    if values and not boxes:
        raise invalid_address(field_name)
    return tuple(boxes)


def addresses(values: list[str], field_name: str) -> list[tuple[str, str]]:
    """``(name, address)`` pairs of address fields; the standard library's parser recurses into
    comments, so hundreds of nested ``(`` are refused here rather than overflowing the stack."""
    try:
        return getaddresses(values)
    except RecursionError:
        raise invalid_address(field_name) from None


def invalid_address(field_name: str) -> MailgunError:
    return MailgunError(
        400, f"{field_name} parameter is not a valid address. please check documentation"
    )


def _options_size(form: Form) -> int:
    return sum(
        len(k.encode()) + len(v.encode())
        for k, v in form.fields
        if k[:2] in ("o:", "h:", "v:", "t:")
    )


#: Fields that end up in message headers: a line break there would be header injection.
HEADER_FIELDS = ("from", "to", "cc", "bcc", "subject", "template", "o:tag")


def check_header_fields(form: Form) -> None:
    for name in HEADER_FIELDS:
        for value in form.getall(name):
            if _CONTROL.search(value):
                raise MailgunError(
                    400, f"'{name}' parameter must not contain line breaks or control characters"
                )


def validate_send(form: Form, domain: str) -> SendRequest:
    """Check a ``/v3/{domain}/messages`` form the way Mailgun does."""
    check_header_fields(form)
    has_template = bool((form.get("template") or "").strip())
    sender_values = _nonempty(form.getall("from"))
    if not sender_values and not has_template:
        raise MailgunError(400, "from parameter is missing")
    if not _nonempty(form.getall("to")):
        raise MailgunError(400, "to parameter is missing")
    subject = form.get("subject")
    if not (subject or "").strip() and not has_template:
        raise MailgunError(400, "subject parameter is missing")
    if not any(_nonempty(form.getall(name)) for name in BODY_FIELDS):
        raise MailgunError(400, NEED_BODY)
    if _nonempty(form.getall("html")) and has_template:
        raise MailgunError(400, "Only one parameters 'html' or 'template' is allowed")

    sender = parse_mailboxes(sender_values, "from")
    to = parse_mailboxes(form.getall("to"), "to")
    cc = parse_mailboxes(form.getall("cc"), "cc")
    bcc = parse_mailboxes(form.getall("bcc"), "bcc")
    if len(to) + len(cc) + len(bcc) > MAX_RECIPIENTS:
        raise MailgunError(400, f"Too many recipients, max is {MAX_RECIPIENTS}")
    if _options_size(form) > MAX_OPTIONS_BYTES:
        raise MailgunError(400, OPTIONS_TOO_BIG)
    options = parse_options(form)

    return SendRequest(
        domain=domain,
        endpoint="messages",
        sender=sender_values[0] if sender else None,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        text=form.get("text"),
        html=form.get("html"),
        amp_html=form.get("amp-html"),
        options=options,
        fields=tuple(form.fields),
        files=tuple(form.files),
    )


def validate_mime_send(form: Form, domain: str) -> SendRequest:
    """Check a ``/v3/{domain}/messages.mime`` form: ``to`` and ``message`` are required."""
    if form.content_type != "multipart/form-data":
        raise MailgunError(
            400,
            "Invalid request content type. Expecting 'multipart/form-data' but got "
            f"'{form.content_type}'",
        )
    if not _nonempty(form.getall("to")):
        raise MailgunError(400, "to parameter is missing")
    check_header_fields(form)
    files = form.files_named("message")
    if files:
        mime = Payload(data=files[0].data, path=files[0].path)
    elif (text := form.get("message")) is not None:
        mime = Payload(data=text.encode("utf-8"))  # mailgun.js sends a JS string as a field
    else:
        raise MailgunError(400, "message parameter is missing")
    if not mime.read(4096).strip():
        raise MailgunError(400, "message parameter is missing")
    to = parse_mailboxes(form.getall("to"), "to")
    if len(to) > MAX_RECIPIENTS:
        raise MailgunError(400, f"Too many recipients, max is {MAX_RECIPIENTS}")
    if _options_size(form) > MAX_OPTIONS_BYTES:
        raise MailgunError(400, OPTIONS_TOO_BIG)
    headers = _mime_headers(mime.read(64 * 1024))  # the header block, not a whole 25 MB
    options = _upload_template(parse_options(form), headers)
    return SendRequest(
        domain=domain,
        endpoint="messages.mime",
        sender=headers.get("from"),
        to=to,
        subject=headers.get("subject"),
        options=options,
        fields=tuple(form.fields),
        files=tuple(p for p in form.files if p.field != "message"),
        mime=mime,
    )


#: Headers read from an upload: From and Subject for listing, and the template a Laravel or
#: Symfony app names in the MIME itself.
_UPLOAD_HEADERS = (
    "from",
    "subject",
    "x-mailgun-template-name",
    "x-mailgun-template-version",
    "x-mailgun-template-variables",
)


def _mime_headers(mime: bytes) -> dict[str, str]:
    """Headers of an uploaded message (see ``_UPLOAD_HEADERS``); the message is kept as sent."""
    try:
        msg = BytesHeaderParser(policy=default).parsebytes(mime)
        return {k: str(msg[k]) for k in _UPLOAD_HEADERS if msg[k] is not None}
    except Exception:  # a broken upload is stored as is; listing just shows no subject
        return {}


def _upload_template(options: SendOptions, headers: dict[str, str]) -> SendOptions:
    """``X-Mailgun-Template-*`` headers of an upload, where the form named no template."""
    name = headers.get("x-mailgun-template-name", "").strip()
    if options.template or not name:
        return options
    variables = json_object(
        "X-Mailgun-Template-Variables", headers.get("x-mailgun-template-variables")
    )
    return dataclasses.replace(
        options,
        template=name,
        template_version=headers.get("x-mailgun-template-version", "").strip() or None,
        template_variables={**(variables or {}), **(options.template_variables or {})},
    )
