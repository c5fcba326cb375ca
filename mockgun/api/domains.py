"""``GET /v3/domains`` (and ``/v4/domains``) and ``GET /v3/domains/{name}``, in Mailgun's shape.

Lists the configured ``--domain``s, or, when none are configured, every domain that has sent.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from .errors import json_error
from .keys import CONFIG, STORE

routes = web.RouteTableDef()
_STARTED = dt.datetime.now(dt.timezone.utc)


def _names(request: web.Request) -> list[str]:
    config = request.app[CONFIG]
    return sorted(config.domains) if config.domains else request.app[STORE].domains()


def _domain(name: str) -> dict[str, Any]:
    return {
        "created_at": format_datetime(_STARTED, usegmt=True),
        "id": name.replace(".", "-"),
        "is_disabled": False,
        "name": name,
        "require_tls": False,
        "skip_verification": False,
        "smtp_login": f"postmaster@{name}",
        "spam_action": "disabled",
        "state": "active",
        "type": "custom",
        "web_prefix": "email",
        "web_scheme": "https",
        "wildcard": False,
    }


def _int(request: web.Request, name: str, default: int) -> int:
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        raise web.HTTPBadRequest(reason=f"'{name}' must be a whole number") from None
    if value < 0:
        raise web.HTTPBadRequest(reason=f"'{name}' must not be negative")
    return value


@routes.get("/v3/domains")
@routes.get("/v4/domains")
async def list_domains(request: web.Request) -> web.StreamResponse:
    names = _names(request)
    skip, limit = _int(request, "skip", 0), _int(request, "limit", 100)
    items = [_domain(n) for n in names[skip : skip + limit]]
    return web.json_response({"items": items, "total_count": len(names)})


@routes.get("/v3/domains/{name}")
@routes.get("/v4/domains/{name}")
async def get_domain(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"].lower()
    if name not in _names(request):
        return json_error(404, f"Domain not found: {name}")
    return web.json_response(
        {
            "domain": _domain(name),
            "receiving_dns_records": [
                {"priority": "10", "record_type": "MX", "valid": "valid", "value": f"mxa.{name}"}
            ],
            "sending_dns_records": [
                {
                    "record_type": "TXT",
                    "valid": "valid",
                    "name": name,
                    "value": "v=spf1 include:mailgun.org ~all",
                }
            ],
        }
    )
