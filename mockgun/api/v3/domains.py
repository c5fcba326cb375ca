"""Domains in Mailgun's shape: ``/v3/domains`` and ``/v4/domains`` (list, get, create, update,
delete, verify), their tracking settings and SMTP credentials.

The official Python SDK calls the v3 paths, mailgun.js the v4 ones (and v3 for delete and
credentials): both answer alike. What a domain is and may do lives in
:mod:`mockgun.mailgun.domains`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from ...mailgun.domains import Domain, flag
from ...mailgun.errors import MailgunError
from ..form import Fields, read_fields
from ..keys import DOMAINS, STORE
from ..params import int_param

routes = web.RouteTableDef()

_BOTH = ("/v3/domains", "/v4/domains")


def _password(fields: Fields) -> str:
    password = fields.get("password")
    if not password:
        raise MailgunError(400, "'password' parameter is missing")
    return password


def _full(domain: Domain, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"domain": domain.as_json(), **domain.records()}
    if message:
        body["message"] = message
    return body


def _settings(values: Fields) -> dict[str, Any]:
    return {
        "spam_action": values.get("spam_action") or None,
        "wildcard": flag(values.get("wildcard"), "wildcard"),
        "web_scheme": values.get("web_scheme") or None,
        "web_prefix": values.get("web_prefix") or None,
    }


H = TypeVar("H", bound=Callable[[web.Request], Awaitable[web.StreamResponse]])


def _both(method: str, tail: str) -> Callable[[H], H]:
    """Register a handler at the same path under /v3/domains and /v4/domains."""

    def register(handler: H) -> H:
        for base in _BOTH:
            routes.route(method, base + tail)(handler)
        return handler

    return register


@_both("GET", "")
async def list_domains(request: web.Request) -> web.StreamResponse:
    book = request.app[DOMAINS]
    names = book.names(request.app[STORE].domains())
    state = request.query.get("state")
    skip = int_param(request, "skip", 0, label="'skip'")
    limit = int_param(request, "limit", 100, label="'limit'")
    domains = [book.require(n) for n in names]
    if state:
        domains = [d for d in domains if d.state == state]
    items = [d.as_json() for d in domains[skip : skip + limit]]
    return web.json_response({"items": items, "total_count": len(domains)})


@_both("GET", "/{name}")
async def get_domain(request: web.Request) -> web.StreamResponse:
    return web.json_response(_full(request.app[DOMAINS].require(request.match_info["name"])))


@_both("POST", "")
async def create_domain(request: web.Request) -> web.StreamResponse:
    values = await read_fields(request)
    domain = request.app[DOMAINS].create(
        values.get("name") or "", smtp_password=values.get("smtp_password"), **_settings(values)
    )
    return web.json_response(_full(domain, "Domain has been created"))


@_both("PUT", "/{name}")
async def update_domain(request: web.Request) -> web.StreamResponse:
    values = await read_fields(request)
    domain = request.app[DOMAINS].update(request.match_info["name"], **_settings(values))
    return web.json_response(_full(domain, "Domain has been updated"))


@_both("DELETE", "/{name}")
async def delete_domain(request: web.Request) -> web.StreamResponse:
    request.app[DOMAINS].remove(request.match_info["name"])
    return web.json_response({"message": "Domain has been deleted"})


@_both("PUT", "/{name}/verify")
async def verify_domain(request: web.Request) -> web.StreamResponse:
    domain = request.app[DOMAINS].verify(request.match_info["name"])
    return web.json_response(_full(domain, "Domain DNS records have been updated"))


# --- tracking ------------------------------------------------------------------------------


@_both("GET", "/{name}/tracking")
async def get_tracking(request: web.Request) -> web.StreamResponse:
    domain = request.app[DOMAINS].require(request.match_info["name"])
    return web.json_response({"tracking": domain.tracking})


@_both("PUT", "/{name}/tracking/{kind:open|click|unsubscribe}")
async def put_tracking(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    values = await read_fields(request)
    book = request.app[DOMAINS]
    domain = book.update(request.match_info["name"])  # adopts an open-mode domain
    setting = domain.tracking[kind]
    active = values.get("active")
    if kind == "click" and active is not None and active.strip().lower() == "htmlonly":
        setting["active"] = "htmlonly"
    else:
        value = flag(active, "active")
        if value is not None:
            setting["active"] = value
    if kind == "open":
        top = flag(values.get("place_at_the_top"), "place_at_the_top")
        if top is not None:
            setting["place_at_the_top"] = top
    if kind == "unsubscribe":
        for footer in ("html_footer", "text_footer"):
            text = values.get(footer)
            if text is not None:
                setting[footer] = text
    return web.json_response(
        {"message": "Domain tracking settings have been updated", kind: setting}
    )


# --- SMTP credentials ----------------------------------------------------------------------


@_both("GET", "/{name}/credentials")
async def list_credentials(request: web.Request) -> web.StreamResponse:
    domain = request.app[DOMAINS].require(request.match_info["name"])
    skip = int_param(request, "skip", 0, label="'skip'")
    limit = int_param(request, "limit", 100, label="'limit'")
    items = [c.as_json() for c in domain.credentials.values()]
    return web.json_response({"total_count": len(items), "items": items[skip : skip + limit]})


@_both("POST", "/{name}/credentials")
async def create_credentials(request: web.Request) -> web.StreamResponse:
    values = await read_fields(request)
    request.app[DOMAINS].add_credential(
        request.match_info["name"], values.get("login") or "", _password(values)
    )
    return web.json_response({"message": "Created 1 credentials pair(s)"})


@_both("PUT", "/{name}/credentials/{login}")
async def change_password(request: web.Request) -> web.StreamResponse:
    values = await read_fields(request)
    request.app[DOMAINS].change_password(
        request.match_info["name"], request.match_info["login"], _password(values)
    )
    return web.json_response({"message": "Password changed"})


@_both("DELETE", "/{name}/credentials/{login}")
async def delete_credentials(request: web.Request) -> web.StreamResponse:
    spec = request.app[DOMAINS].remove_credential(
        request.match_info["name"], request.match_info["login"]
    )
    return web.json_response({"message": "Credentials have been deleted", "spec": spec})
