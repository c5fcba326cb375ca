"""Answers that both of the API's surfaces write: large JSON bodies, and download headers."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from aiohttp import web

#: Large bodies go out in pieces of this size. asyncio's TLS transport re-slices what is left of
#: one write after every 16 KiB record (quadratic in its size: 0.5 s of event loop for 10 MB);
#: pieces keep every write small, and let other connections in between.
PIECE = 256 * 1024


async def json_answer(request: web.Request, data: Any, *, status: int = 200) -> web.StreamResponse:
    """``data`` as JSON, encoded on a worker thread and written in pieces: for answers that can
    carry whole messages (megabytes), so that they never hold up the event loop."""
    body = await asyncio.to_thread(_encode, data)
    return await answer_in_pieces(request, body, content_type="application/json", status=status)


async def answer_in_pieces(
    request: web.Request,
    body: bytes,
    *,
    content_type: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """``body``, written :data:`PIECE` bytes at a time when it is larger than that.

    ``content_type`` goes out as given (an uploaded part's may carry parameters)."""
    headers = {**(headers or {}), "Content-Type": content_type}
    if len(body) <= PIECE:
        return web.Response(body=body, status=status, headers=headers)
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    view = memoryview(body)
    for start in range(0, len(body), PIECE):
        await response.write(view[start : start + PIECE])
    await response.write_eof()
    return response


def _encode(data: Any) -> bytes:
    # The encoder's one-shot C path holds the GIL for a whole answer (a quarter of a second
    # for one with a 5 MB subject, in measurements); piece by piece, the event loop's thread
    # gets its turns in between.
    return "".join(_ENCODER.iterencode(data, _one_shot=False)).encode()


_ENCODER = json.JSONEncoder()


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact one in RFC 5987 form."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
