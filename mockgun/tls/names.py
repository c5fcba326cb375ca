"""Names for the numbers in a ClientHello: cipher suites and groups.

Suites read like the negotiated ``cipher`` of a log line: OpenSSL's name where this OpenSSL has
one (``ECDHE-RSA-AES128-GCM-SHA256``; TLS 1.3 suites have their IANA names there too), else
the IANA name (``TLS_AES_128_CCM_SHA256``, ``TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256``), and
hex only for values IANA never assigned. The IANA table ships as ``iana-cipher-suites.txt``,
read once on first use.
"""

from __future__ import annotations

import functools
import ssl
from importlib import resources

_SCSV_NAMES = {0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x5600: "TLS_FALLBACK_SCSV"}

#: IANA's "TLS Supported Groups" registry (RFC 8422, 7919, 8446 and the ML-KEM drafts).
GROUP_NAMES = {
    **{
        n + 1: name
        for n, name in enumerate(
            [
                "sect163k1",
                "sect163r1",
                "sect163r2",
                "sect193r1",
                "sect193r2",
                "sect233k1",
                "sect233r1",
                "sect239k1",
                "sect283k1",
                "sect283r1",
                "sect409k1",
                "sect409r1",
                "sect571k1",
                "sect571r1",
                "secp160k1",
                "secp160r1",
                "secp160r2",
                "secp192k1",
                "secp192r1",
                "secp224k1",
                "secp224r1",
                "secp256k1",
                "secp256r1",
                "secp384r1",
                "secp521r1",
                "brainpoolP256r1",
                "brainpoolP384r1",
                "brainpoolP512r1",
                "x25519",
                "x448",
                "brainpoolP256r1tls13",
                "brainpoolP384r1tls13",
                "brainpoolP512r1tls13",
                "GC256A",
                "GC256B",
                "GC256C",
                "GC256D",
                "GC512A",
                "GC512B",
                "GC512C",
                "curveSM2",
            ]
        )
    },
    256: "ffdhe2048",
    257: "ffdhe3072",
    258: "ffdhe4096",
    259: "ffdhe6144",
    260: "ffdhe8192",
    512: "MLKEM512",
    513: "MLKEM768",
    514: "MLKEM1024",
    0x11EB: "SecP256r1MLKEM768",
    0x11EC: "X25519MLKEM768",
    0x11ED: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00",
    0x639A: "SecP256r1Kyber768Draft00",
    0xFF01: "arbitrary_explicit_prime_curves",
    0xFF02: "arbitrary_explicit_char2_curves",
}


@functools.cache
def _iana_suites() -> dict[int, str]:
    text = resources.files(__package__).joinpath("iana-cipher-suites.txt").read_text()
    suites: dict[int, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            value, name = line.split(" ", 1)
            suites[int(value, 16)] = name
    return suites


@functools.cache
def _suite_names() -> dict[int, str]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    openssl = {c["id"] & 0xFFFF: c["name"] for c in ctx.get_ciphers()}
    return {**_iana_suites(), **openssl, **_SCSV_NAMES}


def cipher_name(suite: int) -> str:
    return _suite_names().get(suite, f"0x{suite:04x}")


def group_name(group: int) -> str:
    return GROUP_NAMES.get(group, f"0x{group:04x}")
