"""Mailgun's mailing lists: a list address, its members (with ``vars`` and ``subscribed``),
and what a send to the list address becomes: one copy per subscribed member, the member's
``vars`` as ``%recipient.x%`` values, as a batch send (``api/v3/messages.py`` expands it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ..clock import mailgun_date
from .errors import MailgunError
from .send import Mailbox, SendRequest

ACCESS_LEVELS = ("readonly", "members", "everyone")
REPLY_PREFERENCES = ("list", "sender")
MAX_BATCH = 1000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def flag(value: Any, default: bool) -> bool:
    """Mailgun's yes/no (and what clients write: true, True, 1, and real booleans)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1"):
        return True
    if text in ("no", "false", "0"):
        return False
    raise MailgunError(400, f"'{value}' is not yes or no")


def parse_vars(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(str(value))
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise MailgunError(400, "vars must be a JSON object")
    return parsed


@dataclass
class Member:
    address: str
    name: str = ""
    vars: dict[str, Any] = field(default_factory=dict)
    subscribed: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "name": self.name,
            "vars": self.vars,
            "subscribed": self.subscribed,
        }


@dataclass
class MailingList:
    address: str
    name: str = ""
    description: str = ""
    access_level: str = "readonly"
    reply_preference: str = "list"
    created_at: dt.datetime = field(default_factory=_now)
    members: dict[str, Member] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "access_level": self.access_level,
            "address": self.address,
            "created_at": mailgun_date(self.created_at),
            "description": self.description,
            "members_count": len(self.members),
            "name": self.name,
            "reply_preference": self.reply_preference,
        }

    def configure(self, fields: dict[str, Any]) -> None:
        """Apply ``name``, ``description``, ``access_level``, ``reply_preference``."""
        if fields.get("name") is not None:
            self.name = str(fields["name"])[:255]
        if fields.get("description") is not None:
            self.description = str(fields["description"])[:1024]
        level = fields.get("access_level")
        if level is not None:
            if level not in ACCESS_LEVELS:
                raise MailgunError(400, f"access_level must be one of {', '.join(ACCESS_LEVELS)}")
            self.access_level = str(level)
        reply = fields.get("reply_preference")
        if reply is not None:
            if reply not in REPLY_PREFERENCES:
                raise MailgunError(400, "reply_preference must be list or sender")
            self.reply_preference = str(reply)

    def add(self, member: Member, *, upsert: bool) -> Member:
        key = member.address.lower()
        if key in self.members and not upsert:
            raise MailgunError(400, f"Address already exists '{member.address}'")
        self.members[key] = member
        return member

    def member(self, address: str) -> Member:
        found = self.members.get(address.strip().lower())
        if found is None:
            raise MailgunError(404, "Member not found")
        return found

    @property
    def subscribed(self) -> list[Member]:
        return [m for m in self.members.values() if m.subscribed]


@dataclass
class ListBook:
    lists: dict[str, MailingList] = field(default_factory=dict)

    def get(self, address: str) -> MailingList:
        found = self.lists.get(address.strip().lower())
        if found is None:
            raise MailgunError(404, "Mailing list not found")
        return found

    def find(self, address: str) -> MailingList | None:
        return self.lists.get(address.strip().lower()) if self.lists else None

    def create(self, mailing_list: MailingList) -> None:
        key = mailing_list.address.lower()
        if key in self.lists:
            raise MailgunError(400, f"Duplicate object: list '{mailing_list.address}' exists")
        self.lists[key] = mailing_list

    def remove(self, address: str) -> MailingList:
        found = self.get(address)
        del self.lists[found.address.lower()]
        return found


def expand(send: SendRequest, book: ListBook) -> SendRequest:
    """A send to list addresses, as Mailgun delivers it: one copy per subscribed member (a
    batch, member ``vars`` as ``%recipient.x%``), other recipients as they were."""
    if not book.lists:
        return send
    found = [(box, book.find(box.address)) for box in send.to]
    lists = [mailing_list for _, mailing_list in found if mailing_list is not None]
    if not lists:
        return send
    to: list[Mailbox] = [box for box, mailing_list in found if mailing_list is None]
    variables: dict[str, dict[str, Any]] = dict(send.options.recipient_variables or {})
    for mailing_list in lists:
        for member in mailing_list.subscribed:
            if member.address.lower() not in (b.address.lower() for b in to):
                to.append(Mailbox(member.name, member.address))
                own = {"name": member.name, **member.vars}  # %recipient.name%: the member's
                variables[member.address] = {**own, **variables.get(member.address, {})}
    for box in to:
        variables.setdefault(box.address, {})
    return dataclasses.replace(
        send,
        to=tuple(to),
        options=dataclasses.replace(send.options, recipient_variables=variables),
        mailing_list=lists[0].address,
    )
