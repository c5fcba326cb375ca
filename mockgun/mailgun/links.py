"""What differs per recipient: a batch's ``%recipient.key%`` values, Mailgun's built-in
per-recipient variables, and the unsubscribe links behind some of them.

``%recipient%``, ``%recipient_email%``, ``%recipient_name%``, ``%recipient_fname%``,
``%recipient_lname%``, ``%unsubscribe_url%``, ``%tag_unsubscribe_url%``,
``%mailing_list_unsubscribe_url%``, ``%unsubscribe_email%`` and ``%tag_unsubscribe_email%``
are replaced in each recipient's copy (subject, bodies and ``h:`` values), as Mailgun does.
The URLs point at mockgun (``/mockgun/unsubscribe/{token}``): opening one records an
``unsubscribed`` event for that message and recipient. The token says which, in plain base64
JSON: this is a local test server, and a forged token can only unsubscribe a test address.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

BUILTIN = re.compile(
    r"%(recipient|recipient_email|recipient_name|recipient_fname|recipient_lname|"
    r"unsubscribe_url|tag_unsubscribe_url|mailing_list_unsubscribe_url|"
    r"unsubscribe_email|tag_unsubscribe_email)%"
)
UNSUBSCRIBE_PATH = "/mockgun/unsubscribe/"
#: Any key but spaces and %: django-anymail's merge_metadata sends %recipient.v:customer%.
_RECIPIENT_VARIABLE = re.compile(r"%recipient\.([^%\s]{1,200})%")


def substitute(text: str | None, values: dict[str, Any] | None) -> str | None:
    """In a batch, replace ``%recipient.key%`` with the recipient's value (unknown: empty)."""
    if text is None or values is None or "%recipient." not in text:
        return text
    return _RECIPIENT_VARIABLE.sub(lambda m: _as_text(values.get(m.group(1), "")), text)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


#: What a link unsubscribes from: everything, the message's tags, or its mailing list.
KINDS = ("all", "tag", "list")


@dataclass(frozen=True)
class Unsubscribe:
    domain: str
    message_id: str
    recipient: str
    kind: str


def token(link: Unsubscribe) -> str:
    raw = json.dumps([link.domain, link.message_id, link.recipient, link.kind]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_token(text: str) -> Unsubscribe | None:
    """The link a token names, or None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        domain, message_id, recipient, kind = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        return None
    if not all(isinstance(v, str) for v in (domain, message_id, recipient)) or kind not in KINDS:
        return None
    return Unsubscribe(domain, message_id, recipient, kind)


def uses_builtins(texts: list[str | None]) -> bool:
    return any(t and "%" in t and BUILTIN.search(t) for t in texts)


def builtins_for(
    *, domain: str, message_id: str, address: str, name: str, base: str | None
) -> dict[str, str]:
    """The value of every built-in variable for one recipient."""
    first, _, last = name.strip().partition(" ")
    bare = message_id.strip("<>")

    def url(kind: str) -> str:
        return f"{base or ''}{UNSUBSCRIBE_PATH}{token(Unsubscribe(domain, bare, address, kind))}"

    def mailbox(kind: str) -> str:
        return f"unsubscribe+{token(Unsubscribe(domain, bare, address, kind))}@{domain}"

    return {
        "recipient": f"{name} <{address}>" if name else address,
        "recipient_email": address,
        "recipient_name": name,
        "recipient_fname": first,
        "recipient_lname": last.strip(),
        "unsubscribe_url": url("all"),
        "tag_unsubscribe_url": url("tag"),
        "mailing_list_unsubscribe_url": url("list"),
        "unsubscribe_email": mailbox("all"),
        "tag_unsubscribe_email": mailbox("tag"),
    }


def fill(text: str | None, values: dict[str, Any] | None) -> str | None:
    """``text`` with the built-in variables replaced (None: nothing to replace)."""
    if text is None or values is None or "%" not in text:
        return text
    return BUILTIN.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)
