"""Typed application state, shared by the handlers."""

from __future__ import annotations

from aiohttp import web

from ..config import Config
from ..faults import FaultBook
from ..mailgun.api_keys import KeyRing
from ..mailgun.domains import DomainBook
from ..mailgun.forwarding import Forwarder, Inbox
from ..mailgun.lists import ListBook
from ..mailgun.routes import RouteBook
from ..mailgun.stats import StatsBook
from ..mailgun.suppressions import SuppressionBook
from ..mailgun.template_files import TemplateFolder
from ..mailgun.templates import TemplateBook
from ..mailgun.webhooks import Webhooks
from ..persist import Persister
from ..store import MessageStore
from ..tls.connections import ConnectionRegistry
from ..tls.handshake_log import HandshakeLog
from ..tls.report import LiveSummary
from .inflight import InFlight
from .live import Hub
from .offload import Offload
from .relay import Relay

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", MessageStore)
CONNECTIONS = web.AppKey("connections", ConnectionRegistry)
INFLIGHT = web.AppKey("inflight", InFlight)
HANDSHAKES = web.AppKey("handshakes", HandshakeLog)
FAULTS = web.AppKey("faults", FaultBook)
WEBHOOKS = web.AppKey("webhooks", Webhooks)
TEMPLATES = web.AppKey("templates", TemplateBook)
SUPPRESSIONS = web.AppKey("suppressions", SuppressionBook)
STATS = web.AppKey("stats", StatsBook)
LISTS = web.AppKey("lists", ListBook)
ROUTES = web.AppKey("routes", RouteBook)
#: Route POSTs (forward() to a URL, store() notifications) and their attempts.
FORWARDER = web.AppKey("forwarder", Forwarder)
#: Inbound messages received, with what their routes did.
INBOX = web.AppKey("inbox", Inbox)
DOMAINS = web.AppKey("domains", DomainBook)
#: Keys made through /v1/keys (the --api-key account key is the config's).
API_KEYS = web.AppKey("api_keys", KeyRing)
#: The ``--templates`` folder, when one is given.
TEMPLATE_FOLDER = web.AppKey("template_folder", TemplateFolder)
LIVE = web.AppKey("live", Hub)
SUMMARY = web.AppKey("handshake_summary", LiveSummary)
#: Worker processes for building, parsing and previewing messages.
OFFLOAD = web.AppKey("offload", Offload)
#: A worker process of its own for rendering templates: a runaway render is stopped by
#: ending that process, which holds up no other work.
RENDERER = web.AppKey("renderer", Offload)
#: When the app was made (Unix time): the ``created_at`` of the domains it reports.
#: A worker process of its own for parsing inbound mail and matching routes (hostile MIME,
#: user-written patterns): stopped when a job runs over, holding up nothing else.
INBOUND_WORKER = web.AppKey("inbound_worker", Offload)
#: ``--relay``'s SMTP hand-off, when one is configured.
RELAY = web.AppKey("relay", Relay)
#: The SMTP door's bound ports, filled in by the server once it listens (empty: no door).
SMTP_PORTS = web.AppKey("smtp_ports", dict[str, int])
#: ``--data-dir``'s writer, when state is kept.
PERSIST = web.AppKey("persist", Persister)
STARTED = web.AppKey("started", float)
