"""Mailgun's Templates API: ``/v3/{domain}/templates`` and their versions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from ...mailgun import render
from ...mailgun.errors import MailgunError
from ...mailgun.templates import (
    DEFAULT_TAG,
    MAX_DESCRIPTION,
    MAX_TEMPLATE_BYTES,
    Template,
    Version,
    check_name,
    parse_headers,
)
from ..form import Fields, read_fields
from ..keys import TEMPLATES
from ..params import int_param, sending_domain

routes = web.RouteTableDef()
T = TypeVar("T")
#: Form bodies here are small: a template (100 KB) and a few fields.
MAX_FORM = 2 * MAX_TEMPLATE_BYTES


async def _fields(request: web.Request) -> Fields:
    return await read_fields(request, max_size=MAX_FORM)


def _content(fields: Fields, *, required: bool) -> str | None:
    source = fields.get("template")
    if source is None:
        if required:
            raise MailgunError(400, "template parameter is missing")
        return None
    if len(source.encode()) > MAX_TEMPLATE_BYTES:
        raise MailgunError(400, f"template is over the {MAX_TEMPLATE_BYTES // 1024} KB limit")
    engine = (fields.get("engine") or "handlebars").strip().lower()
    if engine != "handlebars":
        raise MailgunError(400, "engine can only be handlebars")
    render.check(source)
    return source


def _page(
    request: web.Request, items: Sequence[T], key: Callable[[T], str]
) -> tuple[list[T], dict[str, str]]:
    """Mailgun's pages: ``limit`` (10), ``page`` first/last/next/prev around the pivot ``p``."""
    limit = int_param(request, "limit", 10, low=1, high=1000)
    page = request.query.get("page", "first")
    pivot = request.query.get("p")
    keys = [key(item) for item in items]
    if page == "last":
        chosen = list(items[-limit:])
    elif page == "next" and pivot in keys:
        start = keys.index(pivot) + 1
        chosen = list(items[start : start + limit])
    elif page == "prev" and pivot in keys:
        end = keys.index(pivot)
        chosen = list(items[max(end - limit, 0) : end])
    else:
        chosen = list(items[:limit])
    base = f"{request.url.scheme}://{request.host}{request.path}"

    def link(**params: str) -> str:
        return f"{base}?{urlencode({**params, 'limit': str(limit)})}"

    last = key(chosen[-1]) if chosen else (pivot or "")
    first = key(chosen[0]) if chosen else (pivot or "")
    paging = {
        "first": link(page="first"),
        "last": link(page="last"),
        "next": link(page="next", p=last),
        "previous": link(page="prev", p=first),
    }
    return chosen, paging


def _template_with(template: Template, version: Version | None, *, content: bool) -> dict[str, Any]:
    body = template.as_json()
    if version is not None:
        body["version"] = version.as_json(content=content)
    return body


def _version_answer(template: Template, version: Version, message: str) -> web.Response:
    body = {"name": template.name, "version": {"tag": version.tag}}
    return web.json_response({"template": body, "message": message})


@routes.get("/v3/{domain}/templates")
async def list_templates(request: web.Request) -> web.Response:
    templates = request.app[TEMPLATES].visible(sending_domain(request))
    items, paging = _page(request, templates, lambda t: t.name)
    return web.json_response({"items": [t.as_json() for t in items], "paging": paging})


@routes.post("/v3/{domain}/templates")
async def create_template(request: web.Request) -> web.Response:
    domain = sending_domain(request)
    fields = await _fields(request)
    name = check_name(fields.get("name"), "name")
    description = (fields.get("description") or "")[:MAX_DESCRIPTION]
    source = _content(fields, required=False)
    template = Template(
        name=name, description=description, created_by=fields.get("createdBy") or ""
    )
    version = None
    if source is not None:
        version = Version(
            tag=check_name(fields.get("tag") or DEFAULT_TAG, "tag"),
            template=source,
            comment=fields.get("comment") or "",
            headers=parse_headers(fields.get("headers")),
        )
        template.add_version(version, activate=True)
    request.app[TEMPLATES].add(domain, template)
    return web.json_response(
        {
            "template": _template_with(template, version, content=False),
            "message": "template has been stored",
        }
    )


