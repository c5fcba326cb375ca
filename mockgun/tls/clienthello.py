"""A ClientHello parser: pure Python, no I/O, safe on any input.

The listener peeks at a connection's first bytes and hands them here before
OpenSSL sees them, so that a refused client's offer (versions, ciphers, SNI,
ALPN) and its JA3/JA4 fingerprints can be logged. :func:`parse_client_hello`
copes with hellos split across TCP segments (it says how many bytes it still
needs) and across TLS records, with SSLv2-format hellos, and with GREASE
values, which it drops everywhere (RFC 8701).

Any input either parses, asks for more bytes (:class:`Incomplete`), is too long to
inspect (:class:`TooLarge`), or is refused with :class:`NotTLS` or :class:`MalformedHello`;
nothing else escapes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import TypedDict

from .names import cipher_name, group_name

#: The largest hello the listener inspects (real ones stay under 2 KiB, or a few KiB with
#: large session tickets; post-quantum key shares bring browsers to ~1.8 KiB). A larger one
#: (:class:`TooLarge`) goes to OpenSSL uninspected: it accepts hellos up to 128 KiB.
MAX_HELLO_BYTES = 16 * 1024
_MAX_RECORD = 2**14 + 2048

TLS1_2 = 0x0303
VERSION_NAMES = {
    0x0002: "SSLv2",
    0x0300: "SSLv3",
    0x0301: "TLSv1.0",
    0x0302: "TLSv1.1",
    0x0303: "TLSv1.2",
    0x0304: "TLSv1.3",
}
_JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2"}

EXT_SNI = 0x0000
EXT_GROUPS = 0x000A
EXT_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B

_GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))
_PARSED_EXTENSIONS = frozenset(
    {
        EXT_SNI,
        EXT_GROUPS,
        EXT_POINT_FORMATS,
        EXT_SIGNATURE_ALGORITHMS,
        EXT_ALPN,
        EXT_SUPPORTED_VERSIONS,
    }
)
_HTTP_METHOD = re.compile(rb"^[A-Z]{3,10} ")


class Incomplete(Exception):
    """More bytes are needed; ``needed`` is the total length known to be required so far."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"need {needed} bytes")
        self.needed = needed


class NotTLS(Exception):
    """The bytes are not a TLS handshake at all (plain HTTP, SSH, noise...)."""

    def __init__(self, data: bytes) -> None:
        self.looks_like_http = bool(_HTTP_METHOD.match(data))
        what = "a plain-HTTP request" if self.looks_like_http else "bytes that are not TLS"
        super().__init__(f"the client sent {what} (first bytes {data[:8].hex(' ')})")


class MalformedHello(Exception):
    """It starts like TLS but is not a well-formed ClientHello.

    ``data`` is set by whoever read the bytes: OpenSSL is asked what it would answer.
    """

    data: bytes = b""


class TooLarge(Exception):
    """A ClientHello longer than :data:`MAX_HELLO_BYTES`: well-formed as far as it was read."""

    def __init__(self, length: int) -> None:
        super().__init__(f"a ClientHello of at least {length} bytes")
        self.length = length


