"""Mailgun's own API, ``/v3/...`` and ``/v4/...``: a module per resource, as Mailgun documents
them. Each module has a ``routes`` table; :data:`MODULES` lists them for the app."""

from __future__ import annotations

from . import (
    domains,
    events,
    lists,
    messages,
    stats,
    stored,
    suppressions,
    templates,
    validation,
    webhooks,
)

MODULES = (
    messages,
    events,
    stored,
    domains,
    webhooks,
    templates,
    suppressions,
    validation,
    stats,
    lists,
)