@routes.delete("/v3/{domain}/templates")
async def delete_all_templates(request: web.Request) -> web.Response:
    request.app[TEMPLATES].clear(sending_domain(request))
    return web.json_response({"message": "templates have been deleted"})


@routes.get("/v3/{domain}/templates/{name}")
async def get_template(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].get(sending_domain(request), request.match_info["name"])
    active = (request.query.get("active") or "").lower() in ("yes", "true", "1")
    version = template.active if active else None
    return web.json_response({"template": _template_with(template, version, content=True)})


@routes.put("/v3/{domain}/templates/{name}")
async def update_template(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].writable(sending_domain(request), request.match_info["name"])
    fields = await _fields(request)
    description = fields.get("description")
    if description is not None:
        template.description = description[:MAX_DESCRIPTION]
    return web.json_response(
        {"message": "template has been updated", "template": template.as_json()}
    )


@routes.delete("/v3/{domain}/templates/{name}")
async def delete_template(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].remove(sending_domain(request), request.match_info["name"])
    return web.json_response(
        {"template": {"name": template.name}, "message": "template has been deleted"}
    )


@routes.get("/v3/{domain}/templates/{name}/versions")
async def list_versions(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].get(sending_domain(request), request.match_info["name"])
    items, paging = _page(request, list(template.versions.values()), lambda v: v.tag)
    body = {**template.as_json(), "versions": [v.as_json(content=False) for v in items]}
    return web.json_response({"template": body, "paging": paging})


@routes.post("/v3/{domain}/templates/{name}/versions")
async def create_version(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].writable(sending_domain(request), request.match_info["name"])
    fields = await _fields(request)
    source = _content(fields, required=True)
    assert source is not None
    version = Version(
        tag=check_name(fields.get("tag"), "tag"),
        template=source,
        comment=fields.get("comment") or "",
        headers=parse_headers(fields.get("headers")),
    )
    template.add_version(version, activate=fields.yes("active"))
    return web.json_response(
        {
            "template": _template_with(template, version, content=False),
            "message": "new version of the template has been stored",
        }
    )


@routes.get("/v3/{domain}/templates/{name}/versions/{tag}")
async def get_version(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].get(sending_domain(request), request.match_info["name"])
    version = template.version(request.match_info["tag"])
    return web.json_response({"template": _template_with(template, version, content=True)})


@routes.put("/v3/{domain}/templates/{name}/versions/{tag}")
async def update_version(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].writable(sending_domain(request), request.match_info["name"])
    version = template.version(request.match_info["tag"])
    fields = await _fields(request)
    source = _content(fields, required=False)
    if source is not None:
        version.template = source
    if fields.get("comment") is not None:
        version.comment = fields.get("comment") or ""
    if fields.get("headers") is not None:
        version.headers = parse_headers(fields.get("headers"))
    if fields.yes("active"):
        template.make_active(version)
    return _version_answer(template, version, "version has been updated")


@routes.delete("/v3/{domain}/templates/{name}/versions/{tag}")
async def delete_version(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].writable(sending_domain(request), request.match_info["name"])
    version = template.version(request.match_info["tag"])
    if version.active and len(template.versions) > 1:
        raise MailgunError(
            400, "the active version cannot be deleted: make another one active first"
        )
    del template.versions[version.tag]
    return _version_answer(template, version, "version has been deleted")


@routes.put("/v3/{domain}/templates/{name}/versions/{tag}/copy/{new_tag}")
async def copy_version(request: web.Request) -> web.Response:
    template = request.app[TEMPLATES].writable(sending_domain(request), request.match_info["name"])
    source = template.version(request.match_info["tag"])
    fields = await _fields(request)
    copy = Version(
        tag=check_name(request.match_info["new_tag"], "new_tag"),
        template=source.template,
        comment=fields.get("comment") or source.comment,
        headers=dict(source.headers),
    )
    template.add_version(copy, activate=False)
    return web.json_response(
        {
            "message": "version has been copied",
            "version": copy.as_json(content=True),
            "template": _template_with(template, copy, content=False),
        }
    )
