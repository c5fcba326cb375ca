"""Applying fault rules to sends, and ``/mockgun/faults`` to manage them at run time."""

from __future__ import annotations

import asyncio
from email.utils import getaddresses, parseaddr
from typing import Any

from aiohttp import web

from ..faults import STATUS_MESSAGES, FaultRule, Request, RuleError, parse_rule
from ..mail.form import Form
from ..tls.handshake_log import rfc3339_now
from .errors import forbidden, json_error
from .keys import CONFIG, FAULTS

#: Every response a rule produced carries the rule's id in this header.
FAULT_HEADER = "X-Mockgun-Fault"
#: How long a stalled request is held before its connection is dropped.
STALL_SECONDS = 300.0

routes = web.RouteTableDef()


def fault_request(form: Form, domain: str, endpoint: str, recipient_fields: list[str]) -> Request:
    return Request(
        endpoint=endpoint,
        domain=domain,
        recipients=[addr for _, addr in getaddresses(recipient_fields) if addr],
        sender=parseaddr(form.get("from") or "")[1],
    )


async def apply_fault(
    request: web.Request, form: Form, domain: str
) -> FaultRule | web.Response | None:
    """Run the first matching rule: an error response to return, or (for a delay) the rule
    after waiting; None when no rule matches."""
    endpoint = "messages.mime" if request.path.endswith(".mime") else "messages"
    book = request.app[FAULTS]
    fields = [v for name in ("to", "cc", "bcc") for v in form.getall(name)]
    if not book.may_apply(fields):
        return None
    fault = fault_request(form, domain, endpoint, fields)
    rule = book.pick(fault)
    if rule is None:
        return None
    book.record(rule, fault, rfc3339_now())
    if rule.action == "delay":
        await asyncio.sleep(rule.delay)
        return rule
    if rule.action in ("drop", "stall"):
        if rule.action == "stall":
            await asyncio.sleep(min(STALL_SECONDS, request.app[CONFIG].request_timeout * 10))
        if request.transport is not None:
            request.transport.abort()
        # Never sent: the connection is gone, and aiohttp quietly drops what it cannot write.
        return web.Response(status=500, headers={FAULT_HEADER: rule.id})
    return fault_response(rule, domain)


def fault_response(rule: FaultRule, domain: str) -> web.Response:
    if rule.status == 401:
        response = forbidden()
    else:
        text = STATUS_MESSAGES[rule.status].format(domain=domain, retry_after=rule.retry_after)
        response = json_error(rule.status, text)
    if rule.status == 429:
        response.headers["Retry-After"] = str(rule.retry_after)
    response.headers[FAULT_HEADER] = rule.id
    return response


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
        return json_error(400, f"invalid fault rule: {exc}")
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
        return json_error(404, "Fault rule not found")
    return web.json_response({"deleted": 1})
