"""The ``o:``, ``h:``, ``v:`` and ``t:`` parameters of a send, checked and made usable.

Mailgun's own error texts are used where the reference gives one; where it does
not (an invalid boolean, too many tags), the text says plainly what is wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from .errors import MailgunError
from .form import Form

MAX_TAGS = 10
MAX_TAG_LENGTH = 128
_BOOLEANS = {"yes": True, "true": True, "no": False, "false": False}
#: Options whose value is yes/no/true/false (any case).
BOOLEAN_OPTIONS = frozenset(
    {"o:dkim", "o:testmode", "o:require-tls", "o:skip-verification", "o:tracking-opens", "t:text"}
)
#: Options that also take "htmlonly".
TRACKING_OPTIONS = frozenset({"o:tracking", "o:tracking-clicks", "o:tracking-pixel-location-top"})
# RFC 5322 field names: printable ASCII except the colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
#: What may not stand in a header value: control characters (a tab is fine) and whatever
#: Python counts as a line break (NEL, LS, PS), which would split the header.
HEADER_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class SendOptions:
    tags: tuple[str, ...] = ()
    testmode: bool = False
    deliverytime: dt.datetime | None = None
    headers: tuple[tuple[str, str], ...] = ()
    #: ``v:`` variables, values kept as the strings that were sent (Mailgun does the same).
    variables: dict[str, str] = field(default_factory=dict)
    template: str | None = None
    #: ``t:version``: the template version to render (else the active one).
    template_version: str | None = None
    #: ``t:text=yes``: render a text part from the template too.
    template_text: bool = False
    template_variables: dict[str, Any] | None = None
    recipient_variables: dict[str, dict[str, Any]] | None = None
    #: Every ``o:`` option as sent (last value wins; ``o:tag`` is in ``tags``).
    flags: dict[str, str] = field(default_factory=dict)


def parse_bool(name: str, value: str, *, htmlonly: bool = False) -> bool | str:
    lowered = value.strip().lower()
    if lowered in _BOOLEANS:
        return _BOOLEANS[lowered]
    if htmlonly and lowered == "htmlonly":
        return "htmlonly"
    allowed = "yes, no, true, false" + (" or htmlonly" if htmlonly else "")
    raise MailgunError(400, f"'{name}' parameter must be one of {allowed}, not '{value}'")


def _tags(values: list[str]) -> tuple[str, ...]:
    tags: list[str] = []
    for value in values:
        # Mailgun strips non-ASCII characters and ignores a tag that is left empty.
        tag = value.encode("ascii", errors="ignore").decode().strip()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise MailgunError(
                400, f"Tag '{tag[:20]}...' is longer than {MAX_TAG_LENGTH} characters"
            )
        if tag.lower() not in (t.lower() for t in tags):  # tags are case-insensitive
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise MailgunError(400, f"Too many tags: {len(tags)} given, max is {MAX_TAGS} per message")
    return tuple(tags)


def _deliverytime(value: str) -> dt.datetime:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise MailgunError(400, f"{value} is not an RFC-2822 compliant date") from None
    if moment.tzinfo is None:
        raise MailgunError(400, "invalid delivery time format")
    return moment


def _headers(form: Form) -> tuple[tuple[str, str], ...]:
    headers = []
    for key, value in form.with_prefix("h:"):
        name = key[2:]
        if not name.isascii():
            raise MailgunError(400, f"Header name must be pure ASCII: {name}")
        if not _FIELD_NAME.fullmatch(name):
            raise MailgunError(400, f"Header name is not valid: {name!r}")
        if HEADER_UNSAFE.search(value):
            raise MailgunError(
                400, f"Header value of {name} must not contain line breaks or control characters"
            )
        headers.append((name, value))
    return tuple(headers)


def json_object(name: str, raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        parsed = None
    if not isinstance(parsed, dict):
        raise MailgunError(400, f"'{name}' parameter is not a valid JSON")
    return parsed


def parse_options(form: Form) -> SendOptions:
    flags: dict[str, str] = {}
    for key, value in form.with_prefix("o:"):
        if key in BOOLEAN_OPTIONS:
            parse_bool(key, value)
        elif key in TRACKING_OPTIONS:
            parse_bool(key, value, htmlonly=True)
        if key != "o:tag":
            flags[key] = value
    t_text = form.get("t:text")
    template_text = bool(parse_bool("t:text", t_text)) if t_text is not None else False
    deliverytime = form.get("o:deliverytime")
    recipient_variables = json_object("recipient-variables", form.get("recipient-variables"))
    if recipient_variables is not None and not all(
        isinstance(v, dict) for v in recipient_variables.values()
    ):
        raise MailgunError(400, "'recipient-variables' parameter is not a valid JSON")
    return SendOptions(
        tags=_tags(form.getall("o:tag")),
        testmode=bool(parse_bool("o:testmode", flags.get("o:testmode", "no"))),
        deliverytime=_deliverytime(deliverytime) if deliverytime else None,
        headers=_headers(form),
        variables={k[2:]: v for k, v in form.with_prefix("v:")},
        template=(form.get("template") or "").strip() or None,
        template_version=(form.get("t:version") or "").strip() or None,
        template_text=template_text,
        template_variables=json_object("t:variables", form.get("t:variables")),
        recipient_variables=recipient_variables,
        flags=flags,
    )
