"""Mailgun's own API, ``/v3/...``, ``/v4/...`` and ``/v1/keys``: a module per resource, as
Mailgun documents them. Each module has a ``routes`` table; :data:`MODULES` lists them."""

from __future__ import annotations

from . import (
    api_keys,
    domains,
    events,
    lists,
    messages,
    routes,
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
    routes,
    api_keys,
)
