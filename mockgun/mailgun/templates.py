"""Mailgun's stored templates: per domain, each with versions, one of them active.

What the Templates API stores and how it answers (``/v3/{domain}/templates``): names and
tags lower-cased and limited to letters, digits and ``.-_~``; at most
:data:`MAX_TEMPLATES` templates a domain and :data:`MAX_VERSIONS` versions a template;
content of at most :data:`MAX_TEMPLATE_BYTES`, checked as Handlebars when stored (so that a
broken template fails at create time, not at every send). The first version stored becomes
active; ``active=yes`` moves that mark. Version headers are only ``From``, ``Subject`` and
``Reply-To``. Rendering is :mod:`.render`'s.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..clock import mailgun_date
from .errors import MailgunError

MAX_TEMPLATES = 100
MAX_VERSIONS = 40
#: Mailgun's documented limit: "100Kb max template size".
MAX_TEMPLATE_BYTES = 100 * 1024
MAX_DESCRIPTION = 1024
TEMPLATE_HEADERS = ("From", "Subject", "Reply-To")
_NAME = re.compile(r"[a-z0-9._~-]{1,256}")
DEFAULT_TAG = "initial"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Version:
    tag: str
    template: str
    comment: str = ""
    engine: str = "handlebars"
    headers: dict[str, str] = field(default_factory=dict)
    active: bool = False
    created_at: dt.datetime = field(default_factory=_now)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_json(self, *, content: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "tag": self.tag,
            "engine": self.engine,
            "mjml": "",
            "createdAt": mailgun_date(self.created_at),
            "comment": self.comment,
            "active": self.active,
            "id": self.id,
        }
        if content:
            body["template"] = self.template
            if self.headers:
                body["headers"] = dict(self.headers)
        return body


@dataclass
class Template:
    name: str
    description: str = ""
    created_by: str = ""
    created_at: dt.datetime = field(default_factory=_now)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: In the order they were stored.
    versions: dict[str, Version] = field(default_factory=dict)

    @property
    def active(self) -> Version | None:
        return next((v for v in self.versions.values() if v.active), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "createdAt": mailgun_date(self.created_at),
            "createdBy": self.created_by,
            "id": self.id,
        }

    def version(self, tag: str) -> Version:
        found = self.versions.get(tag.lower())
        if found is None:
            raise MailgunError(404, "version not found")
        return found

    def add_version(self, version: Version, *, activate: bool) -> None:
        if version.tag in self.versions:
            raise MailgunError(400, f"version with tag '{version.tag}' already exists")
        if len(self.versions) >= MAX_VERSIONS:
            raise MailgunError(400, f"template can have at most {MAX_VERSIONS} versions")
        self.versions[version.tag] = version
        if activate or self.active is None:
            self.make_active(version)

    def make_active(self, version: Version) -> None:
        for other in self.versions.values():
            other.active = other is version


def check_name(value: str | None, what: str) -> str:
    """A template name or version tag: required, lower-cased, Mailgun's characters only."""
    name = (value or "").strip().lower()
    if not name:
        raise MailgunError(400, f"{what} parameter is missing")
    if not _NAME.fullmatch(name):
        raise MailgunError(
            400, f"{what} can contain only alphanumeric characters and the symbols .-_~"
        )
    return name


def parse_headers(raw: str | None) -> dict[str, str]:
    """A version's ``headers``: a JSON object of From, Subject and Reply-To."""
    if raw is None or not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise MailgunError(400, "headers parameter must be a JSON object")
    headers: dict[str, str] = {}
    for key, value in parsed.items():
        canonical = next((h for h in TEMPLATE_HEADERS if h.lower() == str(key).lower()), None)
        if canonical is None:
            allowed = ", ".join(TEMPLATE_HEADERS)
            raise MailgunError(400, f"header '{key}' is not allowed: only {allowed}")
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            raise MailgunError(400, f"header '{canonical}' must be a one-line string")
        headers[canonical] = value
    return headers


class TemplateBook:
    """Every domain's templates, in the order they were stored, and the ``shared`` ones that
    ``--templates DIR`` loads for every domain (a domain's own template of the same name
    takes precedence; shared ones change only with their files)."""

    def __init__(self, shared: dict[str, Template] | None = None) -> None:
        self._domains: dict[str, dict[str, Template]] = {}
        self.shared: dict[str, Template] = shared or {}

    def of(self, domain: str) -> dict[str, Template]:
        """A domain's own templates (made through the API)."""
        return self._domains.setdefault(domain.lower(), {})

    def visible(self, domain: str) -> list[Template]:
        """What a domain sees: its own templates, then the shared ones it does not shadow."""
        own = self.of(domain)
        return [*own.values(), *(t for n, t in self.shared.items() if n not in own)]

    def get(self, domain: str, name: str) -> Template:
        key = name.strip().lower()
        found = self.of(domain).get(key) or self.shared.get(key)
        if found is None:
            raise MailgunError(404, "template not found")
        return found

    def writable(self, domain: str, name: str) -> Template:
        """A template the API may change: the domain's own."""
        found = self.get(domain, name)
        if found.name not in self.of(domain):
            raise MailgunError(
                400, f"template '{found.name}' comes from the --templates folder: change its file"
            )
        return found

    def add(self, domain: str, template: Template) -> None:
        templates = self.of(domain)
        if template.name in templates:
            raise MailgunError(409, f"template with name '{template.name}' already exists")
        if len(templates) >= MAX_TEMPLATES:
            raise MailgunError(400, f"domain can have at most {MAX_TEMPLATES} templates")
        templates[template.name] = template

    def remove(self, domain: str, name: str) -> Template:
        template = self.writable(domain, name)
        del self.of(domain)[template.name]
        return template

    def clear(self, domain: str) -> None:
        self.of(domain).clear()

    def resolve(self, domain: str, name: str, tag: str | None) -> tuple[Template, Version] | None:
        """The template and version a send names (the active one without ``t:version``)."""
        key = name.strip().lower()
        template = self.of(domain).get(key) or self.shared.get(key)
        if template is None:
            return None
        version = template.versions.get(tag.strip().lower()) if tag else template.active
        return (template, version) if version is not None else None
