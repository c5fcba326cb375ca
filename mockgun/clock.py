"""One time format for everything mockgun shows people: RFC 3339, UTC, milliseconds, ``Z``.

``2026-12-03T06:14:55.123Z`` in the handshake log, ``/mockgun/*`` answers and the report
alike, so that a message's ``received_at`` and a handshake's ``ts`` compare as strings.
Mailgun's own bodies keep Mailgun's formats (events carry a float ``timestamp``).
"""

from __future__ import annotations

import datetime as dt
import time
from email.utils import format_datetime

# strftime is slow and a busy server stamps many times a second: format each second once.
_second: tuple[int, str] = (-1, "")


def rfc3339(ts: float) -> str:
    """``ts`` (Unix time) as ``YYYY-MM-DDThh:mm:ss.mmmZ``."""
    global _second
    second = int(ts // 1)
    if second != _second[0]:
        _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
    return f"{_second[1]}{min(int((ts - second) * 1000), 999):03d}Z"


def now_rfc3339() -> str:
    """The current time in mockgun's format."""
    return rfc3339(time.time())


def parse_rfc3339(text: str) -> dt.datetime:
    """An RFC 3339 time (``Z`` or an offset; naive means UTC); ValueError otherwise."""
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def normalise_rfc3339(text: str) -> str:
    """Any RFC 3339 time in mockgun's format, so that it compares with stored stamps as text."""
    return rfc3339(parse_rfc3339(text).timestamp())


def mailgun_date(moment: dt.datetime, zone: str = "UTC") -> str:
    """``Wed, 29 Aug 2018 23:31:13 UTC``: the RFC 2822 form Mailgun's management APIs write
    (templates, suppressions, lists, tags and stats); the older ones (domains, routes,
    credentials) write ``GMT`` (``zone="GMT"``)."""
    return format_datetime(moment.astimezone(dt.timezone.utc)).replace("+0000", zone)
