"""Absolute URLs from the request's own scheme and host (mailgun.js calls ``new URL()`` on them)."""

from __future__ import annotations

from aiohttp import web


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
