"""Mailgun's Keys API, ``/v1/keys``: domain sending keys and other account keys.

A key's secret is in the answer that creates it and nowhere else: lists show a hint.
"""

from __future__ import annotations

from aiohttp import web

from ..form import read_fields
from ..keys import API_KEYS, DOMAINS

routes = web.RouteTableDef()


@routes.get("/v1/keys")
async def list_keys(request: web.Request) -> web.StreamResponse:
    keys = request.app[API_KEYS].items(
        domain_name=request.query.get("domain_name") or None,
        kind=request.query.get("kind") or None,
    )
    return web.json_response({"total_count": len(keys), "items": [k.as_json() for k in keys]})


@routes.post("/v1/keys")
async def create_key(request: web.Request) -> web.StreamResponse:
    fields = await read_fields(request, max_size=64 * 1024)
    domain_name = fields.get("domain_name") or None
    if domain_name is not None:
        request.app[DOMAINS].require(domain_name)  # Mailgun's 404 for a domain not here
    key, secret = request.app[API_KEYS].create(
        role=fields.get("role"),
        kind=fields.get("kind"),
        domain_name=domain_name,
        description=fields.get("description") or "",
        expiration=fields.get("expiration"),
    )
    return web.json_response(
        {"message": "great success", "key": {**key.as_json(), "secret": secret}}
    )


@routes.delete("/v1/keys/{id}")
async def delete_key(request: web.Request) -> web.StreamResponse:
    request.app[API_KEYS].remove(request.match_info["id"])
    return web.json_response({"message": "key deleted"})