def is_grease(value: int) -> bool:
    """GREASE values are 0x0a0a, 0x1a1a, ... 0xfafa: both bytes equal, low nibble 0xa."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def version_name(version: int) -> str:
    return VERSION_NAMES.get(version, f"0x{version:04x}")


class ClientOffer(TypedDict):
    """What a client offered, as the ``client_*`` and fingerprint keys of a log line."""

    client_max_version: str
    client_versions: list[str]
    client_ciphers: list[str]
    client_groups: list[str]
    client_alpn: list[str]
    client_sni: str | None
    ja3: str
    ja4: str


@dataclass(frozen=True)
class ClientHello:
    """What a client offered. Every tuple is in the client's order, GREASE removed."""

    legacy_version: int
    cipher_suites: tuple[int, ...]
    extensions: tuple[int, ...] = ()
    supported_versions: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    point_formats: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    alpn: tuple[str, ...] = ()
    #: The first ALPN value's bytes, as JA4 reads them (``alpn`` is decoded for people).
    first_alpn: bytes = b""
    sni: str | None = None
    sslv2_format: bool = False
    #: Bytes the hello took on the wire (records included).
    wire_length: int = 0

    @property
    def max_version(self) -> int:
        """The highest version offered: from ``supported_versions`` if sent, else the legacy one."""
        return max(self.supported_versions) if self.supported_versions else self.legacy_version

    @property
    def versions(self) -> tuple[int, ...]:
        """Offered versions: the ``supported_versions`` list, or the legacy version alone."""
        return self.supported_versions or (self.legacy_version,)

    def offers_any(self, accepted: frozenset[int]) -> bool:
        """Whether a server accepting exactly ``accepted`` versions can agree with this client."""
        if self.supported_versions:
            return any(v in accepted for v in self.supported_versions)
        # Without the extension a client takes any version up to legacy_version (RFC 5246 E.1),
        # and never TLS 1.3 (RFC 8446 4.2.1).
        return any(v <= self.legacy_version and v < 0x0304 for v in accepted)

    @property
    def ja3(self) -> str:
        return _ja3(
            self.legacy_version,
            self.cipher_suites,
            self.extensions,
            self.groups,
            self.point_formats,
        )

    @property
    def ja4(self) -> str:
        return _ja4(
            self.max_version,
            self.sni is not None or EXT_SNI in self.extensions,
            self.cipher_suites,
            self.extensions,
            self.first_alpn,
            self.signature_algorithms,
        )

    def summary(self) -> ClientOffer:
        """The ``client_*`` keys of a handshake-log line (treat the lists as read-only)."""
        return {
            "client_max_version": version_name(self.max_version),
            "client_versions": _version_names(self.versions),
            "client_ciphers": _cipher_names(self.cipher_suites),
            "client_groups": _group_names(self.groups),
            "client_alpn": list(self.alpn),
            "client_sni": self.sni,
            "ja3": self.ja3,
            "ja4": self.ja4,
        }


# A client sends the same offer on every connection: name it once.
@functools.lru_cache(maxsize=1024)
def _cipher_names(suites: tuple[int, ...]) -> list[str]:
    return [cipher_name(c) for c in suites]


@functools.lru_cache(maxsize=1024)
def _group_names(groups: tuple[int, ...]) -> list[str]:
    return [group_name(g) for g in groups]


@functools.lru_cache(maxsize=256)
def _version_names(versions: tuple[int, ...]) -> list[str]:
    return [version_name(v) for v in versions]


@functools.lru_cache(maxsize=1024)
def _ja3(
    version: int,
    ciphers: tuple[int, ...],
    extensions: tuple[int, ...],
    groups: tuple[int, ...],
    point_formats: tuple[int, ...],
) -> str:
    text = ",".join(
        [
            str(version),
            "-".join(map(str, ciphers)),
            "-".join(map(str, extensions)),
            "-".join(map(str, groups)),
            "-".join(map(str, point_formats)),
        ]
    )
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@functools.lru_cache(maxsize=1024)
def _ja4(
    max_version: int,
    has_sni: bool,
    ciphers: tuple[int, ...],
    extensions: tuple[int, ...],
    first_alpn: bytes,
    signature_algorithms: tuple[int, ...],
) -> str:
    a = (
        "t"
        + _JA4_VERSIONS.get(max_version, "00")
        + ("d" if has_sni else "i")
        + f"{min(len(ciphers), 99):02d}"
        + f"{min(len(extensions), 99):02d}"
        + _ja4_alpn(first_alpn)
    )
    b = _sha12(",".join(f"{c:04x}" for c in sorted(ciphers))) if ciphers else "0" * 12
    exts = ",".join(f"{e:04x}" for e in sorted(extensions) if e not in (EXT_SNI, EXT_ALPN))
    if not exts:
        c = "0" * 12
    else:
        if signature_algorithms:
            exts += "_" + ",".join(f"{s:04x}" for s in signature_algorithms)
        c = _sha12(exts)
    return f"{a}_{b}_{c}"


