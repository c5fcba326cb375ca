"""The web page: ``/mockgun/`` and its three static files, shipped inside the package.

No build step and no CDN: the page is plain HTML, CSS and JavaScript that read the
inspection API (``/mockgun/messages``, ``/mockgun/handshakes``, ``/mockgun/stream``)
like any other client. Being under ``/mockgun/`` it has the same TLS and auth rules.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

routes = web.RouteTableDef()

UI_DIR = Path(__file__).resolve().parents[2] / "ui"
_TYPES = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
#: The page runs only its own script, talks only to mockgun, and frames only mockgun's
#: (sandboxed) message previews.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _read_assets() -> dict[str, bytes]:
    """The page's files, read once when mockgun starts: reinstalling the package while a
    server runs (``pip install -e`` of another checkout into the same venv) must not take
    the page away from it."""
    return {name: (UI_DIR / name).read_bytes() for name in _TYPES}


ASSETS = _read_assets()


def _serve(name: str) -> web.Response:
    return web.Response(body=ASSETS[name], content_type=_TYPES[name], headers=PAGE_HEADERS)


@routes.get("/mockgun")
@routes.get("/")
async def root(request: web.Request) -> web.Response:
    """People who open mockgun's address in a browser land on the page."""
    raise web.HTTPFound("/mockgun/")


@routes.get("/mockgun/")
async def page(request: web.Request) -> web.Response:
    return _serve("index.html")


@routes.get("/mockgun/ui/{name}")
async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _TYPES:
        raise web.HTTPNotFound()  # answered as every unknown path is
    return _serve(name)
