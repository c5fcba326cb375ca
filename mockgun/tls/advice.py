"""What went wrong with an attempt, as a class, and the one line of advice for each class.

The report groups refused and failed attempts by class and says what to change: the runtime's
own switch for legacy TLS, the client's own option for trusting ``ca.pem``, ``--hostname`` for
a name the certificate lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .report import is_legacy

ADVICE = {
    "legacy": (
        "upgrade the client's TLS to 1.2+: .NET: ServicePointManager.SecurityProtocol = "
        "SecurityProtocolType.Tls12 (or target .NET 4.7+ and leave it to the OS); Java: "
        "-Djdk.tls.client.protocols=TLSv1.2,TLSv1.3 (Java 8u261+ has it on by default); "
        "PHP/curl: CURLOPT_SSLVERSION = CURL_SSLVERSION_TLSv1_2; Python, Ruby, Node, curl: "
        "a build on OpenSSL 1.0.1 or newer"
    ),
    "no_shared_cipher": (
        "the client offers no TLS 1.2 suite this endpoint accepts: enable ECDHE with AES-GCM "
        "or ChaCha20 in the client; to reproduce an endpoint that still takes CBC suites, "
        "serve with --ciphers compat"
    ),
    "fallback": (
        "the client retried at a lower TLS version after a failed first attempt "
        "(TLS_FALLBACK_SCSV): the attempt just before this one says why that failed"
    ),
    "certificate": (
        "the client does not trust mockgun's certificate: trust certs/ca.pem with the client's "
        "own option (curl --cacert, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, "
        "Java: keytool -importcert); if it connects by another name, serve with --hostname NAME"
    ),
    "name_not_on_certificate": (
        "the client asked for a host name the certificate does not cover and went on anyway: "
        "it does not check host names, so a real server's name mismatch would pass unnoticed; "
        "turn host-name checking on (and serve with --hostname NAME for that name)"
    ),
    "plain_http": "the client spoke plain HTTP to the TLS port: use https:// in its base URL",
    "gave_up": (
        "the client connected and went quiet or away before finishing the handshake: check its "
        "timeouts and proxy settings (port scanners and load balancers' probes do this too)"
    ),
    "insecure": (
        "the client accepted a certificate it should have refused (the canary port): turn "
        "certificate verification back on"
    ),
    "other": "see the attempt's error; `openssl s_client -connect HOST:PORT` shows the server side",
}
#: How each class reads as a heading.
TITLES = {
    "legacy": "legacy TLS (1.1 or older)",
    "no_shared_cipher": "no cipher suite in common",
    "fallback": "fallback retries",
    "certificate": "certificate not trusted",
    "name_not_on_certificate": "host names not checked",
    "plain_http": "plain HTTP on the TLS port",
    "gave_up": "timed out or closed",
    "insecure": "certificate checks off",
    "other": "other failures",
}


def failure_class(record: Mapping[str, Any]) -> str | None:
    """The class of a refused or failed attempt, or of a near miss (``None`` for a clean
    success)."""
    outcome = record.get("outcome")
    if outcome == "ok":
        return "name_not_on_certificate" if record.get("warning") else None
    if is_legacy(record):
        return "legacy"
    if outcome == "insecure":
        return "insecure"
    if outcome == "not_tls":
        return "plain_http"
    if outcome in ("timeout", "closed"):
        return "gave_up"
    alert, error = record.get("alert_sent"), str(record.get("error", ""))
    if "no cipher suite in common" in error:
        return "no_shared_cipher"
    if alert == "inappropriate_fallback" or "TLS_FALLBACK_SCSV" in error:
        return "fallback"
    if "refused mockgun's certificate" in error:
        return "certificate"
    return "other"
