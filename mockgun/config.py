"""What a running mockgun was asked to be: one immutable value shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Mailgun's documented message limit; requests above ``max_message_size`` get a 413.
DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024
DEFAULT_PORT = 8443
DEFAULT_HOST = "127.0.0.1"
DEFAULT_CERTS_DIR = Path("certs")
DEFAULT_HANDSHAKE_LOG = "mockgun-handshakes.jsonl"
TLS_MAX_CHOICES = ("1.2", "1.3")


@dataclass(frozen=True)
class Config:
    """Settings for one server. The CLI builds it from flags and ``MOCKGUN_*`` variables."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    certs_dir: Path = DEFAULT_CERTS_DIR
    hostnames: tuple[str, ...] = ()
    tls_max: str = "1.3"
    #: Path of the JSON-lines handshake log, or ``"-"`` for standard output.
    handshake_log: str = DEFAULT_HANDSHAKE_LOG
    #: When set, only ``api:<api_key>`` is accepted; otherwise any key is, but one must be sent.
    api_key: str | None = field(default=None, repr=False)
    #: When non-empty, sends to any other domain get Mailgun's ``Domain not found``.
    domains: frozenset[str] = frozenset()
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    #: Whether accepted messages get ``delivered`` events (test-mode messages never do).
    deliver: bool = True
    #: Keep at most this many messages (oldest evicted, and counted); None: no limit.
    max_messages: int | None = None
    #: Keep at most this many events (Mailgun keeps events longer than messages); None: all.
    max_events: int | None = None
    #: Seconds that in-flight requests get to finish after SIGTERM/SIGINT.
    shutdown_timeout: float = 1.5
    #: Seconds from accept to a finished handshake (peeking at the hello included).
    handshake_timeout: float = 10.0
    #: A second TLS port serving a certificate no client should accept; None: off.
    canary_port: int | None = None
    #: ``EVENT=URL`` webhooks for every domain (more per domain through the webhooks API).
    webhooks: tuple[str, ...] = ()
    #: The key webhooks are signed with; None: a random one, printed at start.
    webhook_signing_key: str | None = field(default=None, repr=False)
    #: A CA file to verify https webhook URLs with, besides the system's trust store.
    webhook_ca: Path | None = None
    #: Fault rules in force from the start (see mockgun.faults for the syntax).
    faults: tuple[str, ...] = ()
    #: Seconds a client gets to send a whole request: the headers of the first request after
    #: the handshake, and any request's body. Slower clients are cut off (408 for a body).
    request_timeout: float = 30.0
    #: Connections allowed to be mid-handshake at once; more are refused and logged.
    max_pending_handshakes: int = 512
    #: ``"full"``: every line carries the client's offer; ``"brief"``: only failed ones do.
    handshake_log_detail: str = "full"

    def __post_init__(self) -> None:
        if self.tls_max not in TLS_MAX_CHOICES:
            raise ValueError(f"tls_max must be one of {TLS_MAX_CHOICES}, not {self.tls_max!r}")
        if self.handshake_log_detail not in ("full", "brief"):
            raise ValueError("handshake_log_detail must be 'full' or 'brief'")
        if self.max_message_size <= 0:
            raise ValueError("max_message_size must be positive")

    def domain_allowed(self, domain: str) -> bool:
        return not self.domains or domain.lower() in self.domains
