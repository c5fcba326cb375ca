"""What a running mockgun was asked to be: one immutable value shared by every layer.

Each setting is declared here once, as a :class:`Config` field with a default and a
:class:`Setting` (flag, ``MOCKGUN_*`` variable, help). ``mockgun serve`` builds its options
from these declarations (:mod:`mockgun.cli.options`), and the table in ``docs/cli.md`` is
made from those options (a test holds it equal), so a new setting is one new field here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

TlsMax = Literal["1.2", "1.3"]
LogDetail = Literal["full", "brief"]
CipherProfile = Literal["modern", "compat"]
EventLoop = Literal["auto", "asyncio", "uvloop"]

#: Mailgun's documented message limit; requests above ``max_message_size`` get a 413.
DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024


@dataclass(frozen=True)
class Setting:
    """How a :class:`Config` field appears on the command line and in the environment."""

    help: str
    #: The variable is ``MOCKGUN_<env>``; by default the field's name in upper case.
    env: str = ""
    #: The option's declaration, when not ``--field-name``.
    flag: str = ""
    #: Lower and upper bounds of a number.
    low: float | None = None
    high: float | None = None
    #: A special kind the CLI parses: ``size`` (``25MiB``), ``webhook``, ``fault``, ``file``.
    kind: str = ""
    #: What ``--help`` and the docs show as the default, when not the value itself.
    shown_default: str = ""


def _setting(default: Any, help: str, *, secret: bool = False, **kw: Any) -> Any:
    """A field with its :class:`Setting`; a ``secret`` one stays out of ``repr``."""
    return field(default=default, repr=not secret, metadata={"setting": Setting(help=help, **kw)})


@dataclass(frozen=True)
class Config:
    """Settings for one server. The CLI builds it from flags and ``MOCKGUN_*`` variables."""

    host: str = _setting(
        "127.0.0.1",
        "Address to listen on. Use 0.0.0.0 only where other machines must reach it.",
    )
    port: int = _setting(
        8443, "TCP port; 0 picks a free one (printed at start).", low=0, high=65535
    )
    certs_dir: Path = _setting(
        Path("certs"),
        "Where ca.pem and the server certificates and keys live (created when missing).",
        kind="dir",
    )
    hostnames: tuple[str, ...] = _setting(
        (),
        "Extra name the server certificate must cover, besides localhost, 127.0.0.1 and ::1. "
        "Repeatable; the variable takes a space- or comma-separated list.",
        flag="--hostname",
        env="HOSTNAME",
    )
    tls_max: TlsMax = _setting(
        "1.3",
        "Highest TLS version offered; 1.2 makes a TLS-1.2-only endpoint. "
        "The floor is always TLS 1.2.",
    )
    ciphers: CipherProfile = _setting(
        "modern",
        "TLS 1.2 cipher suites. modern: ECDHE with AES-GCM or ChaCha20-Poly1305; compat: also "
        "the CBC and RSA-key-exchange suites many production APIs accept. TLS 1.0/1.1 are "
        "refused in both.",
    )
    templates: Path | None = _setting(
        None,
        "Folder of Mailgun templates to serve to every domain (NAME.hbs, or NAME/TAG.hbs per "
        "version; see docs/templates.md), reloaded when its files change.",
        kind="dir",
    )
    strict_templates: bool = _setting(
        False,
        "A send naming an unknown template or version, or one that cannot be rendered, gets a "
        "400 (Mailgun accepts it and does not deliver it: a failed event).",
    )
    #: Path of the JSON-lines handshake log, or ``"-"`` for standard output.
    handshake_log: str = _setting(
        "mockgun-handshakes.jsonl",
        "JSON-lines file that gets one line per TLS handshake; - for standard output.",
    )
    handshake_timeout: float = _setting(
        10.0, "Seconds from accept to a finished handshake.", low=0.01
    )
    #: Seconds a client gets to send a whole request: the headers of each request (from the
    #: handshake, or from its first byte), and its body. Slower clients are cut off (408 for a
    #: body).
    request_timeout: float = _setting(
        30.0,
        "Seconds a client gets for the headers of each request (from the handshake, or from "
        "the request's first byte) and for any request body (slower bodies get 408).",
        low=0.01,
    )
    handshake_log_detail: LogDetail = _setting(
        "full",
        "full: every line carries the client's offer (ciphers, versions, ALPN, JA3); "
        "brief: successful handshakes keep only client_max_version, client_sni and ja4.",
    )
    max_pending_handshakes: int = _setting(
        512,
        "Connections allowed mid-handshake at once; more wait in the listen backlog.",
        low=1,
    )
    #: When set, only ``api:<api_key>`` is accepted; otherwise any key is, but one must be sent.
    api_key: str | None = _setting(
        None,
        "Accept only api:<this key>. Unset: any key is accepted, but one must be sent.",
        secret=True,
    )
    #: When non-empty, sends to any other domain get Mailgun's ``Domain not found``.
    domains: frozenset[str] = _setting(
        frozenset(),
        "Sending domain to accept (repeatable). Unset: every domain is accepted; set: "
        "others get Mailgun's 404 'Domain not found'.",
        flag="--domain",
        env="DOMAIN",
    )
    max_message_size: int = _setting(
        DEFAULT_MAX_MESSAGE_SIZE,
        "Largest request body accepted (bytes, or with a KiB/MiB suffix); larger ones get 413.",
        kind="size",
        shown_default="25MiB",
    )
    #: Whether accepted messages get ``delivered`` events (test-mode messages never do).
    deliver: bool = _setting(
        True, "Whether accepted messages get 'delivered' events (test-mode ones never do)."
    )
    #: Keep at most this many messages (oldest evicted, and counted); None: no limit.
    max_messages: int = _setting(
        5000,
        "Keep at most this many messages; older ones are evicted and counted. 0: keep all.",
        low=0,
    )
    #: SMTP submission with STARTTLS (Mailgun's 587/2525); None: off.
    smtp_port: int | None = _setting(
        None,
        "Also accept mail over SMTP here: STARTTLS required (TLS 1.2+ as on HTTPS, each "
        "attempt in the handshake log), then AUTH. 0 picks a free port. Unset: off.",
        low=0,
        high=65535,
    )
    #: SMTP with implicit TLS (Mailgun's 465); None: off.
    smtps_port: int | None = _setting(
        None,
        "Also accept mail over SMTP with implicit TLS here (TLS 1.2+, logged). 0 picks a "
        "free port. Unset: off.",
        low=0,
        high=65535,
    )
    #: The only SMTP login accepted (with --smtp-password); None: domain credentials, or any.
    smtp_login: str | None = _setting(
        None,
        "The only SMTP login accepted (with --smtp-password). Unset: a domain's SMTP "
        "credentials, and any password for a domain that has none.",
    )
    smtp_password: str | None = _setting(None, "The password of --smtp-login.", secret=True)
    #: An SMTP mail catcher each delivered copy is handed to; None: none.
    relay: str | None = _setting(
        None,
        "smtp://HOST:PORT of a mail catcher (Mailpit, MailHog...): each copy mockgun "
        "delivers (after templates, batches and lists; not suppressed or test-mode ones) is "
        "also sent there over SMTP, the result recorded on the message.",
        kind="relay",
    )
    #: Where state survives restarts (SQLite); None: everything stays in memory.
    data_dir: Path | None = _setting(
        None,
        "Keep messages, events, templates, suppressions, lists, routes, domains, keys, fault "
        "rules and webhooks in an SQLite database in this folder, restored on start (a send "
        "answered 200 survives a crash). Unset: everything stays in memory.",
    )
    #: Keep at most this many events (Mailgun keeps events longer than messages); 0: all.
    max_events: int = _setting(
        50000,
        "Keep at most this many events; older ones are evicted and counted in "
        "/mockgun/health (ten per kept message: events outlive messages, as at Mailgun). "
        "0: keep all.",
        low=0,
    )
    #: A second TLS port serving a certificate no client should accept; None: off.
    canary_port: int | None = _setting(
        None,
        "Also listen here with a certificate no client should accept (another CA, host "
        "name canary.invalid): any request that arrives proves the client skips verification.",
        low=0,
        high=65535,
    )
    #: ``EVENT=URL`` webhooks for every domain (more per domain through the webhooks API).
    webhooks: tuple[str, ...] = _setting(
        (),
        "EVENT=URL: POST each EVENT (delivered, permanent_fail, opened, ...) to URL, signed "
        "as Mailgun does, for every domain (repeatable; space-separated in the variable).",
        flag="--webhook",
        env="WEBHOOK",
        kind="webhook",
    )
    #: Mailgun's retry schedule for route POSTs is divided by this.
    inbound_retry_scale: float = _setting(
        1200.0,
        "Route POSTs (forward() to a URL, store() notifications) are retried on Mailgun's "
        "schedule (10 min, 10 min, 15 min, ... 4 h) divided by this (1200: 0.5 s, 0.5 s, "
        "0.75 s, ... 12 s; 1: the real schedule).",
        low=1,
        high=1_000_000,
    )
    #: The key webhooks are signed with; None: a random one, printed at start.
    webhook_signing_key: str | None = _setting(
        None,
        "The key webhooks are signed with (HMAC-SHA256). Default: a random one, printed.",
        secret=True,
    )
    #: A CA file to verify https webhook URLs with, besides the system's trust store.
    webhook_ca: Path | None = _setting(
        None,
        "A CA file to verify https webhook URLs with, besides the system's trust store.",
        kind="file",
    )
    #: Fault rules in force from the start (see mockgun.faults for the syntax).
    faults: tuple[str, ...] = _setting(
        (),
        "A fault rule, e.g. '429 to=*@example.com times=2' (repeatable; the variable takes "
        "rules separated by ';'). See docs/faults-outcomes-webhooks.md.",
        flag="--fault",
        env="FAULT",
        kind="fault",
    )
    event_loop: EventLoop = _setting(
        "auto", "auto: uvloop when installed (pip install 'mockgun[uvloop]'), else asyncio."
    )
    #: Seconds that in-flight requests get to finish after SIGTERM/SIGINT.
    shutdown_timeout: float = _setting(
        1.5, "Seconds in-flight requests get to finish after SIGTERM/SIGINT.", low=0
    )

    def __post_init__(self) -> None:
        for name, allowed in (
            ("tls_max", get_args(TlsMax)),
            ("ciphers", get_args(CipherProfile)),
            ("handshake_log_detail", get_args(LogDetail)),
            ("event_loop", get_args(EventLoop)),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        if self.max_message_size <= 0:
            raise ValueError("max_message_size must be positive")

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> Config:
        """A config from raw option values (the CLI's): repeated names may be comma- or
        space-separated, domains are compared in lower case, an empty key means none."""
        params = dict(values)
        if "hostnames" in params:
            params["hostnames"] = split_names(params["hostnames"])
        if "domains" in params:
            params["domains"] = frozenset(d.lower() for d in split_names(params["domains"]))
        for secret in ("api_key", "webhook_signing_key", "smtp_login", "smtp_password"):
            if secret in params:
                params[secret] = params[secret] or None
        return cls(**params)

    def domain_allowed(self, domain: str) -> bool:
        return not self.domains or domain.lower() in self.domains


def settings() -> list[tuple[str, Any, Setting]]:
    """``(name, default, setting)`` of every field, in declaration order."""
    return [(f.name, f.default, f.metadata["setting"]) for f in fields(Config)]


def split_names(values: Iterable[str]) -> tuple[str, ...]:
    """Flatten repeated options whose values may also be comma- or space-separated."""
    return tuple(n for v in values for n in re.split(r"[,\s]+", v) if n)


DEFAULT = Config()
