"""The SMTP door: Python's smtplib sends over STARTTLS and implicit TLS, the messages are stored
like API sends, and a TLS 1.1 STARTTLS client (openssl s_client) is refused with an alert and
logged with what it offered, which the report's gate names."""

from __future__ import annotations

import base64
import json
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from support import NODE_DIR, MockgunProcess, require_tool, run_report, wait_for

CLIENTS = Path(__file__).parent / "clients"


def ports(server: MockgunProcess) -> tuple[int, int]:
    banner = "".join(server.stdout_lines)
    smtp = re.search(r"^  smtp +\S+:(\d+)", banner, re.M)
    smtps = re.search(r"^  smtps +\S+:(\d+)", banner, re.M)
    assert smtp and smtps, banner
    return int(smtp.group(1)), int(smtps.group(1))


@pytest.fixture
def server(spawn: Callable[..., MockgunProcess]) -> MockgunProcess:
    return spawn("--smtp-port", "0", "--smtps-port", "0")


def invoice() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Shop <shop@example.com>"
    msg["To"] = "ann@example.com"
    msg["Subject"] = "Your invoice"
    msg.set_content("Attached.")
    msg.add_attachment(
        b"%PDF-1.7 invoice", maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    return msg


def detail_of(server: MockgunProcess, message: dict[str, Any]) -> dict[str, Any]:
    answer = requests.get(
        f"{server.base_url}/mockgun/messages/{message['id'].strip('<>')}",
        verify=str(server.ca_file),
        timeout=10,
    )
    return dict(answer.json())


def assert_sessions_logged(server: MockgunProcess, count: int) -> None:
    """``count`` SMTP handshakes in the log, each with the version and cipher it negotiated."""

    def lines() -> list[dict[str, Any]]:
        return [h for h in server.handshakes() if "listener" in h]

    logged = wait_for(lambda: len(lines()) >= count and lines(), what=f"{count} SMTP lines")
    assert len(logged) == count
    assert all(h["outcome"] == "ok" and h["tls_version"] and h["cipher"] for h in logged)


def stored(server: MockgunProcess) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{server.base_url}/mockgun/messages", verify=str(server.ca_file), timeout=10
    ).json()
    return list(answer["items"])


