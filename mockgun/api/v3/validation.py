"""Mailgun's address validation: ``GET``/``POST /v4/address/validate``, and the older
``/v3/address/validate`` that the legacy mailgun-js package calls, answered in its own shape.
See :mod:`mockgun.mailgun.validation` for the outcomes a test can choose."""

from __future__ import annotations

from aiohttp import web

from ...mailgun import validation
from ...mailgun.errors import MailgunError
from ..form import read_form
from ..keys import CONFIG

routes = web.RouteTableDef()


async def _address(request: web.Request) -> str:
    address = request.query.get("address")
    if address is None and request.method == "POST" and request.can_read_body:
        form = await read_form(
            request, max_size=64 * 1024, timeout=request.app[CONFIG].request_timeout
        )
        address = form.get("address")
    if address is None or not address.strip():
        raise MailgunError(400, "'address' parameter is required")
    if len(address) > validation.MAX_ADDRESS:
        raise MailgunError(
            400, f"'address' parameter exceeds the {validation.MAX_ADDRESS}-character limit"
        )
    if not address.isprintable() or "\ufffd" in address:  # undecodable bytes became U+FFFD
        raise MailgunError(400, "'address' parameter is not a valid string")
    return address.strip()


@routes.get("/v4/address/validate")
@routes.post("/v4/address/validate")
async def validate(request: web.Request) -> web.Response:
    return web.json_response(validation.validate(await _address(request)))


@routes.get("/v3/address/validate")
@routes.post("/v3/address/validate")
async def validate_v3(request: web.Request) -> web.Response:
    return web.json_response(validation.legacy(await _address(request)))
