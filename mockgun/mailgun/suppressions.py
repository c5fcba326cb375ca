"""Mailgun's suppression lists, per domain: bounces, unsubscribes, complaints and the allowlist
(``whitelists`` in Mailgun's URLs).

A send to a suppressed recipient is accepted and not delivered: a permanent ``failed`` event
with ``reason`` ``suppress-bounce``, ``suppress-unsubscribe`` or ``suppress-complaint`` and
code 605 (:func:`reason_for`). An unsubscribe limited to tags suppresses only sends with one of
them. The lists learn from events as Mailgun's do (:meth:`SuppressionBook.learn`): a permanent
bounce adds a bounce (never for an allowlisted address or domain), a complaint a complaint, an
unsubscribe an unsubscribe. Every lookup at send is a dictionary lookup: O(1), whatever the
size of the lists.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from ..clock import mailgun_date
from .errors import MailgunError

KINDS = ("bounces", "unsubscribes", "complaints", "whitelists")
ALL_TAGS = "*"
#: Mailgun's descriptions of a suppressed delivery (api-events.rst; the bounce one is
#: documented, the other two follow it).
DESCRIPTIONS = {
    "suppress-bounce": "Not delivering to previously bounced address",
    "suppress-unsubscribe": "Not delivering to unsubscribed address",
    "suppress-complaint": "Not delivering to a user who marked your messages as spam",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_created_at(value: Any) -> dt.datetime:
    if value in (None, ""):
        return _now()
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        raise MailgunError(400, f"created_at '{value}' is not an RFC 2822 date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@dataclass
class Entry:
    """One record of a list: an address (or, on the allowlist, a domain)."""

    value: str
    created_at: dt.datetime = field(default_factory=_now)
    code: str = "550"
    error: str = ""
    tags: set[str] = field(default_factory=lambda: {ALL_TAGS})
    reason: str = ""
    type: str = "address"

    def as_json(self, kind: str) -> dict[str, Any]:
        created = mailgun_date(self.created_at)
        if kind == "bounces":
            return {
                "address": self.value,
                "code": self.code,
                "error": self.error,
                "created_at": created,
            }
        if kind == "unsubscribes":
            tags = sorted(self.tags)
            return {
                "address": self.value,
                "tag": tags[0] if len(tags) == 1 else tags,
                "tags": tags,
                "created_at": created,
            }
        if kind == "complaints":
            return {"address": self.value, "created_at": created}
        return {"value": self.value, "reason": self.reason, "type": self.type, "createdAt": created}


class SuppressionList:
    """One list of one domain: keyed by lower-cased value, read in alphabetical pages."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self._sorted: list[str] | None = None

    def put(self, entry: Entry) -> None:
        key = entry.value.lower()
        if key not in self.entries:
            self._sorted = None
        self.entries[key] = entry

    def get(self, value: str) -> Entry | None:
        return self.entries.get(value.strip().lower())

    def remove(self, value: str) -> Entry | None:
        entry = self.entries.pop(value.strip().lower(), None)
        if entry is not None:
            self._sorted = None
        return entry

    def clear(self) -> None:
        self.entries.clear()
        self._sorted = None

    def page(self, after: str | None, before: str | None, limit: int, last: bool) -> list[Entry]:
        """``limit`` entries in alphabetical order: the first, the last, or around a pivot."""
        if self._sorted is None:
            self._sorted = sorted(self.entries)
        keys = self._sorted
        if last:
            chosen = keys[-limit:]
        elif after is not None:
            start = bisect.bisect_right(keys, after.lower())
            chosen = keys[start : start + limit]
        elif before is not None:
            end = bisect.bisect_left(keys, before.lower())
            chosen = keys[max(end - limit, 0) : end]
        else:
            chosen = keys[:limit]
        return [self.entries[k] for k in chosen]


@dataclass
class SuppressionBook:
    """Every domain's four lists."""

    _lists: dict[tuple[str, str], SuppressionList] = field(default_factory=dict)

    def list(self, domain: str, kind: str) -> SuppressionList:
        key = (domain.lower(), kind)
        found = self._lists.get(key)
        if found is None:
            found = self._lists[key] = SuppressionList()
        return found

    def clear(self) -> int:
        """Empty every list of every domain; how many records went."""
        count = sum(len(lst.entries) for lst in self._lists.values())
        self._lists.clear()
        return count

    def as_json(self) -> dict[str, Any]:
        """Every non-empty list, by domain and kind (for ``/mockgun/suppressions``)."""
        out: dict[str, Any] = {}
        for (domain, kind), lst in sorted(self._lists.items()):
            if lst.entries:
                entries = lst.page(None, None, len(lst.entries), last=False)
                out.setdefault(domain, {})[kind] = [e.as_json(kind) for e in entries]
        return out

    def allowlisted(self, domain: str, address: str) -> bool:
        allow = self.list(domain, "whitelists")
        if not allow.entries:
            return False
        return allow.get(address) is not None or allow.get(address.rpartition("@")[2]) is not None

    def reason_for(self, domain: str, address: str, tags: Iterable[str]) -> str | None:
        """Why a send to ``address`` with these tags is not delivered, or None."""
        if self.list(domain, "bounces").get(address) is not None:
            return "suppress-bounce"
        if self.list(domain, "complaints").get(address) is not None:
            return "suppress-complaint"
        unsubscribed = self.list(domain, "unsubscribes").get(address)
        if unsubscribed is not None:
            wanted = {t.lower() for t in tags}
            if ALL_TAGS in unsubscribed.tags or wanted & {t.lower() for t in unsubscribed.tags}:
                return "suppress-unsubscribe"
        return None

    def learn(self, domain: str, events: Iterable[dict[str, Any]]) -> None:
        """Add what new events tell, as Mailgun's lists fill themselves."""
        for event in events:
            kind, recipient = event.get("event"), str(event.get("recipient", ""))
            if not recipient:
                continue
            if (
                kind == "failed"
                and event.get("severity") == "permanent"
                and event.get("reason") == "bounce"
                and not self.allowlisted(domain, recipient)
            ):
                status = event.get("delivery-status", {})
                self.list(domain, "bounces").put(
                    Entry(
                        recipient,
                        code=str(status.get("code", 550)),
                        error=str(status.get("message", "")),
                    )
                )
            elif kind == "complained":
                self.list(domain, "complaints").put(Entry(recipient))
            elif kind == "unsubscribed" and not event.get("mailing-list"):
                # A list unsubscribe only leaves the list; a tag link already put its tags.
                unsubscribes = self.list(domain, "unsubscribes")
                if unsubscribes.get(recipient) is None:
                    unsubscribes.put(Entry(recipient, tags={ALL_TAGS}))
