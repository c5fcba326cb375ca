"""A send that names a stored template: which version, with which variables, and what the
rendered result changes in the send.

The lookup happens at accept time (the version active then is the one delivered, whatever
changes later); the render itself runs in a worker process (``api/v3/messages.py``), and
its result replaces the send's HTML (and text, with ``t:text=yes``). Template headers
(``From``, ``Subject``, ``Reply-To``) apply where the send did not set them; a send with no
``From`` at all gets ``postmaster@<domain>``, as Mailgun does.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import re

from .render import Rendered, RenderJob, merge_variables
from .send import SendRequest
from .templates import TemplateBook

_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr|table|ul|ol)>|<br\s*/?>", re.IGNORECASE)
_DROPPED = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def header(send: SendRequest, name: str) -> str | None:
    """An ``h:`` header of the send (case-insensitive name), if it set one."""
    lowered = name.lower()
    return next((v for n, v in send.options.headers if n.lower() == lowered), None)


def job_for(send: SendRequest, book: TemplateBook) -> RenderJob | str:
    """What to render for ``send``, or why it cannot be (an unknown template or version)."""
    name = send.options.template or ""
    tag = send.options.template_version
    found = book.resolve(send.domain, name, tag)
    if found is None:
        return (
            f"template '{name}' version '{tag}' not found"
            if tag and any(t.name == name.strip().lower() for t in book.visible(send.domain))
            else f"template '{name}' not found"
        )
    _, version = found
    variables = merge_variables(
        send.options.variables,
        header(send, "X-Mailgun-Variables"),
        send.options.template_variables,
        header(send, "X-Mailgun-Template-Variables"),
    )
    return RenderJob(source=version.template, variables=variables, headers=dict(version.headers))


def apply(send: SendRequest, rendered: Rendered) -> SendRequest:
    """The send as delivered: the rendered body, and the template's headers where the send
    set none."""
    headers = rendered.headers
    extra = list(send.options.headers)
    if "Reply-To" in headers and header(send, "Reply-To") is None:
        extra.append(("Reply-To", headers["Reply-To"]))
    sender = send.sender or headers.get("From") or f"postmaster@{send.domain}"
    return dataclasses.replace(
        send,
        sender=sender,
        subject=send.subject if (send.subject or "").strip() else headers.get("Subject", ""),
        html=rendered.html,
        text=html_to_text(rendered.html) if send.options.template_text else send.text,
        options=dataclasses.replace(send.options, headers=tuple(extra)),
    )


def html_to_text(html: str) -> str:
    """A plain-text part from rendered HTML (``t:text=yes``): tags dropped, blocks on lines."""
    text = _DROPPED.sub("", html)
    text = _BLOCK_END.sub("\n", text)
    text = html_lib.unescape(_TAG.sub("", text))
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line) + "\n"
