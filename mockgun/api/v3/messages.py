"""``POST /v3/{domain}/messages`` and ``POST /v3/{domain}/messages.mime``, and the fault rules
that can stand in for Mailgun's answer to them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from aiohttp import web

from ...faults import STATUS_MESSAGES, FaultRule, FaultTarget
from ...mailgun import lists, mime, render, templated
from ...mailgun.errors import MailgunError
from ...mailgun.form import Form
from ...mailgun.send import SendRequest, addresses, validate_mime_send, validate_send
from ...store import StoredMessage, TransportInfo
from ...tls.connections import ssl_object_of
from ..accept import accept_send
from ..form import read_form
from ..keys import (
    CONFIG,
    CONNECTIONS,
    DOMAINS,
    FAULTS,
    LISTS,
    OFFLOAD,
    RENDERER,
    STORE,
    TEMPLATES,
)
from ..params import sending_domain
from ..urls import base_url

QUEUED = "Queued. Thank you."
#: Every response a rule produced carries the rule's id in this header.
FAULT_HEADER = "X-Mockgun-Fault"
#: How long a stalled request is held before its connection is dropped.
STALL_SECONDS = 300.0

routes = web.RouteTableDef()


@routes.post("/v3/{domain}/messages")
async def send_message(request: web.Request) -> web.Response:
    return await _send(request, validate_send)


@routes.post("/v3/{domain}/messages.mime")
async def send_mime(request: web.Request) -> web.Response:
    return await _send(request, validate_mime_send)


async def _send(request: web.Request, validate: Callable[[Form, str], SendRequest]) -> web.Response:
    config = request.app[CONFIG]
    domain = sending_domain(request)
    refusal = request.app[DOMAINS].sending_refusal(domain)
    if refusal is not None:
        raise MailgunError(400, refusal)
    form = await read_form(
        request,
        max_size=config.max_message_size,
        timeout=config.request_timeout,
        spool=request.app[STORE].spool,
    )
    rule = await apply_fault(request, form, domain)
    send = dataclasses.replace(validate(form, domain), links_base=base_url(request))
    send = lists.expand(send, request.app[LISTS])
    failure = None
    if send.options.template:
        send, failure = await render_template(request.app, send)
    stored = accept(
        request, send, fault=rule.id if rule is not None else None, template_failure=failure
    )
    response = web.json_response({"id": stored.id, "message": QUEUED})
    if rule is not None:
        response.headers[FAULT_HEADER] = rule.id
    return response


def accept(
    request: web.Request,
    send: SendRequest,
    *,
    fault: str | None = None,
    template_failure: str | None = None,
) -> StoredMessage:
    """Store an accepted send and its events (:func:`mockgun.api.accept.accept_send`)."""
    return accept_send(
        request.app,
        send,
        base=base_url(request),
        transport=transport_of(request),
        fault=fault,
        template_failure=template_failure,
    )


#: Seconds one template render may take before its worker is stopped.
RENDER_TIMEOUT = 5.0


async def render_template(
    app: web.Application, send: SendRequest
) -> tuple[SendRequest, str | None]:
    """The send with its template rendered, or unchanged with the reason it could not be
    (a 400 instead with ``--strict-templates``)."""
    job = templated.job_for(send, app[TEMPLATES])
    why: str
    if isinstance(job, str):
        why = job
    else:
        try:
            if render.is_small(job):  # tens of microseconds: not worth a trip to the worker
                rendered = render.render(job)
            else:
                rendered = await app[RENDERER].run(render.render, job, timeout=RENDER_TIMEOUT)
            if send.mime is not None:  # messages.mime: into the upload's own HTML part
                payload = await app[OFFLOAD].run(mime.with_rendered_html, send.mime, rendered.html)
                return (send if payload is None else dataclasses.replace(send, mime=payload)), None
            return templated.apply(send, rendered), None
        except render.RenderError as exc:
            why = str(exc)
        except TimeoutError:
            why = f"rendering the template took over {RENDER_TIMEOUT:g}s and was stopped"
        except RuntimeError as exc:  # the worker was stopped under it
            why = f"the template could not be rendered: {exc}"
    if app[CONFIG].strict_templates:
        raise MailgunError(400, why)
    return send, why


def transport_of(request: web.Request) -> TransportInfo:
    """The TLS version and cipher of the connection this request came on."""
    peer = request.remote
    ssl_object = ssl_object_of(request)
    if ssl_object is None:
        return TransportInfo(peer_ip=peer)
    info = request.app[CONNECTIONS].lookup(ssl_object)
    if info is not None:
        return TransportInfo(info.conn_id, info.tls_version, info.cipher, peer)
    cipher = ssl_object.cipher()
    return TransportInfo(None, ssl_object.version(), cipher[0] if cipher else None, peer)


async def apply_fault(request: web.Request, form: Form, domain: str) -> FaultRule | None:
    """Run the first matching rule: raise its error answer, or (for a delay) return the rule
    after waiting; None when no rule matches."""
    endpoint = "messages.mime" if request.path.endswith(".mime") else "messages"
    book = request.app[FAULTS]
    fields = [v for name in ("to", "cc", "bcc") for v in form.getall(name)]
    if not book.may_apply(fields):
        return None
    target = FaultTarget(
        endpoint=endpoint,
        domain=domain,
        recipients=[addr for _, addr in addresses(fields, "to") if addr],
        sender=next((a for _, a in addresses(form.getall("from")[:1], "from")), ""),
    )
    rule = book.trigger(target)
    if rule is None:
        return None
    if rule.action == "delay":
        await asyncio.sleep(rule.delay)
        return rule
    if rule.action in ("drop", "stall"):
        if rule.action == "stall":
            await asyncio.sleep(min(STALL_SECONDS, request.app[CONFIG].request_timeout * 10))
        if request.transport is not None:
            request.transport.abort()
        # Never sent: the connection is gone, and aiohttp quietly drops what it cannot write.
        raise MailgunError(500, "dropped", headers={FAULT_HEADER: rule.id})
    raise fault_error(rule, domain)


def fault_error(rule: FaultRule, domain: str) -> MailgunError:
    """The answer a status rule gives, in Mailgun's words (a 401 is its plain Forbidden)."""
    text = STATUS_MESSAGES[rule.status].format(domain=domain, retry_after=rule.retry_after)
    headers = {FAULT_HEADER: rule.id}
    if rule.status == 429:
        headers["Retry-After"] = str(rule.retry_after)
    return MailgunError(rule.status, text, headers=headers)
