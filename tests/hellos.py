"""ClientHellos for tests: real ones from Python's ssl (no network), and hand-built ones."""

from __future__ import annotations

import contextlib
import ssl
import struct
from collections.abc import Iterable


def memory_bio_hello(
    context: ssl.SSLContext | None = None, server_hostname: str | None = "localhost"
) -> bytes:
    """The exact bytes a Python client would send first, produced without a socket."""
    ctx = context or ssl.create_default_context()
    if server_hostname is None:
        ctx.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def _vec(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _u16s(values: Iterable[int]) -> bytes:
    return b"".join(struct.pack(">H", v) for v in values)


def build_hello(
    *,
    ciphers: Iterable[int],
    extensions: Iterable[tuple[int, bytes]],
    legacy_version: int = 0x0303,
    record_version: int = 0x0301,
    record_size: int = 2**14,
) -> bytes:
    """A ClientHello with exactly these ciphers and extensions, split into records of
    at most ``record_size`` bytes of handshake data."""
    body = (
        struct.pack(">H", legacy_version)
        + bytes(32)
        + _vec(b"", 1)
        + _vec(_u16s(ciphers), 2)
        + _vec(b"\x00", 1)
        + _vec(b"".join(struct.pack(">H", t) + _vec(d, 2) for t, d in extensions), 2)
    )
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    records = b""
    for i in range(0, len(message), record_size):
        chunk = message[i : i + record_size]
        records += b"\x16" + struct.pack(">H", record_version) + _vec(chunk, 2)
    return records


def sni_ext(name: str) -> bytes:
    return _vec(b"\x00" + _vec(name.encode(), 2), 2)


def alpn_ext(*protocols: str | bytes) -> bytes:
    raw = [p.encode() if isinstance(p, str) else p for p in protocols]
    return _vec(b"".join(_vec(p, 1) for p in raw), 2)


def versions_ext(*versions: int) -> bytes:
    return _vec(_u16s(versions), 1)


def u16_list_ext(*values: int) -> bytes:
    return _vec(_u16s(values), 2)


# The JA4 specification's example (FoxIO-LLC/ja4, technical_details/JA4.md): a Chrome hello
# with these ciphers, extensions and signature algorithms, in this order, gives
# JA4 t13d1516h2_8daaf6152771_e5627efa2ab1. GREASE values are added to prove they are ignored.
JA4_SPEC_CIPHERS = [
    0x1A1A,
    0x1301,
    0x1302,
    0x1303,
    0xC02B,
    0xC02F,
    0xC02C,
    0xC030,
    0xCCA9,
    0xCCA8,
    0xC013,
    0xC014,
    0x009C,
    0x009D,
    0x002F,
    0x0035,
]
JA4_SPEC_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
JA4_SPEC_EXTENSION_ORDER = [
    0x2A2A,
    0x001B,
    0x0000,
    0x0033,
    0x0010,
    0x4469,
    0x0017,
    0x002D,
    0x000D,
    0x0005,
    0x0023,
    0x0012,
    0x002B,
    0xFF01,
    0x000B,
    0x000A,
    0x0015,
    0x3A3A,
]


def ja4_spec_hello(record_size: int = 2**14) -> bytes:
    data = {
        0x0000: sni_ext("example.com"),
        0x0010: alpn_ext("h2", "http/1.1"),
        0x000D: u16_list_ext(*JA4_SPEC_SIGALGS),
        0x002B: versions_ext(0x4A4A, 0x0304, 0x0303),
        0x000A: u16_list_ext(0x5A5A, 0x001D, 0x0017, 0x0018),
        0x000B: b"\x01\x00",
    }
    return build_hello(
        ciphers=JA4_SPEC_CIPHERS,
        extensions=[(t, data.get(t, b"")) for t in JA4_SPEC_EXTENSION_ORDER],
        record_size=record_size,
    )
