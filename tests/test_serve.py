"""``mockgun serve`` as a process: start-up, environment twins, restarts and clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from support import AUTH, MockgunProcess, start_mockgun, wait_for

from mockgun.certs import CertPaths

FORM = urlencode(
    {"from": "a@example.com", "to": "b@example.com", "subject": "in flight", "text": "t"}
).encode()


def tls_socket(server: MockgunProcess) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return server.client_context().wrap_socket(raw, server_hostname="localhost")


def read_response(sock: ssl.SSLSocket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed early: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ", 2)[1]), body


def test_first_start_makes_certs_and_a_restart_reuses_them(
    spawn: Callable[..., MockgunProcess], tmp_path: Path
) -> None:
    certs_dir = tmp_path / "fresh-certs"
    first = spawn(certs_dir=certs_dir)
    assert "certificates  created" in "".join(first.stdout_lines)
    assert (certs_dir / "server.key").stat().st_mode & 0o777 == 0o600
    assert (certs_dir / "ca.key").stat().st_mode & 0o777 == 0o600
    # A client that trusted the first run's CA file (loaded before the restart)...
    trusting = first.client_context()
    ca_bytes = (certs_dir / "ca.pem").read_bytes()
    leaf_bytes = (certs_dir / "server.pem").read_bytes()
    assert first.stop() == 0

    second = spawn(certs_dir=certs_dir)
    assert "certificates  reused" in "".join(second.stdout_lines)
    assert (certs_dir / "ca.pem").read_bytes() == ca_bytes
    assert (certs_dir / "server.pem").read_bytes() == leaf_bytes
    # ...still verifies the restarted server.
    raw = socket.create_connection(("127.0.0.1", second.port), timeout=5)
    with trusting.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() == "TLSv1.3"


def test_banner_says_where_to_point_clients(mockgun_process: MockgunProcess) -> None:
    banner = "".join(mockgun_process.stdout_lines)
    ca = str(mockgun_process.ca_file.resolve())
    assert f"listening on https://127.0.0.1:{mockgun_process.port} (TLS 1.2-1.3)" in banner
    assert f"trust this CA {ca}" in banner
    assert f"handshake log {mockgun_process.log_path.resolve()}" in banner
    assert f"web page      https://127.0.0.1:{mockgun_process.port}/mockgun/" in banner
    for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        assert f"export {var}={ca}" in banner


def test_environment_twins_configure_the_server(
    tmp_path: Path, spawn: Callable[..., MockgunProcess]
) -> None:
    server = spawn(
        env={
            "MOCKGUN_TLS_MAX": "1.2",
            "MOCKGUN_API_KEY": "key-env",
            "MOCKGUN_DOMAIN": "mg.example.com other.example",
            "MOCKGUN_HOSTNAME": "mockgun,sidecar.internal",
            "MOCKGUN_MAX_MESSAGE_SIZE": "2KiB",
        },
        certs_dir=tmp_path / "env-certs",
    )
    banner = "".join(server.stdout_lines)
    assert "(TLS 1.2 only)" in banner and "only the configured key" in banner
    assert "mockgun, sidecar.internal" in banner  # the certificate covers the extra names

    def post(domain: str, key: str, text: str = "t") -> requests.Response:
        return requests.post(
            f"{server.base_url}/v3/{domain}/messages",
            auth=("api", key),
            data={"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": text},
            verify=str(server.ca_file),
            timeout=10,
        )

    assert post("mg.example.com", "key-env").status_code == 200
    assert post("mg.example.com", "key-other").status_code == 401
    assert post("unknown.example", "key-env").json() == {
        "message": "Domain not found: unknown.example"
    }
    too_big = post("other.example", "key-env", text="x" * 4096)
    assert too_big.status_code == 413
    assert too_big.json() == {"message": "request size exceeds 2.0KiB limit"}


def test_help_lists_an_environment_variable_for_every_serve_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mockgun", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option, var in [
        ("--host", "MOCKGUN_HOST"),
        ("--port", "MOCKGUN_PORT"),
        ("--certs-dir", "MOCKGUN_CERTS_DIR"),
        ("--hostname", "MOCKGUN_HOSTNAME"),
        ("--tls-max", "MOCKGUN_TLS_MAX"),
        ("--handshake-log", "MOCKGUN_HANDSHAKE_LOG"),
        ("--api-key", "MOCKGUN_API_KEY"),
        ("--domain", "MOCKGUN_DOMAIN"),
        ("--max-message-size", "MOCKGUN_MAX_MESSAGE_SIZE"),
    ]:
        assert option in out and var in out


def test_sigterm_lets_an_in_flight_request_finish_then_exits_0(
    spawn: Callable[..., MockgunProcess],
) -> None:
    server = spawn()
    sock = tls_socket(server)
    head = (
        "POST /v3/example.com/messages HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: {AUTH['Authorization']}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(FORM)}\r\nExpect: 100-continue\r\n\r\n"
    )
    sock.sendall(head.encode())
    # "100 Continue" proves the handler is running: the request is in flight.
    assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
    server.proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    wait_for(lambda: any("stopping" in line for line in server.stderr_lines), what="shutdown")
    sock.sendall(FORM)
    status, body = read_response(sock)
    assert status == 200
    assert json.loads(body)["message"] == "Queued. Thank you."
    sock.close()
    assert server.proc.wait(timeout=2) == 0
    assert time.monotonic() - signalled < 2
    # The log was flushed: the connection's handshake is on record.
    assert [line["outcome"] for line in server.handshakes()] == ["ok"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_with_idle_keepalive_connection_exits_0_within_2s(
    spawn: Callable[..., MockgunProcess], sig: signal.Signals
) -> None:
    server = spawn()
    sock = tls_socket(server)
    sock.sendall(b"GET /mockgun/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert read_response(sock)[0] == 200  # the connection stays open (keep-alive)
    server.proc.send_signal(sig)
    assert server.proc.wait(timeout=2) == 0
    sock.close()


def mockgun_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m mockgun ARGS`` to its end (start-up failures, one-shot commands)."""
    return subprocess.run(
        [sys.executable, "-m", "mockgun", *args], capture_output=True, text=True, timeout=20
    )


