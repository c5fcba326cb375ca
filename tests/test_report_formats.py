"""The report a CI job reads: aligned text with advice, JUnit XML that validates against the
schema pytest's own --junitxml targets, GitHub annotations, runs told apart, and the gates."""

from __future__ import annotations

import json
import socket
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
import xmlschema
from support import ROOT, MockgunProcess, wait_for
from support import run_report as report
from support import tls_attempt as attempt

JUNIT_SCHEMA = ROOT / "tests" / "data" / "junit-10.xsd"


@pytest.fixture
def mixed_run(spawn: Callable[..., MockgunProcess]) -> MockgunProcess:
    """A run with curl, Python 1.3, Python 1.2, and a TLS 1.1 client; then the server stops."""
    server = spawn()
    server.curl("/mockgun/health")
    attempt(server, ssl.TLSVersion.TLSv1_3)
    attempt(server, ssl.TLSVersion.TLSv1_2)
    attempt(server, ssl.TLSVersion.TLSv1_1, sni="old-client.test")
    server.wait_handshakes(4)
    assert server.stop() == 0
    return server


def test_text_report_is_aligned_and_says_what_to_do(
    mixed_run: MockgunProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = report(mixed_run.log_path, capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("client  "))
    rows = lines[header : lines.index("", header)]
    assert len(rows) == 1 + 4  # four distinct clients
    # Every column starts at the same place on every row: nothing runs together.
    for column in ("JA4", "SNI", "offered", "got", "count"):
        start = rows[0].index(column)
        assert all(row[start - 2 : start] == "  " for row in rows), (column, rows)
    assert "TLSv1.3 TLSv1.2" not in rows[0] and any("LEGACY" in row for row in rows)
    advice = lines[lines.index("What to do") + 1]
    assert advice.startswith("  legacy TLS (1.1 or older) (1): upgrade the client's TLS")
    assert "SecurityProtocolType.Tls12" in advice and "jdk.tls.client.protocols" in advice


def test_junit_validates_and_fails_one_case_per_legacy_client(
    mixed_run: MockgunProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = report(mixed_run.log_path, "--format", "junit", capsys=capsys)
    assert code == 0
    xmlschema.XMLSchema(JUNIT_SCHEMA).validate(out)
    suite = ET.fromstring(out)  # noqa: S314 - our own output, just validated
    cases = suite.findall("testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    assert (suite.get("tests"), suite.get("failures")) == ("4", "1")
    assert len(cases) == 4 and len(failed) == 1
    [legacy] = failed
    assert "old-client.test" in legacy.get("name", "")
    assert legacy.find("failure").get("type") == "legacy"  # type: ignore[union-attr]


def test_github_format_prints_annotations(
    mixed_run: MockgunProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = report(mixed_run.log_path, "--format", "github", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("::error title=mockgun%3A legacy TLS client::")
    assert "old-client.test" in lines[0] and "TLSv1.1" in lines[0]
    assert lines[-1].startswith("::notice title=mockgun handshakes::4 attempt(s)")


def test_fail_on_failed_names_each_kind_with_advice(
    spawn: Callable[..., MockgunProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    server = spawn()
    attempt(server, ssl.TLSVersion.TLSv1_3)
    server.wait_handshakes(1)
    code, _, err = report(server.log_path, "--fail-on-failed", capsys=capsys)
    assert (code, err) == (0, "")
    # A client that does not trust mockgun's CA: the handshake fails on its side.
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(sock, server_hostname="localhost")
    server.wait_handshakes(2)
    code, _, err = report(server.log_path, "--fail-on-failed", capsys=capsys)
    assert code == 1
    assert "certificate not trusted (1): the client does not trust mockgun's certificate" in err
    assert "--hostname NAME" in err


def test_reruns_are_told_apart(
    spawn: Callable[..., MockgunProcess], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "shared.jsonl"
    first = spawn("--handshake-log", str(log))
    attempt(first, ssl.TLSVersion.TLSv1_1)
    first.stop()
    second = spawn("--handshake-log", str(log))
    attempt(second, ssl.TLSVersion.TLSv1_3)
    second.stop()
    runs = [json.loads(line)["run"] for line in log.read_text().splitlines()]
    assert len(runs) == 2 and runs[0] != runs[1]

    # By default the latest run: the legacy client of the first run does not fail it.
    code, out, _ = report(log, "--fail-on-legacy", "--format", "json", capsys=capsys)
    data = json.loads(out)
    assert code == 0 and data["run"] == runs[1] and data["attempts"] == 1
    assert data["other_runs"] == {runs[0]: 1}
    code, _, err = report(log, "--fail-on-legacy", "--run", runs[0], capsys=capsys)
    assert code == 1 and "legacy TLS" in err
    code, out, _ = report(log, "--all-runs", "--fail-on-legacy", "--json", capsys=capsys)
    assert code == 1 and json.loads(out)["attempts"] == 2
    code, _, err = report(log, "--run", "20000101T000000Z-000000", capsys=capsys)
    assert code == 1 and "no attempt of run 20000101T000000Z-000000" in err


def test_since_leaves_out_older_attempts(
    mixed_run: MockgunProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(report(mixed_run.log_path, "--since", "1h", "--json", capsys=capsys)[1])
    assert data["attempts"] == 4
    code, out, _ = report(
        mixed_run.log_path, "--since", "2999-01-01T00:00:00Z", "--json", capsys=capsys
    )
    assert json.loads(out)["attempts"] == 0 and json.loads(out)["before_since"] == 4
    code, _, err = report(mixed_run.log_path, "--since", "yesterday", capsys=capsys)
    assert code == 2 and "give a duration" in err


def test_url_reads_the_report_from_a_running_server(
    spawn: Callable[..., MockgunProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    # For CI services whose job cannot reach the server's files: the server hands its log over.
    server = spawn()
    attempt(server, ssl.TLSVersion.TLSv1_1, sni="old-client.test")
    attempt(server, ssl.TLSVersion.TLSv1_3)
    server.wait_handshakes(2)
    url = ["--url", server.base_url, "--ca", str(server.ca_file)]
    code, out, err = report(Path("unused.jsonl"), *url, "--fail-on-legacy", "--json", capsys=capsys)
    data = json.loads(out)
    assert code == 1 and "old-client.test" in err
    # The server's own run, and the download itself is left out like a health check.
    assert data["run"] == server.handshakes()[0]["run"] and data["attempts"] == 2
    code, _, err = report(
        Path("x"), "--url", "https://127.0.0.1:1", "--ca", str(server.ca_file), capsys=capsys
    )
    assert code == 1 and "cannot read the handshake log from https://127.0.0.1:1" in err


def test_url_from_a_server_logging_to_stdout(
    spawn: Callable[..., MockgunProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    server = spawn("--handshake-log", "-")
    attempt(server, ssl.TLSVersion.TLSv1_3)
    url = ["--url", server.base_url, "--ca", str(server.ca_file), "--json"]
    data = wait_for(
        lambda: (d := json.loads(report(Path("x"), *url, capsys=capsys)[1]))["attempts"] and d,
        what="the attempt in the server's memory",
    )
    assert data["outcomes"] == {"ok": 1}


def test_a_name_not_on_the_certificate_is_named_with_the_fix(
    spawn: Callable[..., MockgunProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    server = spawn()
    ctx = server.client_context()
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
        pytest.raises(ssl.SSLCertVerificationError, match=r"api\.mailgun\.net"),
    ):
        ctx.wrap_socket(sock, server_hostname="api.mailgun.net")
    [line] = server.wait_handshakes(1)
    assert line["outcome"] == "failed"
    assert line["error"].endswith("serve with --hostname api.mailgun.net")
    # A client that checks the CA but not host names goes on: a near miss, with a warning.
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        ctx.wrap_socket(sock, server_hostname="api.mailgun.net").close()
    line = server.wait_handshakes(2)[1]
    assert line["outcome"] == "ok" and "does not check host names" in line["warning"]
    code, out, _ = report(server.log_path, capsys=capsys)
    assert code == 0 and "Near misses" in out
    assert "host names not checked (1): " in out and "certificate not trusted (1): " in out
    # With the name on the certificate, neither.
    named = spawn("--hostname", "api.mailgun.net", certs_dir=server.log_path.parent / "c2")
    ctx = named.client_context()
    with socket.create_connection(("127.0.0.1", named.port), timeout=5) as sock:
        ctx.wrap_socket(sock, server_hostname="api.mailgun.net").close()
    [line] = named.wait_handshakes(1)
    assert line["outcome"] == "ok" and "warning" not in line
