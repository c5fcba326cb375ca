"""Identifiers for messages, storage keys and events.

They must be unique, not secret: the data behind them is guarded by the API key (when
one is set). A seeded Mersenne Twister is far cheaper than ``secrets`` (a getrandom(2)
call each), which showed up in request profiles.
"""

from __future__ import annotations

import base64
import random

_random = random.Random()  # seeded from os.urandom  # noqa: S311 - identifiers, not secrets


def token(nbytes: int) -> str:
    """URL-safe, unpadded base64 of ``nbytes`` random bytes."""
    raw = _random.getrandbits(nbytes * 8).to_bytes(nbytes, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def hex_token(nbytes: int) -> str:
    return f"{_random.getrandbits(nbytes * 8):0{nbytes * 2}X}"