def test_smtplib_over_starttls_and_implicit_tls(server: MockgunProcess) -> None:
    smtp_port, smtps_port = ports(server)
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    with smtplib.SMTP("localhost", smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls") and not smtp.has_extn("auth")  # AUTH only after TLS
        code, reply = smtp.docmd("MAIL", "FROM:<shop@example.com>")
        assert code == 530 and b"STARTTLS" in reply  # RFC 3207
        smtp.starttls(context=ctx)
        smtp.ehlo()
        assert smtp.has_extn("auth")
        smtp.login("postmaster@example.com", "any password")
        assert smtp.send_message(invoice()) == {}
    with smtplib.SMTP_SSL("localhost", smtps_port, context=ctx, timeout=10) as smtps:
        smtps.login("postmaster@example.com", "any password")
        assert smtps.send_message(invoice(), to_addrs=["bob@example.com"]) == {}

    messages = wait_for(lambda: len(stored(server)) == 2 and stored(server), what="2 messages")
    assert [(m["endpoint"], m["recipients"], m["subject"]) for m in messages] == [
        ("smtp", ["ann@example.com"], "Your invoice"),
        ("smtp", ["bob@example.com"], "Your invoice"),
    ]
    detail = detail_of(server, messages[0])
    assert detail["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert {e["event"] for e in detail["events"]} == {"accepted", "delivered"}
    assert "invoice.pdf" in detail["mime"]

    def smtp_lines() -> list[dict[str, Any]]:
        return [h for h in server.handshakes() if "listener" in h]

    lines = wait_for(lambda: len(smtp_lines()) == 2 and smtp_lines(), what="2 SMTP lines")
    assert sorted(h["listener"].split(":")[0] for h in lines) == ["smtp", "smtps"]
    assert all(h["outcome"] == "ok" and h["tls_version"] for h in lines)


def tls11_s_client(openssl: str, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``openssl s_client`` offering at most TLS 1.1 (its ciphers allowed at SECLEVEL 0)."""
    return subprocess.run(
        [
            openssl,
            "s_client",
            "-connect",
            f"127.0.0.1:{port}",
            *args,
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_tls11_starttls_client_is_refused_logged_and_named(
    server: MockgunProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    openssl = require_tool("openssl")
    smtp_port, _ = ports(server)
    done = tls11_s_client(openssl, smtp_port, "-starttls", "smtp")
    assert done.returncode != 0
    assert "alert protocol version" in done.stderr, done.stderr
    (line,) = wait_for(
        lambda: [h for h in server.handshakes() if h.get("listener", "").endswith("starttls")],
        what="the STARTTLS line",
    )
    assert line["outcome"] == "rejected" and line["client_max_version"] == "TLSv1.1"
    assert line["alert_sent"] == "protocol_version" and line["client_ciphers"]
    # Implicit TLS: the HTTPS listener's own path, the same answer.
    _, smtps_port = ports(server)
    done = tls11_s_client(openssl, smtps_port)
    assert "alert protocol version" in done.stderr, done.stderr
    (implicit,) = wait_for(
        lambda: [h for h in server.handshakes() if h.get("listener", "").startswith("smtps:")],
        what="the SMTPS line",
    )
    assert implicit["outcome"] == "rejected" and implicit["alert_sent"] == "protocol_version"
    code, out, _ = run_report(server.log_path, "--fail-on-legacy", capsys=capsys)
    assert code == 1 and "TLSv1.1" in out


def test_domain_credentials_are_the_smtp_logins(server: MockgunProcess) -> None:
    smtp_port, _ = ports(server)
    for path, data in (
        ("/v4/domains", {"name": "mg.example.org"}),
        ("/v3/domains/mg.example.org/credentials", {"login": "app", "password": "s3cret-pw"}),
    ):
        requests.post(
            f"{server.base_url}{path}",
            data=data,
            auth=("api", "k"),
            verify=str(server.ca_file),
            timeout=10,
        ).raise_for_status()
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    with smtplib.SMTP("localhost", smtp_port, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("app@mg.example.org", "wrong")
        smtp.login("app@mg.example.org", "s3cret-pw")


def test_mailgun_headers_are_the_sends_options(server: MockgunProcess) -> None:
    smtp_port, _ = ports(server)
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    msg = invoice()
    msg["X-Mailgun-Tag"] = "invoices"
    msg["X-Mailgun-Variables"] = '{"order": "A-1001", "total": 42}'
    msg["X-Mailgun-Drop-Message"] = "yes"  # Mailgun's test mode over SMTP
    bad = invoice()
    bad["X-Mailgun-Variables"] = "not json"
    with smtplib.SMTP("localhost", smtp_port, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        smtp.login("postmaster@example.com", "pw")
        smtp.send_message(msg)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.send_message(bad)
    assert refused.value.smtp_code == 550
    assert b"X-Mailgun-Variables must be a JSON object" in refused.value.smtp_error
    (message,) = wait_for(lambda: stored(server), what="the message")
    assert message["tags"] == ["invoices"] and message["test_mode"] is True
    assert message["user_variables"] == {"order": "A-1001", "total": "42"}
    detail = detail_of(server, message)
    delivered = [e for e in detail["events"] if e["event"] == "delivered"]
    assert [e["delivery-status"]["code"] for e in delivered] == [650]


def smtp_client(server: MockgunProcess, program: list[str], trust: str) -> dict[str, Any]:
    """Run a client script against the STARTTLS port (``HOST PORT USER PASSWORD``) with the
    CA trusted through ``trust`` (an environment variable); its last line, as JSON."""
    smtp_port, _ = ports(server)
    out = subprocess.run(
        [*program, "localhost", str(smtp_port), "postmaster@example.com", "pw"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, trust: str(server.ca_file)},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_djangos_smtp_backend_sends_over_starttls(server: MockgunProcess) -> None:
    program = [sys.executable, str(CLIENTS / "django_smtp.py")]
    assert smtp_client(server, program, "SSL_CERT_FILE") == {"sent": 1}
    (message,) = wait_for(lambda: stored(server), what="Django's message")
    assert (message["subject"], message["tags"]) == ("Welcome aboard", ["welcome"])
    detail = detail_of(server, message)
    assert 'filename="terms.pdf"' in detail["mime"] and detail["tls"]["version"]
    assert_sessions_logged(server, 1)


def test_nodemailers_smtp_transport(server: MockgunProcess, node_modules: Path) -> None:
    program = ["node", str(NODE_DIR / "nodemailer_smtp.mjs")]
    result = smtp_client(server, program, "NODE_EXTRA_CA_CERTS")
    assert result["accepted"] == ["ann@example.com"], result
    assert result["response"].startswith("250 ")
    (message,) = wait_for(lambda: stored(server), what="nodemailer's message")
    assert message["tags"] == ["node"]
    assert "filename=receipt.txt" in detail_of(server, message)["mime"]
    assert_sessions_logged(server, 1)


def test_curl_smtp_with_ssl_reqd(server: MockgunProcess, tmp_path: Path) -> None:
    curl = require_tool("curl")
    smtp_port, _ = ports(server)
    mail = tmp_path / "mail.eml"
    mail.write_bytes(invoice().as_bytes())
    done = subprocess.run(
        [
            curl,
            "-sS",
            "--ssl-reqd",
            f"smtp://localhost:{smtp_port}",
            "--cacert",
            str(server.ca_file),
            "--user",
            "postmaster@example.com:pw",
            "--mail-from",
            "shop@example.com",
            "--mail-rcpt",
            "carl@example.com",
            "--upload-file",
            str(mail),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    (message,) = wait_for(lambda: stored(server), what="curl's message")
    assert message["recipients"] == ["carl@example.com"]
    assert 'filename="invoice.pdf"' in detail_of(server, message)["mime"]
    assert_sessions_logged(server, 1)


def test_a_storm_of_mixed_sessions(spawn: Callable[..., MockgunProcess]) -> None:
    """Hundreds of sessions at once, good and bad: one log line per TLS attempt, every message
    answered 250 stored once, and the server's descriptors back where they were."""
    server = spawn("--smtp-port", "0", "--smtps-port", "0")
    smtp_port, _ = ports(server)
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    legacy.check_hostname, legacy.verify_mode = False, ssl.CERT_NONE
    legacy.minimum_version = legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    fd_dir = Path(f"/proc/{server.proc.pid}/fd")
    baseline = len(list(fd_dir.iterdir()))
    kinds = ["good"] * 120 + ["legacy"] * 45 + ["plain"] * 45 + ["silent"] * 30 + ["dropped"] * 60

    def session(n: int, kind: str) -> str | None:
        with smtplib.SMTP("localhost", smtp_port, timeout=20) as smtp:
            smtp.ehlo()
            if kind == "plain":
                code, _ = smtp.docmd("MAIL", "FROM:<a@example.com>")
                assert code == 530
                return None
            if kind == "silent":  # asks for TLS, then never says hello
                assert smtp.docmd("STARTTLS")[0] == 220
                assert smtp.sock is not None
                smtp.sock.recv(1)  # the server gives up and closes
                return None
            if kind == "legacy":
                with pytest.raises(ssl.SSLError):
                    smtp.starttls(context=legacy)
                return None
            smtp.starttls(context=ctx)
            smtp.login("postmaster@example.com", "pw")
            smtp.mail("shop@example.com")
            smtp.rcpt(f"storm{n}@example.com")
            body = f"Subject: storm {n}\r\n\r\n".encode() + (b"x" * 76 + b"\r\n") * 30
            if kind == "dropped":  # gone in the middle of DATA
                assert smtp.docmd("DATA")[0] == 354
                assert smtp.sock is not None
                smtp.sock.sendall(body[:500])
                smtp.sock.shutdown(socket.SHUT_RDWR)  # gone: the server sees the end at once
                smtp.close()
                return None
            code, reply = smtp.data(body)
            assert code == 250
            return reply.decode().split()[-1]  # "Great success <id>": the id

    with ThreadPoolExecutor(max_workers=24) as pool:
        futures = [pool.submit(session, n, kind) for n, kind in enumerate(kinds)]
        outcomes = [f.result() for f in futures]
    answered = [i for i in outcomes if i is not None]
    assert len(answered) == 120

    attempts = len(kinds) - 45  # every session but the plain-text ones asked for TLS

    def lines() -> list[dict[str, Any]]:
        return [h for h in server.handshakes() if h.get("listener", "").startswith("smtp:")]

    logged = wait_for(lambda: len(lines()) >= attempts and lines(), what="a line per attempt")
    assert len(logged) == attempts and len({h["conn_id"] for h in logged}) == attempts
    outcomes_seen = sorted({h["outcome"] for h in logged})
    assert outcomes_seen == ["ok", "rejected", "timeout"], outcomes_seen
    kept = requests.get(
        f"{server.base_url}/mockgun/messages?limit=1000",
        verify=str(server.ca_file),
        timeout=30,
    ).json()["items"]
    assert sorted(m["id"] for m in kept) == sorted(answered)  # each once, none half-written
    wait_for(
        lambda: len(list(fd_dir.iterdir())) <= baseline + 2, what="descriptors back to baseline"
    )


def test_fault_rules_and_magic_recipients_at_smtp(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn(
        "--smtp-port", "0", "--smtps-port", "0", "--fault", "429 to=busy@* endpoint=smtp"
    )
    smtp_port, _ = ports(server)
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    with smtplib.SMTP("localhost", smtp_port, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        smtp.login("postmaster@example.com", "pw")
        with pytest.raises(smtplib.SMTPDataError) as limited:
            smtp.sendmail("shop@example.com", ["busy@example.com"], b"Subject: s\r\n\r\nx\r\n")
        assert limited.value.smtp_code == 451
        assert b"request limit exceeded" in limited.value.smtp_error
        # A magic recipient: accepted, then the bounce Mailgun would report.
        smtp.sendmail("shop@example.com", ["bounce@example.com"], b"Subject: s\r\n\r\nx\r\n")
    (message,) = wait_for(lambda: stored(server), what="the accepted message")
    events = detail_of(server, message)["events"]
    assert [(e["event"], e.get("severity")) for e in events] == [
        ("accepted", None),
        ("failed", "permanent"),
    ]
    injected = requests.get(
        f"{server.base_url}/mockgun/faults", verify=str(server.ca_file), timeout=10
    ).json()
    assert [i["endpoint"] for i in injected["injected"]] == ["smtp"]


def test_swaks_and_openssl_s_client_send(server: MockgunProcess, tmp_path: Path) -> None:
    swaks = require_tool("swaks")
    openssl = require_tool("openssl")
    smtp_port, _ = ports(server)
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n1,2\n")
    done = subprocess.run(
        [
            swaks,
            "--server",
            f"localhost:{smtp_port}",
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            str(server.ca_file),
            "--auth",
            "PLAIN",
            "--auth-user",
            "postmaster@example.com",
            "--auth-password",
            "pw",
            "--from",
            "shop@example.com",
            "--to",
            "swaks@example.com",
            "--header",
            "Subject: from swaks",
            "--attach",
            f"@{attachment}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # openssl s_client as a bare SMTP client (it does EHLO and STARTTLS), the rest scripted:
    # a multipart message with an attachment, typed in as a person at a terminal would.
    login = base64.b64encode(b"\0postmaster@example.com\0pw").decode()
    session = "\r\n".join(
        [
            "EHLO s-client",
            f"AUTH PLAIN {login}",
            "MAIL FROM:<shop@example.com>",
            "RCPT TO:<sclient@example.com>",
            "DATA",
            "Subject: from s_client",
            "MIME-Version: 1.0",
            'Content-Type: multipart/mixed; boundary="b"',
            "",
            "--b",
            "Content-Type: text/plain",
            "",
            "hello",
            "--b",
            'Content-Type: text/csv; name="typed.csv"',
            'Content-Disposition: attachment; filename="typed.csv"',
            "",
            "a,b",
            "--b--",
            ".",
            "QUIT",
            "",
        ]
    )
    done = subprocess.run(
        [
            openssl,
            "s_client",
            "-connect",
            f"localhost:{smtp_port}",
            "-starttls",
            "smtp",
            "-CAfile",
            str(server.ca_file),
            "-verify_return_error",
            "-quiet",
        ],
        input=session,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "250 Great success" in done.stdout, done.stdout + done.stderr
    got = wait_for(lambda: len(stored(server)) == 2 and stored(server), what="both messages")
    assert sorted(m["subject"] for m in got) == ["from s_client", "from swaks"]
    for message in got:
        assert "filename=" in detail_of(server, message)["mime"]
    assert_sessions_logged(server, 2)


def test_a_template_named_in_a_header_is_rendered(server: MockgunProcess) -> None:
    requests.post(
        f"{server.base_url}/v3/example.com/templates",
        data={"name": "welcome", "template": "<p>Hi {{name}}</p>"},
        auth=("api", "k"),
        verify=str(server.ca_file),
        timeout=10,
    ).raise_for_status()
    smtp_port, _ = ports(server)
    msg = EmailMessage()
    msg["From"] = "shop@example.com"
    msg["To"] = "ann@example.com"
    msg["Subject"] = "Welcome"
    msg["X-Mailgun-Template-Name"] = "welcome"
    msg["X-Mailgun-Template-Variables"] = '{"name": "Ann"}'
    msg.set_content("placeholder")
    msg.add_alternative("<p>placeholder</p>", subtype="html")
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    with smtplib.SMTP("localhost", smtp_port, timeout=10) as smtp:
        smtp.starttls(context=ctx)
        smtp.login("postmaster@example.com", "pw")
        smtp.send_message(msg)
    (message,) = wait_for(lambda: stored(server), what="the message")
    got = requests.get(
        f"{server.base_url}/mockgun/messages/{message['id'].strip('<>')}/received/ann@example.com",
        verify=str(server.ca_file),
        timeout=10,
    ).json()
    assert got["html"].strip() == "<p>Hi Ann</p>"
