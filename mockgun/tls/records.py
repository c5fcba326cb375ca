"""The handshake-log line: its type, and the only functions that make one.

One JSON object per TLS handshake attempt is the contract CI jobs parse, so its keys
are declared here once (:class:`HandshakeRecord`, with a comment per key), checked
by ``mypy --strict`` wherever a record is built or read, and published as a JSON
Schema in ``docs/handshake-log.schema.json`` (a test holds the two equal). Keys are
only ever added, never renamed or removed.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Literal, TypedDict, get_args

from ..clock import now_rfc3339
from .clienthello import ClientHello
from .connections import ConnectionInfo

#: What became of an attempt:
#: ``ok`` (a TLS session; aiohttp took it), ``rejected`` (the client's versions are too old,
#: or none is in common), ``failed`` (any other handshake failure),
#: ``not_tls`` (the first bytes were not a ClientHello), ``timeout`` (no hello or no finished
#: handshake in time), ``closed`` (the client went away first), ``insecure`` (a request
#: arrived on the canary port: the client does not verify certificates).
Outcome = Literal["ok", "rejected", "failed", "not_tls", "timeout", "closed", "insecure"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


class _Always(TypedDict):
    #: When the connection was accepted (RFC 3339, UTC, milliseconds, ``Z``).
    ts: str
    #: Counts connections from 1 across every port of one server; requests carry it too.
    conn_id: int
    #: The client's address and port, ``1.2.3.4:5678`` or ``[::1]:5678``.
    peer: str
    outcome: Outcome


class HandshakeRecord(_Always, total=False):
    """One line of the handshake log. Keys other than the four above appear when known."""

    #: Which server start wrote the line (``20261203T104512Z-3fa29c``: the start time, then a
    #: random part); set on every line as it is written, so that reruns appending to one log
    #: can be told apart (``mockgun handshakes --run``).
    run: str
    #: The port and protocol of an SMTP attempt (``smtp:587 starttls``, ``smtps:465``); absent
    #: for the HTTPS port.
    listener: str
    #: Set on attempts at the canary port.
    canary: bool
    #: The highest version the client offered (``TLSv1.0`` ... ``TLSv1.3``, ``SSLv2``).
    client_max_version: str
    #: Every version offered, in the client's order.
    client_versions: list[str]
    #: Cipher suites offered, by OpenSSL name where it has one, else by IANA name (``0x....``
    #: only for values IANA never assigned); at most :data:`MAX_LISTED` of them.
    client_ciphers: list[str]
    #: Key-exchange groups offered (``x25519``, ``secp256r1``, ``X25519MLKEM768``, ...), by
    #: IANA name; at most :data:`MAX_LISTED`.
    client_groups: list[str]
    #: How many more suites the client offered than ``client_ciphers`` lists (when it is cut).
    client_ciphers_omitted: int
    #: ALPN protocols offered.
    client_alpn: list[str]
    #: The server name the client asked for (SNI).
    client_sni: str | None
    #: JA3 and JA4 fingerprints of the ClientHello.
    ja3: str
    ja4: str | None
    #: Set on mockgun's own health checks (left out of the report).
    healthcheck: bool
    #: Why the attempt did not succeed, in words.
    error: str
    #: The TLS alert mockgun sent before closing a refused attempt, e.g. ``protocol_version``,
    #: ``handshake_failure``, ``inappropriate_fallback``, ``decode_error``.
    alert_sent: str
    #: Set when the hello was too long to inspect (over 16 KiB): its length in bytes. OpenSSL
    #: still decides; the ``client_*`` keys are then missing.
    client_hello_bytes: int
    #: What was negotiated (``ok``; ``tls_version`` and ``sni`` also on ``insecure``).
    tls_version: str | None
    cipher: str | None
    sni: str | None
    alpn: str | None
    #: Whether a TLS session was resumed.
    resumed: bool
    #: On ``ok``: a near miss, e.g. the client asked (SNI) for a name the certificate does not
    #: cover and went on: it does not check host names.
    warning: str
    #: Milliseconds from accept to the end of the attempt.
    duration_ms: float
    #: The request that proved an ``insecure`` client.
    method: str
    path: str
    #: The User-Agent of the first request on the connection (``ok``, ``insecure``; at most
    #: 200 characters): what the report names the client by.
    user_agent: str | None


def new_run_id() -> str:
    """A run id: sortable by start time, unique across starts in the same second."""
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def new_attempt(conn_id: int, peer: str, *, canary: bool) -> HandshakeRecord:
    """The record of a connection just accepted. Its outcome is ``failed`` until the
    attempt says otherwise (it always does: this is only what a bug would leave)."""
    record: HandshakeRecord = {
        "ts": now_rfc3339(),
        "conn_id": conn_id,
        "peer": peer,
        "outcome": "failed",
    }
    if canary:
        record["canary"] = True
    return record


def end(record: HandshakeRecord, outcome: Outcome, error: str) -> None:
    """An attempt that did not end in a session: what became of it, and why."""
    record["outcome"] = outcome
    record["error"] = error


#: What one line keeps of a client's lists: real clients offer 5-60 suites and a few ALPN
#: protocols, a hostile hello up to 8,000 suites (a line of 160 KB, 100,000 of them in memory).
MAX_LISTED = 100
#: Characters kept of one ALPN value or server name (DNS names have at most 253).
MAX_NAME = 255


def add_offer(record: HandshakeRecord, hello: ClientHello) -> None:
    """The client's offer and fingerprints, from its ClientHello (lists and names bounded)."""
    offer = hello.summary()
    ciphers = offer["client_ciphers"]
    record["client_max_version"] = offer["client_max_version"]
    record["client_versions"] = offer["client_versions"][:MAX_LISTED]
    record["client_ciphers"] = ciphers[:MAX_LISTED]
    if len(ciphers) > MAX_LISTED:
        record["client_ciphers_omitted"] = len(ciphers) - MAX_LISTED
    record["client_groups"] = offer["client_groups"][:MAX_LISTED]
    record["client_alpn"] = [value[:MAX_NAME] for value in offer["client_alpn"][:MAX_LISTED]]
    sni = offer["client_sni"]
    record["client_sni"] = sni[:MAX_NAME] if sni is not None else None
    record["ja3"] = offer["ja3"]
    record["ja4"] = offer["ja4"]


def add_session(record: HandshakeRecord, info: ConnectionInfo, *, resumed: bool) -> None:
    """What a successful handshake negotiated."""
    record["outcome"] = "ok"
    record["tls_version"] = info.tls_version
    record["cipher"] = info.cipher
    record["sni"] = info.sni
    record["alpn"] = info.alpn
    record["resumed"] = resumed


#: Keys of the client's offer that a brief log leaves out of successful handshakes.
BRIEF_DROPS = ("client_versions", "client_ciphers", "client_groups", "client_alpn", "ja3")


def make_brief(record: HandshakeRecord) -> None:
    for key in BRIEF_DROPS:
        record.pop(key, None)  # type: ignore[misc]


def insecure(
    info: ConnectionInfo, *, method: str, path: str, user_agent: str | None
) -> HandshakeRecord:
    """The record of a request on the canary port: proof the client skips verification."""
    return {
        "ts": now_rfc3339(),
        "conn_id": info.conn_id,
        "peer": info.peer,
        "outcome": "insecure",
        "canary": True,
        "tls_version": info.tls_version,
        "sni": info.sni,
        "ja4": info.ja4,
        "method": method,
        "path": path,
        "user_agent": user_agent,
        "error": "the client accepted a certificate from an unknown CA for another host "
        "name, and sent an HTTP request: it does not verify TLS certificates",
    }
