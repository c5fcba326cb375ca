"""The ClientHello parser on real, hand-built, split, mutated and random input."""

from __future__ import annotations

import contextlib
import hashlib
import ssl

import pytest
from hellos import (
    JA4_SPEC_CIPHERS,
    alpn_ext,
    build_hello,
    ja4_spec_hello,
    memory_bio_hello,
    sni_ext,
    u16_list_ext,
    versions_ext,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockgun.tls.clienthello import (
    ClientHello,
    Incomplete,
    MalformedHello,
    NotTLS,
    TooLarge,
    is_grease,
    parse_client_hello,
)

PARSE_ERRORS = (Incomplete, NotTLS, MalformedHello, TooLarge)


def client_context(version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
        if version < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


REAL_HELLOS = {
    name: memory_bio_hello(client_context(version))
    for name, version in [
        ("TLSv1.0", ssl.TLSVersion.TLSv1),
        ("TLSv1.1", ssl.TLSVersion.TLSv1_1),
        ("TLSv1.2", ssl.TLSVersion.TLSv1_2),
        ("TLSv1.3", ssl.TLSVersion.TLSv1_3),
    ]
}


def test_ja4_spec_sample_gives_the_documented_fingerprint() -> None:
    hello = parse_client_hello(ja4_spec_hello())
    assert hello.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert len(hello.cipher_suites) == 15  # GREASE dropped
    assert hello.sni == "example.com" and hello.alpn == ("h2", "http/1.1")
    assert hello.max_version == 0x0304


def test_ja3_follows_its_definition() -> None:
    hello = parse_client_hello(ja4_spec_hello())
    ciphers = "-".join(str(c) for c in JA4_SPEC_CIPHERS if not is_grease(c))
    extensions = "27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21"
    text = f"771,{ciphers},{extensions},29-23-24,0"
    assert hello.ja3 == hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@pytest.mark.parametrize("record_size", [1, 7, 50, 300])
def test_hello_split_across_tls_records(record_size: int) -> None:
    hello = parse_client_hello(ja4_spec_hello(record_size=record_size))
    assert hello.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"


@pytest.mark.parametrize("name", REAL_HELLOS)
def test_every_prefix_of_a_real_hello_asks_for_more_bytes(name: str) -> None:
    data = REAL_HELLOS[name]
    for cut in range(len(data)):
        with pytest.raises(Incomplete) as info:
            parse_client_hello(data[:cut])
        assert cut < info.value.needed <= len(data)
    assert parse_client_hello(data).wire_length == len(data)


@pytest.mark.parametrize("name", REAL_HELLOS)
def test_real_hellos_report_what_the_client_offers(name: str) -> None:
    hello = parse_client_hello(REAL_HELLOS[name])
    summary = hello.summary()
    assert summary["client_max_version"] == name
    assert summary["client_sni"] == "localhost"
    assert summary["ja4"].startswith(
        "t" + {"TLSv1.0": "10", "TLSv1.1": "11"}.get(name, name[-3:].replace(".", ""))
    )
    ciphers = summary["client_ciphers"]
    assert isinstance(ciphers, list) and ciphers and all(isinstance(c, str) for c in ciphers)
    assert "TLS_EMPTY_RENEGOTIATION_INFO_SCSV" in ciphers


def test_alpn_and_no_sni() -> None:
    ctx = client_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    hello = parse_client_hello(memory_bio_hello(ctx, server_hostname=None))
    assert hello.alpn == ("h2", "http/1.1") and hello.sni is None
    assert hello.ja4[3] == "i" and hello.ja4[8:10] == "h2"


def test_grease_is_ignored_everywhere() -> None:
    plain = build_hello(
        ciphers=[0x1301, 0xC02B],
        extensions=[(0x0000, sni_ext("a.test")), (0x002B, versions_ext(0x0304, 0x0303))],
    )
    greased = build_hello(
        ciphers=[0x0A0A, 0x1301, 0xFAFA, 0xC02B],
        extensions=[
            (0x1A1A, b""),
            (0x0000, sni_ext("a.test")),
            (0x002B, versions_ext(0x2A2A, 0x0304, 0x0303)),
            (0xDADA, b"\x00"),
        ],
    )
    a, b = parse_client_hello(plain), parse_client_hello(greased)
    assert (a.ja3, a.ja4, a.versions) == (b.ja3, b.ja4, b.versions)


def test_legacy_version_alone_when_supported_versions_is_absent() -> None:
    hello = parse_client_hello(build_hello(ciphers=[0x002F], extensions=[], legacy_version=0x0302))
    assert hello.summary()["client_versions"] == ["TLSv1.1"]
    assert not hello.offers_any(frozenset({0x0303, 0x0304}))
    tls12 = parse_client_hello(build_hello(ciphers=[0xC02B], extensions=[]))
    assert tls12.offers_any(frozenset({0x0303})) and not tls12.offers_any(frozenset({0x0304}))


def test_sslv2_format_hello() -> None:
    specs = bytes.fromhex("01008000002f00003500000a")  # SSLv2 RC4 + three TLS suites
    challenge = bytes(16)
    body = bytes([1]) + (0x0301).to_bytes(2, "big") + len(specs).to_bytes(2, "big")
    body += (0).to_bytes(2, "big") + len(challenge).to_bytes(2, "big") + specs + challenge
    data = bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body
    hello = parse_client_hello(data)
    assert hello.sslv2_format and hello.max_version == 0x0301
    assert hello.cipher_suites == (0x002F, 0x0035, 0x000A)
    with pytest.raises(Incomplete):
        parse_client_hello(data[:-1])


@pytest.mark.parametrize(
    ("data", "http"),
    [
        (b"GET / HTTP/1.1\r\n", True),
        (b"POST /v3/x", True),
        (b"SSH-2.0-OpenSSH", False),
        (b"\x00\x01", False),
    ],
)
def test_not_tls(data: bytes, http: bool) -> None:
    with pytest.raises(NotTLS) as info:
        parse_client_hello(data)
    assert info.value.looks_like_http is http


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x00\x00",  # empty record
        b"\x16\x07\x01\x00\x05\x01\x00\x00\x01\x00",  # record version 7.x
        b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00",  # a ServerHello
        b"\x16\x03\x01\x00\x04\x01\x00\x00\x01\x17\x03\x03\x00\x01\x00",  # interrupted by app data
        b"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03",  # body too short for a random
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedHello):
        parse_client_hello(data)


def test_a_hello_over_16_kib_is_too_large_to_inspect_not_malformed() -> None:
    # OpenSSL accepts hellos up to 128 KiB: the listener hands these over uninspected.
    with pytest.raises(TooLarge) as info:
        parse_client_hello(b"\x16\x03\x01\x00\x04\x01\xff\xff\xff")  # claims 16 MiB
    assert info.value.length == 0xFFFFFF + 4


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_never_escape_the_parsers_errors(data: bytes) -> None:
    with contextlib.suppress(*PARSE_ERRORS):
        assert isinstance(parse_client_hello(data), ClientHello)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(REAL_HELLOS)),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_mutated_real_hellos_never_escape_the_parsers_errors(
    name: str, edits: list[tuple[int, int]]
) -> None:
    data = bytearray(REAL_HELLOS[name])
    for position, value in edits:
        data[position % len(data)] = value
    try:
        hello = parse_client_hello(bytes(data))
        hello.summary()  # fingerprints and names are computed safely too
    except PARSE_ERRORS:
        pass


