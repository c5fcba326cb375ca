"""``/mockgun/faults``: the fault rules in force, changed at run time (see mockgun.faults).

How a rule answers a send is :mod:`mockgun.api.v3.messages`' business.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...faults import RuleError, parse_rule
from ...mailgun.errors import MailgunError, not_found
from ..keys import FAULTS

routes = web.RouteTableDef()


@routes.get("/mockgun/faults")
async def list_faults(request: web.Request) -> web.Response:
    book = request.app[FAULTS]
    return web.json_response(
        {"rules": [r.as_json() for r in book.rules], "injected": book.injected}
    )


@routes.post("/mockgun/faults")
async def add_fault(request: web.Request) -> web.Response:
    """Body: ``{"rule": "429 to=*@example.com times=2"}`` (or the rule as plain text)."""
    try:
        text = await _rule_text(request)
        rule = parse_rule(text)
    except (RuleError, ValueError) as exc:
        raise MailgunError(400, f"invalid fault rule: {exc}") from None
    request.app[FAULTS].add(rule)
    return web.json_response(rule.as_json(), status=201)


async def _rule_text(request: web.Request) -> str:
    if request.content_type == "application/json":
        body: Any = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("rule"), str):
            raise ValueError('send {"rule": "..."}')
        return str(body["rule"])
    return (await request.text()).strip()


@routes.delete("/mockgun/faults")
async def clear_faults(request: web.Request) -> web.Response:
    return web.json_response({"deleted": request.app[FAULTS].clear()})


@routes.delete("/mockgun/faults/{id}")
async def delete_fault(request: web.Request) -> web.Response:
    if not request.app[FAULTS].remove(request.match_info["id"]):
        raise not_found("Fault rule")
    return web.json_response({"deleted": 1})