def _ja4_alpn(raw: bytes) -> str:
    """FoxIO's rule: the first and last characters of the first ALPN value if both are
    alphanumeric, else the first and last hex digits of its bytes (``0xba 0xad`` is ``bd``)."""
    if not raw:
        return "00"
    first, last = raw[0], raw[-1]
    if _alnum(first) and _alnum(last):
        return chr(first) + chr(last)
    hexed = raw.hex()
    return hexed[0] + hexed[-1]


def _alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def parse_client_hello(data: bytes) -> ClientHello:
    """Parse the first bytes of a connection.

    Raises :class:`Incomplete` with the total length needed so far when ``data``
    is a valid prefix, :class:`NotTLS` or :class:`MalformedHello` otherwise.
    """
    if not data:
        raise Incomplete(5)
    if data[0] & 0x80:  # SSLv2 record header: high bit set, then length, then msg type 1
        if len(data) < 3:
            raise Incomplete(3)
        if data[2] == 1:
            return _parse_sslv2(data)
    if data[0] != 0x16:
        raise NotTLS(data)
    body, wire_length = _handshake_message(data)
    try:
        return _parse_hello_body(body, wire_length)
    except (IndexError, ValueError, UnicodeDecodeError, struct.error) as exc:
        raise MalformedHello(f"malformed ClientHello: {exc}") from None


def _handshake_message(data: bytes) -> tuple[bytes, int]:
    """Reassemble the first handshake message from one or more handshake records."""
    fragments = bytearray()
    offset = 0
    needed_body: int | None = None
    while True:
        if len(data) < offset + 5:
            raise Incomplete(offset + 5)
        content_type, major, _minor = data[offset], data[offset + 1], data[offset + 2]
        length = int.from_bytes(data[offset + 3 : offset + 5], "big")
        if content_type != 0x16:
            raise MalformedHello("the ClientHello is interrupted by a non-handshake record")
        if major != 3:
            raise MalformedHello(f"record version {major}.x is not TLS")
        if length == 0 or length > _MAX_RECORD:
            raise MalformedHello(f"record length {length} is out of range")
        end = offset + 5 + length
        if len(data) < end:
            raise Incomplete(end)
        fragments += data[offset + 5 : end]
        offset = end
        if needed_body is None and len(fragments) >= 4:
            if fragments[0] != 1:
                raise MalformedHello(f"first handshake message is type {fragments[0]}, not hello")
            needed_body = int.from_bytes(fragments[1:4], "big")
            if needed_body + 4 > MAX_HELLO_BYTES:
                raise TooLarge(needed_body + 4)
        if needed_body is not None and len(fragments) >= needed_body + 4:
            return bytes(fragments[4 : 4 + needed_body]), offset
        if offset > MAX_HELLO_BYTES:
            raise TooLarge(offset)


