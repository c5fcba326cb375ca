"""The TLS policy, seen by real clients over real handshakes against ``mockgun serve``."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from support import MockgunProcess

from mockgun.certs import CertPaths
from mockgun.tls.policy import TLS12_CIPHERS

LEGACY = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]


def legacy_context(version: ssl.TLSVersion, ca_file: Any) -> ssl.SSLContext:
    """A client that really puts TLS 1.0/1.1 on the wire (OpenSSL 3 won't at its default level)."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def handshake(
    port: int, ctx: ssl.SSLContext, *, server_hostname: str = "localhost", host: str = "127.0.0.1"
) -> tuple[str | None, str | None, str | None, str | None]:
    """Complete a handshake; return (version, cipher, ALPN, compression)."""
    ctx.set_alpn_protocols(["http/1.1"])
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        cipher = tls.cipher()
        return (
            tls.version(),
            cipher[0] if cipher else None,
            tls.selected_alpn_protocol(),
            (tls.compression()),
        )


def control_server(certs: CertPaths, version: ssl.TLSVersion) -> tuple[int, Callable[[], str]]:
    """A permissive one-shot server that accepts ``version``: proof that a client offers it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(certs.server_cert, certs.server_key)
    listener = socket.create_server(("127.0.0.1", 0))
    result: list[str] = []

    def serve_one() -> None:
        conn, _ = listener.accept()
        with conn, ctx.wrap_socket(conn, server_side=True) as tls:
            result.append(str(tls.version()))
        listener.close()

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()

    def negotiated() -> str:
        thread.join(timeout=5)
        return result[0]

    return listener.getsockname()[1], negotiated


@pytest.mark.parametrize("version", LEGACY, ids=lambda v: v.name)
def test_legacy_client_really_offers_its_version_and_is_refused(
    mockgun_process: MockgunProcess, certs: CertPaths, version: ssl.TLSVersion
) -> None:
    ctx = legacy_context(version, certs.ca_cert)
    # The same client context completes a handshake at that version with a permissive server,
    # so a refusal below is mockgun's doing, not a local failure to offer the version.
    port, negotiated = control_server(certs, version)
    assert (
        handshake(port, ctx)[0]
        == negotiated()
        == {
            ssl.TLSVersion.TLSv1: "TLSv1",
            ssl.TLSVersion.TLSv1_1: "TLSv1.1",
        }[version]
    )

    before = len(mockgun_process.handshakes())
    # The client gets the answer a real server gives: a protocol_version alert, not a bare EOF.
    with pytest.raises(ssl.SSLError, match="TLSV1_ALERT_PROTOCOL_VERSION"):
        handshake(mockgun_process.port, ctx)
    line = mockgun_process.wait_handshakes(before + 1)[before]
    name = {ssl.TLSVersion.TLSv1: "TLSv1.0", ssl.TLSVersion.TLSv1_1: "TLSv1.1"}[version]
    assert line["outcome"] == "rejected"
    assert line["error"] == (
        f"client offered at most {name}; this endpoint requires TLS 1.2 or newer"
    )
    assert line["client_max_version"] == name
    assert line["client_versions"] == [name]
    assert "tls_version" not in line


@pytest.mark.parametrize(
    ("version", "name"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
def test_tls12_and_13_are_accepted_and_logged(
    mockgun_process: MockgunProcess, version: ssl.TLSVersion, name: str
) -> None:
    before = len(mockgun_process.handshakes())
    got_version, cipher, alpn, compression = handshake(
        mockgun_process.port, mockgun_process.client_context(version)
    )
    assert got_version == name
    assert alpn == "http/1.1"
    assert compression is None
    if version == ssl.TLSVersion.TLSv1_2:
        assert cipher in TLS12_CIPHERS.split(":")
    line = mockgun_process.wait_handshakes(before + 1)[before]
    assert line["outcome"] == "ok"
    assert (line["tls_version"], line["cipher"], line["alpn"]) == (name, cipher, "http/1.1")
    assert line["sni"] == "localhost"
    assert line["peer"].startswith("127.0.0.1:")
    assert line["ts"].endswith("Z") and isinstance(line["conn_id"], int)


CBC_AND_RSA_KX = ["AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"]


@pytest.mark.parametrize("suite", CBC_AND_RSA_KX)
def test_tls12_without_ecdhe_aead_finds_no_shared_cipher(
    mockgun_process: MockgunProcess, suite: str
) -> None:
    ctx = mockgun_process.client_context(ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers(suite)
    before = len(mockgun_process.handshakes())
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        handshake(mockgun_process.port, ctx)
    line = mockgun_process.wait_handshakes(before + 1)[before]
    assert line["outcome"] == "failed" and line["alert_sent"] == "handshake_failure"
    assert "no cipher suite in common" in line["error"]


@pytest.mark.parametrize("suite", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"])
def test_rsa_only_tls12_client_gets_the_rsa_certificate(
    mockgun_process: MockgunProcess, suite: str
) -> None:
    # Production endpoints serve an RSA certificate to clients whose suites need one.
    ctx = mockgun_process.client_context(ssl.TLSVersion.TLSv1_2)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(suite)
    with (
        socket.create_connection(("127.0.0.1", mockgun_process.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert (tls.cipher() or ("",))[0] == suite
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)


def test_default_clients_get_the_ecdsa_certificate(mockgun_process: MockgunProcess) -> None:
    ctx = mockgun_process.client_context()
    with (
        socket.create_connection(("127.0.0.1", mockgun_process.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    assert isinstance(x509.load_der_x509_certificate(der).public_key(), ec.EllipticCurvePublicKey)


def test_compat_profile_accepts_cbc_and_still_refuses_legacy(
    spawn: Callable[..., MockgunProcess],
) -> None:
    server = spawn("--ciphers", "compat")
    for suite in CBC_AND_RSA_KX:
        ctx = server.client_context(ssl.TLSVersion.TLSv1_2)
        ctx.set_ciphers(suite)
        assert handshake(server.port, ctx)[:2] == ("TLSv1.2", suite)
    legacy = server.client_context(ssl.TLSVersion.TLSv1_1)
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError, match="TLSV1_ALERT_PROTOCOL_VERSION"):
        handshake(server.port, legacy)


def test_tls_max_12_refuses_tls13(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn("--tls-max", "1.2")
    assert handshake(server.port, server.client_context(ssl.TLSVersion.TLSv1_2))[0] == "TLSv1.2"
    with pytest.raises(ssl.SSLError, match="TLSV1_ALERT_PROTOCOL_VERSION"):
        handshake(server.port, server.client_context(ssl.TLSVersion.TLSv1_3))
    # A client that allows both simply gets 1.2.
    assert handshake(server.port, server.client_context())[0] == "TLSv1.2"
    lines = server.wait_handshakes(3)
    assert [line["outcome"] for line in lines] == ["ok", "rejected", "ok"]
    assert lines[1]["error"] == "client offered TLSv1.3; this endpoint accepts TLS 1.2 only"


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "::1"])
def test_certificate_verifies_for_the_default_names(
    mockgun_process: MockgunProcess, name: str
) -> None:
    ctx = mockgun_process.client_context()
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert handshake(mockgun_process.port, ctx, server_hostname=name)[0] == "TLSv1.3"


def test_certificate_does_not_verify_for_other_names(mockgun_process: MockgunProcess) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(
            mockgun_process.port, mockgun_process.client_context(), server_hostname="evil.test"
        )


def test_serves_on_ipv6_loopback(spawn: Callable[..., MockgunProcess]) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    server = spawn("--host", "::1")
    assert server.base_url.startswith("https://[::1]:")
    ctx = server.client_context()
    assert handshake(server.port, ctx, server_hostname="::1", host="::1")[0] == "TLSv1.3"
    assert server.wait_handshakes(1)[0]["peer"].startswith("[::1]:")
