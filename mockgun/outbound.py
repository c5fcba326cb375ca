"""Requests mockgun makes to other servers: webhook deliveries and route POSTs.

The HTTP client is aiohttp's; https URLs are verified against the system's trust store
and, when given, one more CA file (``--webhook-ca``: an app's own test CA).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

#: A receiver gets this long to answer one attempt.
TIMEOUT = aiohttp.ClientTimeout(total=10)


class JsonPoster:
    """POSTs JSON bodies over one shared client session (made on first use)."""

    def __init__(self, ca_file: Path | None = None) -> None:
        self.ca_file = ca_file
        self._session: aiohttp.ClientSession | None = None

    async def post_json(self, url: str, body: dict[str, Any]) -> tuple[int | None, str | None]:
        try:
            async with self._client().post(url, json=body, timeout=TIMEOUT) as resp:
                return resp.status, None
        except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    async def post_form(
        self,
        url: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[tuple[str, str, str, bytes]],
    ) -> tuple[int | None, str | None]:
        """POST ``multipart/form-data``, as Mailgun posts parsed inbound mail."""
        form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
        for name, value in fields:
            form.add_field(name, value)
        for name, filename, content_type, data in files:
            form.add_field(name, data, filename=filename, content_type=content_type)
        try:
            async with self._client().post(url, data=form, timeout=TIMEOUT) as resp:
                return resp.status, None
        except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None
            )
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