def test_port_in_use_is_a_clear_error(mockgun_process: MockgunProcess, tmp_path: Path) -> None:
    result = mockgun_cli(
        "serve",
        "--port",
        str(mockgun_process.port),
        "--certs-dir",
        str(tmp_path / "c"),
        "--handshake-log",
        str(tmp_path / "l"),
    )
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{mockgun_process.port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_handshake_log_to_stdout(tmp_path: Path, certs: object) -> None:
    assert isinstance(certs, CertPaths)
    server = start_mockgun(tmp_path, certs.directory, "--handshake-log", "-")
    try:
        with tls_socket(server):
            pass
        line = wait_for(
            lambda: next((x for x in server.stdout_lines if x.startswith("{")), None),
            what="a JSON line on stdout",
        )
        assert json.loads(line)["outcome"] == "ok"
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--fault", "418 teapot"], "418"), (["--webhook", "exploded=http://x"], "exploded")],
)
def test_bad_rule_options_are_clear_errors(tmp_path: Path, args: list[str], named: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockgun", "serve", *args, "--certs-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and named in result.stderr and "Traceback" not in result.stderr


def test_an_unusable_certs_folder_is_named_not_the_port(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the certificates' folder should be")
    result = mockgun_cli(
        "serve",
        "--port",
        "0",
        "--certs-dir",
        str(blocker / "certs"),
        "--handshake-log",
        str(tmp_path / "l"),
    )
    assert result.returncode == 1
    assert f"cannot write {blocker / 'certs'}" in result.stderr, result.stderr
    assert f"{blocker} is owned by uid {os.getuid()}" in result.stderr
    assert "cannot serve on" not in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_handshake_log_makes_the_server_unhealthy(
    spawn: Callable[..., MockgunProcess], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    log = blocker / "handshakes.jsonl"
    server = spawn("--handshake-log", str(log))
    result = mockgun_cli(
        "healthcheck", "--url", f"{server.base_url}/mockgun/health", "--ca", str(server.ca_file)
    )
    assert result.returncode == 1
    assert result.stdout.startswith("unhealthy: ") and "answered 503" in result.stdout
    assert f"the handshake log {log} cannot be written" in result.stdout
