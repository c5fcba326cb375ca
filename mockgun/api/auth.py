"""HTTP Basic auth as Mailgun does it: user ``api``, the API key as password."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic ...`` header, or None."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def authorized(request: web.Request, api_key: str | None) -> bool:
    """True when the request carries ``api:<key>`` (any non-empty key if ``api_key`` is None)."""
    credentials = basic_credentials(request.headers.get("Authorization"))
    if credentials is None:
        return False
    user, password = credentials
    if user != "api" or not password:
        return False
    if api_key is None:
        return True
    return hmac.compare_digest(password.encode(), api_key.encode())
