"""``POST /mockgun/templates/reload``: load the ``--templates`` folder again now."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ...mailgun.errors import MailgunError
from ...mailgun.template_files import TemplateFileError
from ..keys import TEMPLATE_FOLDER

routes = web.RouteTableDef()


@routes.post("/mockgun/templates/reload")
async def reload_templates(request: web.Request) -> web.Response:
    """``{"templates": N}``; a 400 naming the file and line of a template that cannot be
    used (the templates loaded before stay); 404 without ``--templates``."""
    if TEMPLATE_FOLDER not in request.app:
        raise MailgunError(404, "mockgun was started without --templates")
    folder = request.app[TEMPLATE_FOLDER]
    try:
        count = await asyncio.to_thread(folder.reload)
    except TemplateFileError as exc:
        raise MailgunError(400, str(exc)) from None
    return web.json_response({"templates": count, "folder": str(folder.directory)})