@settings(max_examples=200)
@given(st.sampled_from(sorted(REAL_HELLOS)), st.integers(min_value=0), st.binary(max_size=40))
def test_truncated_or_extended_hellos(name: str, cut: int, tail: bytes) -> None:
    data = REAL_HELLOS[name]
    cut %= len(data) + 1
    with contextlib.suppress(*PARSE_ERRORS):
        parse_client_hello(data[:cut] + tail)


@pytest.mark.parametrize(
    ("first", "code"),
    [(b"h2", "h2"), (b"http/1.1", "h1"), (b"\xba\xad", "bd"), (b"h2\x00", "60"), (b"x", "xx")],
)
def test_ja4_alpn_code_reads_the_raw_bytes(first: bytes, code: str) -> None:
    # FoxIO: first and last characters if both are alphanumeric, else the first and last hex
    # digits of the value's bytes, whatever their encoding.
    hello = parse_client_hello(
        build_hello(ciphers=[0x1301], extensions=[(0x0010, alpn_ext(first, "http/1.1"))])
    )
    assert hello.ja4[8:10] == code
    assert hello.first_alpn == first


def test_suites_and_groups_have_names_wherever_openssl_or_iana_has_one() -> None:
    suites = [0x1304, 0x1305, 0xC02B, 0xC05C, 0x00C6, 0x5600, 0x0A0B]
    groups = [0x001D, 0x0017, 0x11EC, 0x0100, 0x0A0B]
    hello = parse_client_hello(
        build_hello(ciphers=suites, extensions=[(0x000A, u16_list_ext(*groups))])
    )
    offer = hello.summary()
    assert offer["client_ciphers"][:2] == ["TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]
    assert offer["client_ciphers"][2] == "ECDHE-ECDSA-AES128-GCM-SHA256"  # OpenSSL's, as logged
    assert all(not name.startswith("0x") for name in offer["client_ciphers"][3:6])
    assert offer["client_ciphers"][5] == "TLS_FALLBACK_SCSV"
    assert offer["client_ciphers"][6] == "0x0a0b"  # GREASE-like, but not GREASE: unassigned
    assert offer["client_groups"] == [
        "x25519",
        "secp256r1",
        "X25519MLKEM768",
        "ffdhe2048",
        "0x0a0b",
    ]
