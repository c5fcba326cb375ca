"""Absolute URLs from the request's own scheme and host (mailgun.js calls ``new URL()`` on them)."""

from __future__ import annotations

from aiohttp import web


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def storage_url(base: str, domain: str, key: str) -> str:
    """Where Mailgun's stored-messages API serves a message (an event's ``storage.url``)."""
    return f"{base}/v3/domains/{domain}/messages/{key}"
