"""``/mockgun/domains``: the account's domains as a test sees them, and the switch that makes
a domain's verification fail (``PUT /mockgun/domains/{name}`` with ``verifiable=no``)."""

from __future__ import annotations

from aiohttp import web

from ...mailgun.domains import flag
from ...mailgun.errors import MailgunError
from ..form import read_fields
from ..keys import DOMAINS, STORE

routes = web.RouteTableDef()


@routes.get("/mockgun/domains")
async def show_domains(request: web.Request) -> web.Response:
    """Each domain with its state, whether it can verify, and its SMTP logins."""
    book = request.app[DOMAINS]
    items = []
    for name in book.names(request.app[STORE].domains()):
        domain = book.require(name)
        items.append(
            {
                "name": domain.name,
                "state": domain.state,
                "verifiable": domain.verifiable,
                "smtp_logins": sorted(domain.credentials),
                "tracking": domain.tracking,
            }
        )
    return web.json_response({"open": book.open, "items": items})


@routes.put("/mockgun/domains/{name}")
async def set_domain(request: web.Request) -> web.Response:
    fields = await read_fields(request, max_size=16 * 1024)
    verifiable = flag(fields.get("verifiable"), "verifiable")
    if verifiable is None:
        raise MailgunError(400, "verifiable parameter is missing (yes or no)")
    domain = request.app[DOMAINS].set_verifiable(request.match_info["name"], verifiable)
    return web.json_response({"name": domain.name, "state": domain.state, "verifiable": verifiable})
