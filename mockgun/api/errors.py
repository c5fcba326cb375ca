"""The one error path: handlers raise :class:`MailgunError`; this middleware answers it.

Nothing else escapes: an aiohttp HTTP error becomes ``{"message": ...}`` too, an unknown
path gets the "mockgun does not emulate ..." 404 (listing what the router serves, so the
list cannot drift from the routes), and a bug is logged and answered with a plain 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web
from aiohttp.web_request import BaseRequest

from ..log import logger
from ..mailgun.errors import MailgunError
from ..tls.connections import TrackedProtocol

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Path prefixes of Mailgun's own API (the rest of the router is mockgun's).
MAILGUN_PREFIXES = ("/v3/", "/v4/")


def answer(error: MailgunError) -> web.Response:
    """Mailgun's shape: ``{"message": ...}``, or the plain-text ``Forbidden`` of a 401."""
    if error.status == 401:
        response = web.Response(status=401, text="Forbidden", content_type="text/plain")
    else:
        response = web.json_response({"message": error.message}, status=error.status)
    response.headers.update(error.headers)
    if error.close:
        response.force_close()  # the rest of the body was not read: the connection must go
    return response


def served_mailgun_routes(app: web.Application) -> list[str]:
    """``METHOD path`` of every Mailgun route the app serves, in a stable order."""
    seen: dict[str, None] = {}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith(MAILGUN_PREFIXES) and route.method not in ("HEAD", "*"):
            seen.setdefault(f"{route.method} {path}", None)
    return list(seen)


def not_emulated(request: web.Request) -> MailgunError:
    routes = "; ".join(served_mailgun_routes(request.app))
    return MailgunError(
        404,
        f"mockgun does not emulate {request.method} {request.path}: it serves {routes}; "
        "and /mockgun/*",
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every stray exception into a Mailgun-shaped answer; never send a traceback."""
    try:
        return await handler(request)
    except MailgunError as exc:
        return answer(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return answer(not_emulated(request))
        return answer(MailgunError(exc.status, exc.reason))
    except ConnectionError:
        raise  # a dropped connection (a fault rule, or the client gone): nothing to answer
    except Exception:
        # The details go to the operator, never to the client.
        logger.exception("error handling %s %s", request.method, request.path)
        return answer(MailgunError(500, "Internal Server Error"))


class MailgunShapedProtocol(TrackedProtocol):
    """aiohttp's connection handler, whose own errors (a request line or headers that do not
    parse, headers too large) are answered in Mailgun's shape too.

    aiohttp answers them in plain text that repeats the offending input, and logs a traceback
    for each: a client's garbage is not the operator's problem, so it is logged at debug level,
    and the answer names only the status.
    """

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            logger.error("error handling a request from %s", request.remote, exc_info=exc)
        else:
            logger.debug("refused a request from %s: %s", request.remote, exc)
        if request.writer.output_size > 0:  # an answer is on its way already
            raise ConnectionError("the response was sent already; closing the connection")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        response = answer(MailgunError(status, phrase))
        response.force_close()
        return response
