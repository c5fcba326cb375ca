"""Mailgun's webhooks API, `/v3/domains/{domain}/webhooks`, and the delivery record."""

from __future__ import annotations

from aiohttp import web

from ..mail.form import FormError, read_form
from ..webhooks import WEBHOOK_EVENTS
from .errors import json_error
from .keys import CONFIG, WEBHOOKS

routes = web.RouteTableDef()


def _domain_hooks(request: web.Request) -> dict[str, list[str]]:
    hooks = request.app[WEBHOOKS]
    return hooks.per_domain.setdefault(request.match_info["domain"].lower(), {})


@routes.get("/v3/domains/{domain}/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    hooks = request.app[WEBHOOKS]
    domain = request.match_info["domain"]
    names = {n for n in WEBHOOK_EVENTS if hooks.urls(domain, n)}
    return web.json_response(
        {"webhooks": {n: {"urls": hooks.urls(domain, n)} for n in sorted(names)}}
    )


async def _form_urls(request: web.Request) -> tuple[str | None, list[str]]:
    form = await read_form(request, max_size=request.app[CONFIG].max_message_size)
    urls = [u.strip() for u in form.getall("url") if u.strip()]
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise FormError(400, f"url is not valid: {url}")
    return form.get("id"), urls


@routes.post("/v3/domains/{domain}/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    try:
        name, urls = await _form_urls(request)
    except FormError as exc:
        return json_error(exc.status, exc.message)
    if name not in WEBHOOK_EVENTS:
        return json_error(400, f"id must be one of {', '.join(WEBHOOK_EVENTS)}")
    if not urls:
        return json_error(400, "url parameter is missing")
    _domain_hooks(request)[name] = urls
    return web.json_response({"message": "Webhook has been created", "webhook": {"urls": urls}})


@routes.get("/v3/domains/{domain}/webhooks/{id}")
async def get_webhook(request: web.Request) -> web.Response:
    urls = request.app[WEBHOOKS].urls(request.match_info["domain"], request.match_info["id"])
    if not urls:
        return json_error(404, "Webhook not found")
    return web.json_response({"webhook": {"urls": urls}})


@routes.put("/v3/domains/{domain}/webhooks/{id}")
async def update_webhook(request: web.Request) -> web.Response:
    name = request.match_info["id"]
    if name not in _domain_hooks(request):
        return json_error(404, "Webhook not found")
    try:
        _, urls = await _form_urls(request)
    except FormError as exc:
        return json_error(exc.status, exc.message)
    if not urls:
        return json_error(400, "url parameter is missing")
    _domain_hooks(request)[name] = urls
    return web.json_response({"message": "Webhook has been updated", "webhook": {"urls": urls}})


@routes.delete("/v3/domains/{domain}/webhooks/{id}")
async def delete_webhook(request: web.Request) -> web.Response:
    urls = _domain_hooks(request).pop(request.match_info["id"], None)
    if urls is None:
        return json_error(404, "Webhook not found")
    return web.json_response({"message": "Webhook has been deleted", "webhook": {"urls": urls}})


@routes.get("/mockgun/webhooks/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    """Every delivery attempt, oldest first: url, event, event_id, attempt, status/error, ok."""
    hooks = request.app[WEBHOOKS]
    return web.json_response(
        {"signing_key_set": bool(hooks.signing_key), "items": hooks.deliveries}
    )
