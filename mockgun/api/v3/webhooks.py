"""Mailgun's webhooks API: ``/v3/domains/{domain}/webhooks``."""

from __future__ import annotations

from aiohttp import web

from ...mailgun.errors import MailgunError, not_found
from ...mailgun.webhooks import WEBHOOK_EVENTS
from ..form import read_form
from ..keys import CONFIG, WEBHOOKS

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
            raise MailgunError(400, f"url is not valid: {url}")
    return form.get("id"), urls


@routes.post("/v3/domains/{domain}/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    name, urls = await _form_urls(request)
    if name not in WEBHOOK_EVENTS:
        raise MailgunError(400, f"id must be one of {', '.join(WEBHOOK_EVENTS)}")
    if not urls:
        raise MailgunError(400, "url parameter is missing")
    _domain_hooks(request)[name] = urls
    return web.json_response({"message": "Webhook has been created", "webhook": {"urls": urls}})


@routes.get("/v3/domains/{domain}/webhooks/{id}")
async def get_webhook(request: web.Request) -> web.Response:
    urls = request.app[WEBHOOKS].urls(request.match_info["domain"], request.match_info["id"])
    if not urls:
        raise not_found("Webhook")
    return web.json_response({"webhook": {"urls": urls}})


@routes.put("/v3/domains/{domain}/webhooks/{id}")
async def update_webhook(request: web.Request) -> web.Response:
    name = request.match_info["id"]
    if name not in _domain_hooks(request):
        raise not_found("Webhook")
    _, urls = await _form_urls(request)
    if not urls:
        raise MailgunError(400, "url parameter is missing")
    _domain_hooks(request)[name] = urls
    return web.json_response({"message": "Webhook has been updated", "webhook": {"urls": urls}})


@routes.delete("/v3/domains/{domain}/webhooks/{id}")
async def delete_webhook(request: web.Request) -> web.Response:
    urls = _domain_hooks(request).pop(request.match_info["id"], None)
    if urls is None:
        raise not_found("Webhook")
    return web.json_response({"message": "Webhook has been deleted", "webhook": {"urls": urls}})