class _Reader:
    """Bounds-checked reads; running past the end raises IndexError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise IndexError(
                f"needs {n} bytes at offset {self.pos}, has {len(self.data) - self.pos}"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vector(self, length_bytes: int) -> _Reader:
        return _Reader(self.take(int.from_bytes(self.take(length_bytes), "big")))

    def u16_list(self) -> tuple[int, ...]:
        length = self.u16()
        values = _u16s(self.data, self.pos, length)
        self.take(length)
        return values

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _u16s(buf: bytes, pos: int, length: int) -> tuple[int, ...]:
    if length % 2:
        raise ValueError("odd-length list of 16-bit values")
    values = struct.unpack_from(f">{length // 2}H", buf, pos)
    return tuple([v for v in values if v not in _GREASE])


def _parse_hello_body(body: bytes, wire_length: int) -> ClientHello:
    # Offsets instead of a reader object: this runs once per connection, so it is kept lean.
    # Reading past the end raises IndexError or struct.error, which the caller reports.
    n = len(body)
    legacy_version = (body[0] << 8) | body[1]
    pos = 34 + 1 + body[34]  # version, random, legacy_session_id
    cs_len = (body[pos] << 8) | body[pos + 1]
    pos += 2
    if pos + cs_len > n:
        raise IndexError("cipher suites run past the end")
    ciphers = _u16s(body, pos, cs_len)
    pos += cs_len
    pos += 1 + body[pos]  # compression methods
    if pos > n:
        raise IndexError("compression methods run past the end")
    fields: dict[str, object] = {}
    extensions: list[int] = []
    if pos < n:
        end = pos + 2 + ((body[pos] << 8) | body[pos + 1])
        pos += 2
        if end > n:
            raise IndexError("extensions run past the end")
        while pos < end:
            if pos + 4 > end:
                raise IndexError("truncated extension header")
            ext_type = (body[pos] << 8) | body[pos + 1]
            ext_end = pos + 4 + ((body[pos + 2] << 8) | body[pos + 3])
            if ext_end > end:
                raise IndexError("extension runs past the end")
            if ext_type not in _GREASE:
                extensions.append(ext_type)
                if ext_type in _PARSED_EXTENSIONS:
                    _parse_extension(ext_type, _Reader(body[pos + 4 : ext_end]), fields)
            pos = ext_end
    return ClientHello(
        legacy_version=legacy_version,
        cipher_suites=ciphers,
        extensions=tuple(extensions),
        wire_length=wire_length,
        **fields,  # type: ignore[arg-type]
    )


def _parse_extension(ext_type: int, ext: _Reader, fields: dict[str, object]) -> None:
    if ext_type == EXT_SNI and ext.left:
        entries = ext.vector(2)
        while entries.left:
            kind = entries.u8()
            name = entries.vector(2).data
            if kind == 0:
                fields["sni"] = name.decode("ascii", errors="backslashreplace")
                break
    elif ext_type == EXT_SUPPORTED_VERSIONS:
        raw = ext.vector(1).data
        fields["supported_versions"] = _u16s(raw, 0, len(raw) - len(raw) % 2)
    elif ext_type == EXT_GROUPS:
        fields["groups"] = ext.u16_list()
    elif ext_type == EXT_POINT_FORMATS:
        fields["point_formats"] = tuple(ext.vector(1).data)
    elif ext_type == EXT_SIGNATURE_ALGORITHMS:
        fields["signature_algorithms"] = ext.u16_list()
    elif ext_type == EXT_ALPN:
        protocols = ext.vector(2)
        values: list[bytes] = []
        while protocols.left:
            values.append(protocols.vector(1).data)
        fields["alpn"] = tuple(v.decode("utf-8", errors="backslashreplace") for v in values)
        fields["first_alpn"] = values[0] if values else b""


def _parse_sslv2(data: bytes) -> ClientHello:
    """An SSLv2-format CLIENT-HELLO (RFC 6101 appendix E), as very old clients still send."""
    length = ((data[0] & 0x7F) << 8) | data[1]
    if length < 9:
        raise MalformedHello("SSLv2 hello too short")
    if len(data) < 2 + length:
        raise Incomplete(2 + length)
    r = _Reader(data[2 : 2 + length])
    try:
        r.u8()  # msg type, checked by the caller
        version = r.u16()
        spec_len, session_len, challenge_len = r.u16(), r.u16(), r.u16()
        if spec_len % 3:
            raise ValueError("cipher spec list is not a multiple of 3 bytes")
        specs = r.take(spec_len)
        r.take(session_len)
        r.take(challenge_len)
    except (IndexError, ValueError) as exc:
        raise MalformedHello(f"malformed SSLv2 hello: {exc}") from None
    ciphers = tuple(
        int.from_bytes(specs[i + 1 : i + 3], "big")
        for i in range(0, spec_len, 3)
        if specs[i] == 0 and not is_grease(int.from_bytes(specs[i + 1 : i + 3], "big"))
    )
    return ClientHello(
        legacy_version=version,
        cipher_suites=ciphers,
        sslv2_format=True,
        wire_length=2 + length,
    )
