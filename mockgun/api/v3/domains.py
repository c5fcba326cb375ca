"""``GET /v3/domains`` (and ``/v4/domains``) and ``GET /v3/domains/{name}``, in Mailgun's shape.

Lists the configured ``--domain``s, or, when none are configured, every domain that has sent.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from ...mailgun.errors import MailgunError
from ..keys import CONFIG, STARTED, STORE
from ..params import int_param

routes = web.RouteTableDef()


def _names(request: web.Request) -> list[str]:
    config = request.app[CONFIG]
    return sorted(config.domains) if config.domains else request.app[STORE].domains()


def _domain(request: web.Request, name: str) -> dict[str, Any]:
    started = dt.datetime.fromtimestamp(request.app[STARTED], dt.timezone.utc)
    return {
        "created_at": format_datetime(started, usegmt=True),
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


@routes.get("/v3/domains")
@routes.get("/v4/domains")
async def list_domains(request: web.Request) -> web.StreamResponse:
    names = _names(request)
    skip = int_param(request, "skip", 0, label="'skip'")
    limit = int_param(request, "limit", 100, label="'limit'")
    items = [_domain(request, n) for n in names[skip : skip + limit]]
    return web.json_response({"items": items, "total_count": len(names)})


@routes.get("/v3/domains/{name}")
@routes.get("/v4/domains/{name}")
async def get_domain(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"].lower()
    if name not in _names(request):
        raise MailgunError(404, f"Domain not found: {name}")
    return web.json_response(
        {
            "domain": _domain(request, name),
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
