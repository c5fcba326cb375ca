"""The TLS policy of the listening port: TLS 1.2 or newer, and the cipher suites of a profile.

This module is the single place that decides what a client may negotiate. The
floor is fixed at TLS 1.2 — no option lowers it, because refusing TLS 1.0/1.1
is the reason mockgun exists. Only the ceiling is configurable, so that a
strictly TLS-1.2-only endpoint (like Mailgun's 2021 test endpoint) can be had.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
#: A client offering this ALPN protocol is mockgun's own health check: the log marks it
#: and the report leaves it out (``mockgun healthcheck`` offers it before ``http/1.1``).
HEALTHCHECK_ALPN = "mockgun-healthcheck"

#: The TLS 1.2 suites of each ``--ciphers`` profile (TLS 1.3's are all AEAD and are left at
#: OpenSSL's defaults). TLS 1.0 and 1.1 are refused in every profile.
#:
#: ``modern``: Mozilla's "intermediate" suites without the DHE ones: ECDHE key exchange with
#: AES-GCM or ChaCha20-Poly1305, for ECDSA and RSA certificates.
#: ``compat``: also the CBC and RSA-key-exchange suites that many production APIs (and
#: cloud load balancers' long-standing default policies) still accept over TLS 1.2.
CIPHER_PROFILES: dict[str, tuple[str, ...]] = {
    "modern": (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
}
CIPHER_PROFILES["compat"] = (
    *CIPHER_PROFILES["modern"],
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA256",
    "AES256-SHA256",
    "AES128-SHA",
    "AES256-SHA",
)
#: The default profile's suites, as an OpenSSL cipher string.
TLS12_CIPHERS = ":".join(CIPHER_PROFILES["modern"])

_MAX_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def version_label(tls_max: str) -> str:
    """A human label for the accepted range, e.g. ``"TLS 1.2-1.3"``."""
    return "TLS 1.2 only" if tls_max == "1.2" else f"TLS 1.2-{tls_max}"


def server_context(
    chains: Sequence[tuple[Path, Path]], *, tls_max: str = "1.3", ciphers: str = "modern"
) -> ssl.SSLContext:
    """Build the listening context from (certificate chain, key) pairs, one per key type.

    ``tls_max`` is ``"1.2"`` or ``"1.3"``; ``ciphers`` names a :data:`CIPHER_PROFILES` entry.
    """
    try:
        maximum = _MAX_VERSIONS[tls_max]
    except KeyError:
        raise ValueError(f"tls_max must be 1.2 or 1.3, not {tls_max!r}") from None
    if ciphers not in CIPHER_PROFILES:
        raise ValueError(f"ciphers must be one of {', '.join(CIPHER_PROFILES)}, not {ciphers!r}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MINIMUM_VERSION
    ctx.maximum_version = maximum
    ctx.set_ciphers(":".join(CIPHER_PROFILES[ciphers]))
    # Compression invites CRIME; renegotiation is a DoS lever and nothing here needs it.
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    # Mozilla intermediate: every offered suite is strong, so let clients pick
    # (a client without AES hardware prefers ChaCha20).
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_alpn_protocols(["http/1.1"])
    # One chain per key type: OpenSSL picks, per client, the one its suites and signature
    # algorithms can use (ECDSA when both fit), as production servers with both do.
    for cert_file, key_file in chains:
        ctx.load_cert_chain(cert_file, key_file)
    # A server context never sees a legacy version, whatever was set above.
    assert ctx.minimum_version >= MINIMUM_VERSION
    return ctx


def accepted_versions(tls_max: str) -> frozenset[int]:
    """Wire values of the versions the policy accepts (0x0303 = TLS 1.2, 0x0304 = TLS 1.3)."""
    return frozenset({0x0303} if tls_max == "1.2" else {0x0303, 0x0304})
