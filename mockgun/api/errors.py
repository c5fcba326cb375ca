"""Errors in Mailgun's shapes, and the middleware that guarantees nothing else escapes."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str) -> web.Response:
    """Mailgun's error body: ``{"message": "..."}`` as JSON."""
    return web.json_response({"message": message}, status=status)


def forbidden() -> web.Response:
    # Mailgun answers a bad or missing credential with this plain-text body, not JSON.
    return web.Response(status=401, text="Forbidden", content_type="text/plain")


def not_emulated(request: web.Request) -> web.Response:
    return json_error(
        404,
        f"mockgun does not emulate {request.method} {request.path}: it serves "
        "POST /v3/{domain}/messages(.mime), GET /v3/{domain}/events, "
        "/v3/domains/{domain}/messages/{key}, GET /v3/domains and /mockgun/*",
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every stray exception into a Mailgun-shaped answer; never send a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return not_emulated(request)
        return json_error(exc.status, exc.reason)
    except ConnectionError:
        raise  # a dropped connection (a fault rule, or the client gone): nothing to answer
    except Exception:
        # The details go to the operator's terminal, never to the client.
        print(f"mockgun: error handling {request.method} {request.path}:", file=sys.stderr)
        traceback.print_exc()
        return json_error(500, "Internal Server Error")
