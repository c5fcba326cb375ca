"""What OpenSSL would answer a ClientHello, asked without a socket; and the alerts it sends.

A refused client should read the error it would read against a real server: the alert
``openssl s_server`` sends before closing (``protocol_version``, ``handshake_failure``,
``inappropriate_fallback``, ``decode_error``, ...). Two things stand in the way:

- asyncio's TLS transport closes a failed handshake without flushing the alert OpenSSL
  wrote (``SSLProtocol._fatal_error`` force-closes the socket), so the client sees EOF;
- mockgun refuses some hellos itself, before OpenSSL sees them.

Both are solved the same way: :func:`openssl_answer` feeds the hello bytes the listener
peeked at into a throw-away server ``SSLObject`` on memory BIOs, with the listening
context. Same library, same context, same bytes: the same answer, alert included, as the
real handshake gave or would give. It costs a handshake's first step, and runs only on
the paths that refuse.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

#: TLS alert descriptions (RFC 8446 6, RFC 5246 7.2, RFC 7507), by wire value.
ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}
_ALERT = 0x15
PROTOCOL_VERSION = 70


def alert_name(description: int) -> str:
    return ALERT_NAMES.get(description, f"alert_{description}")


def alert_record(description: int, record_version: int = 0x0303) -> bytes:
    """A fatal alert record; old stacks want it in their own record version."""
    version = record_version if 0x0300 <= record_version <= 0x0303 else 0x0301
    return bytes([_ALERT, version >> 8, version & 0xFF, 0, 2, 2, description])


def first_alert(flight: bytes) -> str | None:
    """The name of the first alert in a server flight (plaintext records), if any."""
    pos = 0
    while pos + 5 <= len(flight):
        length = int.from_bytes(flight[pos + 3 : pos + 5], "big")
        if flight[pos] == _ALERT and length >= 2 and pos + 7 <= len(flight):
            return alert_name(flight[pos + 6])
        pos += 5 + length
    return None


@dataclass(frozen=True)
class Answer:
    """OpenSSL's verdict on one ClientHello."""

    #: The hello is acceptable so far (OpenSSL answered it, or wants more bytes).
    accepted: bool
    #: What OpenSSL would send back on refusal: its alert record (may be empty).
    reply: bytes = b""
    #: OpenSSL's reason code on refusal, e.g. ``NO_SHARED_CIPHER``.
    reason: str = ""

    @property
    def alert(self) -> str | None:
        return first_alert(self.reply)


def openssl_answer(ctx: ssl.SSLContext, hello_bytes: bytes) -> Answer:
    """Run the server side of a handshake on ``hello_bytes`` alone, and report the outcome."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    probe = ctx.wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(hello_bytes)
    try:
        probe.do_handshake()
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return Answer(accepted=True)
    except ssl.SSLError as exc:
        return Answer(accepted=False, reply=outgoing.read(), reason=exc.reason or str(exc))
    return Answer(accepted=True)  # not reached: a server always waits for the client's reply
