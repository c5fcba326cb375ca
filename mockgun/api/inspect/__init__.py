"""mockgun's own API, ``/mockgun/...``: seeing what arrived, and steering what happens next.

A module per resource (health, messages, events, handshakes, faults, webhooks, the live
stream, the web page); each has a ``routes`` table, and :data:`MODULES` lists them.
"""

from __future__ import annotations

from . import (
    domains,
    events,
    faults,
    handshakes,
    health,
    inbound,
    messages,
    stream,
    suppressions,
    templates,
    ui,
    unsubscribe,
    webhooks,
)

MODULES = (
    health,
    messages,
    events,
    handshakes,
    stream,
    ui,
    faults,
    webhooks,
    templates,
    unsubscribe,
    suppressions,
    inbound,
    domains,
)
