"""Development certificates: made once, reused, and remade only when they must be."""

from __future__ import annotations

import datetime as dt
import os
import ssl
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from mockgun.certs import CertPaths, ensure_certs, write_private
from mockgun.cli import main


def leaf_names(paths: CertPaths) -> set[str]:
    leaf = x509.load_pem_x509_certificates(paths.server_cert.read_bytes())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def test_first_run_creates_a_ca_and_a_leaf_that_it_signs(tmp_path: Path) -> None:
    result = ensure_certs(tmp_path / "certs", ["mockgun"])
    paths = result.paths
    assert result.action == "created"
    assert leaf_names(paths) == {"localhost", "127.0.0.1", "::1", "mockgun"}
    for key in (paths.server_key, paths.ca_key):
        assert key.stat().st_mode & 0o777 == 0o600
    assert paths.ca_cert.stat().st_mode & 0o777 == 0o644
    # The pair loads as a server identity and verifies against ca.pem.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths.server_cert, paths.server_key)
    chain = x509.load_pem_x509_certificates(paths.server_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    chain[0].verify_directly_issued_by(ca)


def test_second_run_reuses_everything(tmp_path: Path) -> None:
    first = ensure_certs(tmp_path)
    files = {p: p.read_bytes() for p in tmp_path.iterdir()}
    again = ensure_certs(tmp_path, ["LOCALHOST", "127.0.0.1"])  # already covered
    assert again.action == "reused"
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == files
    assert again.paths == first.paths


def test_new_hostname_reissues_the_leaf_under_the_same_ca(tmp_path: Path) -> None:
    paths = ensure_certs(tmp_path).paths
    ca_before = paths.ca_cert.read_bytes()
    result = ensure_certs(tmp_path, ["mockgun.internal"])
    assert result.action == "reissued"
    assert "does not cover mockgun.internal" in result.reason
    assert paths.ca_cert.read_bytes() == ca_before  # clients that trust ca.pem keep working
    assert "mockgun.internal" in leaf_names(paths)


@pytest.mark.parametrize("victim", ["server.pem", "server.key"])
def test_missing_leaf_file_reissues(tmp_path: Path, victim: str) -> None:
    ensure_certs(tmp_path)
    (tmp_path / victim).unlink()
    result = ensure_certs(tmp_path)
    assert (result.action, result.reason) == ("reissued", f"{victim} is missing")


@pytest.mark.parametrize("victim", ["ca.pem", "ca.key"])
def test_missing_or_garbled_ca_starts_over(tmp_path: Path, victim: str) -> None:
    ensure_certs(tmp_path)
    old_ca = (tmp_path / "ca.pem").read_bytes()
    (tmp_path / victim).write_text("not a PEM file")
    result = ensure_certs(tmp_path)
    assert result.action == "created"
    assert (tmp_path / "ca.pem").read_bytes() != old_ca


def test_unreadable_leaf_reissues(tmp_path: Path) -> None:
    ensure_certs(tmp_path)
    (tmp_path / "server.pem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n")
    result = ensure_certs(tmp_path)
    assert result.action == "reissued" and "cannot be read" in result.reason


def test_leaf_near_expiry_is_renewed(tmp_path: Path) -> None:
    paths = ensure_certs(tmp_path).paths
    ca = trustme.CA.from_pem(paths.ca_cert.read_bytes(), paths.ca_key.read_bytes())
    soon = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=3)
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1", not_after=soon)
    write_private(paths.server_key, leaf.private_key_pem.bytes())
    paths.server_cert.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    result = ensure_certs(tmp_path)
    assert result.action == "reissued" and "expires on" in result.reason
    new_leaf = x509.load_pem_x509_certificates(paths.server_cert.read_bytes())[0]
    assert new_leaf.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=300)


def test_leaf_from_another_ca_is_reissued(tmp_path: Path) -> None:
    ensure_certs(tmp_path / "a")
    ensure_certs(tmp_path / "b")
    for name in ("server.pem", "server.key"):
        (tmp_path / "a" / name).write_bytes((tmp_path / "b" / name).read_bytes())
    result = ensure_certs(tmp_path / "a")
    assert (result.action, result.reason) == ("reissued", "server.pem was not issued by ca.pem")


def test_force_makes_a_new_ca(tmp_path: Path) -> None:
    ensure_certs(tmp_path)
    old_ca = (tmp_path / "ca.pem").read_bytes()
    assert ensure_certs(tmp_path, force=True).action == "created"
    assert (tmp_path / "ca.pem").read_bytes() != old_ca


def test_private_key_is_never_readable_by_others_even_with_a_lax_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private(tmp_path / "k.key", b"secret")
    finally:
        os.umask(old)
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600


def test_certs_command_says_where_to_point_server_and_clients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certs_dir = tmp_path / "c"
    assert main(["certs", "--certs-dir", str(certs_dir), "--hostname", "mockgun"]) == 0
    out = capsys.readouterr().out
    ca = (certs_dir / "ca.pem").resolve()
    assert f"certificates created in {certs_dir.resolve()}" in out
    assert "localhost, 127.0.0.1, ::1, mockgun" in out
    assert f"export REQUESTS_CA_BUNDLE={ca}" in out
    assert f"export NODE_EXTRA_CA_CERTS={ca}" in out
    assert main(["certs", "--certs-dir", str(certs_dir), "--hostname", "mockgun"]) == 0
    assert "certificates reused" in capsys.readouterr().out
