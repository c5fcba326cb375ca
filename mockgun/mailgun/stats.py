"""Mailgun's tags and stats, counted from mockgun's own events as they happen.

Every event adds to an hourly counter of its domain (and of each of its tags): ``accepted``
(outgoing), ``delivered`` (http), ``failed`` (permanent by reason: ``bounce``,
``suppress-bounce``, ``suppress-unsubscribe``, ``suppress-complaint``, ...; temporary),
``opened``, ``clicked``, ``unsubscribed``, ``complained``, ``stored``. A stats query sums the
hours of its window into ``hour``, ``day`` or ``month`` buckets, so its cost follows the
window, not the number of events, and events evicted from memory are still counted, as
Mailgun keeps stats longer than events.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from ..clock import mailgun_date
from .errors import MailgunError

EVENTS = (
    "accepted", "delivered", "failed", "opened", "clicked", "unsubscribed", "complained", "stored",
)  # fmt: skip
PERMANENT = (
    "bounce", "delayed-bounce", "suppress-bounce", "suppress-unsubscribe", "suppress-complaint",
)  # fmt: skip
RESOLUTIONS = ("hour", "day", "month")
_HOUR = 3600


@dataclass
class TagInfo:
    tag: str
    description: str = ""
    first_seen: float = 0.0
    last_seen: float = 0.0

    def as_json(self) -> dict[str, Any]:
        def when(ts: float) -> str:
            return mailgun_date(dt.datetime.fromtimestamp(ts, dt.timezone.utc))

        return {
            "tag": self.tag,
            "description": self.description,
            "first-seen": when(self.first_seen),
            "last-seen": when(self.last_seen),
        }


@dataclass
class StatsBook:
    """Hourly counters per (domain, tag or None), and the tags each domain has used."""

    _counts: dict[tuple[str, str | None], dict[int, Counter[str]]] = field(default_factory=dict)
    tags: dict[str, dict[str, TagInfo]] = field(default_factory=dict)

    def learn(self, domain: str, events: Iterable[dict[str, Any]]) -> None:
        key = domain.lower()
        for event in events:
            name = _counter_name(event)
            if name is None:
                continue
            ts = float(event.get("timestamp") or 0)
            hour = int(ts) // _HOUR * _HOUR
            tags = [str(t) for t in event.get("tags") or []]
            for scope in (None, *tags):
                bucket = self._counts.setdefault((key, scope), {}).setdefault(hour, Counter())
                bucket[name] += 1
            if event.get("event") == "accepted":
                for tag in tags:
                    info = self.tags.setdefault(key, {}).setdefault(
                        tag, TagInfo(tag, first_seen=ts)
                    )
                    info.last_seen = max(info.last_seen, ts)

    def tags_of(self, domain: str) -> dict[str, TagInfo]:
        """The tags ``domain``'s sends have used, by name."""
        return self.tags.get(domain.lower(), {})

    def forget_tag(self, domain: str, tag: str) -> None:
        self.tags.get(domain.lower(), {}).pop(tag, None)
        self._counts.pop((domain.lower(), tag), None)

    def total(
        self,
        domain: str,
        tag: str | None,
        events: list[str],
        start: dt.datetime,
        end: dt.datetime,
        resolution: str,
    ) -> list[dict[str, Any]]:
        """One entry per bucket from ``start`` to ``end``, with the asked-for events."""
        hours = self._counts.get((domain.lower(), tag), {})
        buckets: dict[dt.datetime, Counter[str]] = {}
        moment = _floor(start, resolution)
        while moment <= end:
            buckets[moment] = Counter()
            moment = _next(moment, resolution)
        first, last = int(start.timestamp()), int(end.timestamp())
        for hour, counts in hours.items():
            if first // _HOUR * _HOUR <= hour <= last:
                when = _floor(dt.datetime.fromtimestamp(hour, dt.timezone.utc), resolution)
                if when in buckets:
                    buckets[when].update(counts)
        return [{"time": mailgun_date(t), **_shape(c, events)} for t, c in buckets.items()]


def _counter_name(event: dict[str, Any]) -> str | None:
    kind = event.get("event")
    if kind == "accepted":
        return "accepted.outgoing"
    if kind == "delivered":
        return "delivered.http"
    if kind == "failed":
        if event.get("severity") == "permanent":
            reason = str(event.get("reason") or "bounce")
            return f"failed.permanent.{reason if reason in PERMANENT else 'bounce'}"
        return "failed.temporary.espblock"
    return f"{kind}.total" if kind in EVENTS else None


def _shape(counts: Counter[str], events: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in events:
        if name == "accepted":
            n = counts["accepted.outgoing"]
            out[name] = {"incoming": 0, "outgoing": n, "total": n}
        elif name == "delivered":
            n = counts["delivered.http"]
            out[name] = {"smtp": 0, "http": n, "optimized": 0, "total": n}
        elif name == "failed":
            permanent = {r: counts[f"failed.permanent.{r}"] for r in PERMANENT}
            permanent["total"] = sum(permanent.values())
            temporary = counts["failed.temporary.espblock"]
            out[name] = {
                "permanent": permanent,
                "temporary": {"espblock": temporary, "total": temporary},
            }
        else:
            out[name] = {"total": counts[f"{name}.total"]}
    return out


def _floor(moment: dt.datetime, resolution: str) -> dt.datetime:
    moment = moment.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    if resolution in ("day", "month"):
        moment = moment.replace(hour=0)
    if resolution == "month":
        moment = moment.replace(day=1)
    return moment


def _next(moment: dt.datetime, resolution: str) -> dt.datetime:
    if resolution == "hour":
        return moment + dt.timedelta(hours=1)
    if resolution == "day":
        return moment + dt.timedelta(days=1)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month)


def parse_moment(value: str, name: str) -> dt.datetime:
    """RFC 2822 or epoch seconds, as Mailgun's stats take them."""
    text = value.strip()
    try:
        return dt.datetime.fromtimestamp(float(text), dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise MailgunError(400, f"'{name}' must be an RFC 2822 date or epoch seconds") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def parse_duration(value: str) -> dt.timedelta:
    """``24h``, ``7d``, ``2m`` (months, as 30 days): what ``duration`` covers."""
    match = re.fullmatch(r"(\d{1,4})([hdm])", value.strip())
    if match is None:
        raise MailgunError(400, "'duration' must be a number followed by h, d or m")
    n = int(match[1])
    return {"h": dt.timedelta(hours=n), "d": dt.timedelta(days=n), "m": dt.timedelta(days=30 * n)}[
        match[2]
    ]
