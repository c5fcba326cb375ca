"""Secrets stay secret, and an unwritable handshake log neither stops mockgun nor loses lines."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from support import MockgunProcess, read_jsonl, wait_for

import mockgun.tls.handshake_log as module
from mockgun.config import Config
from mockgun.tls.handshake_log import HandshakeLog


def tls_connect(server: MockgunProcess) -> None:
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
        server.client_context().wrap_socket(sock, server_hostname="localhost"),
    ):
        pass


def health(server: MockgunProcess) -> dict[str, Any]:
    resp = requests.get(f"{server.base_url}/mockgun/health", verify=str(server.ca_file), timeout=10)
    return dict(resp.json())


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_keeps_lines_until_the_log_is_writable_again(
    spawn: Callable[..., MockgunProcess], tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    log.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    server = spawn("--handshake-log", str(log))
    tls_connect(server)
    wait_for(lambda: health(server)["handshake_log"]["pending"] >= 1, what="a pending line")
    status = health(server)["handshake_log"]
    assert status["ok"] is False and "No space left" in status["error"]
    assert any("CANNOT WRITE THE HANDSHAKE LOG" in line for line in server.stderr_lines)
    # Still serving, and saying it is not doing its job: the container goes unhealthy.
    answer = health(server)
    assert answer["status"] == "unhealthy" and "cannot be written" in answer["reason"]

    real = tmp_path / "real.jsonl"
    log.unlink()
    log.symlink_to(real)  # space again
    tls_connect(server)
    wait_for(lambda: health(server)["handshake_log"]["ok"], what="the log to recover")
    assert health(server)["status"] == "ok"
    status = health(server)["handshake_log"]
    assert (status["pending"], status["lost"]) == (0, 0)
    lines = read_jsonl(real)
    # Every handshake so far (including the health checks' own connections) is there, in order.
    assert [x["conn_id"] for x in lines] == list(range(1, len(lines) + 1))
    assert len(lines) >= 4
    assert any("writable again" in line for line in server.stderr_lines)


def test_unopenable_log_at_start_still_serves(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn("--handshake-log", "/proc/mockgun-cannot-create-this/log.jsonl")
    tls_connect(server)
    status = health(server)["handshake_log"]
    assert status["ok"] is False and status["pending"] >= 1


def test_memory_log_overflow_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "MAX_PENDING", 3)
    log = HandshakeLog(None, name="x", owns_stream=True, path=tmp_path / "no" / "dir")
    (tmp_path / "no").write_text("a file where a folder should be")
    for i in range(5):
        log.write({"ts": "2026-01-01T00:00:00.000Z", "conn_id": i, "peer": "-", "outcome": "ok"})
    assert (len(log.pending), log.lost) == (3, 2)


def test_api_key_never_appears_in_any_log_or_answer(
    spawn: Callable[..., MockgunProcess], tmp_path: Path
) -> None:
    key = "key-SUPER-SECRET-0123456789"
    server = spawn("--api-key", key)
    url = f"{server.base_url}/v3/example.com/messages"
    data = {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}
    answers = [
        requests.post(url, auth=("api", key), data=data, verify=str(server.ca_file), timeout=10),
        requests.post(
            url, auth=("api", key), data={"to": "x"}, verify=str(server.ca_file), timeout=10
        ),
        requests.post(
            url, auth=("api", key + "x"), data=data, verify=str(server.ca_file), timeout=10
        ),
        requests.get(
            f"{server.base_url}/mockgun/messages",
            auth=("api", key),
            verify=str(server.ca_file),
            timeout=10,
        ),
        requests.get(
            f"{server.base_url}/nope", auth=("api", key), verify=str(server.ca_file), timeout=10
        ),
    ]
    assert [a.status_code for a in answers] == [200, 400, 401, 200, 404]
    server.wait_handshakes(5)
    assert server.stop() == 0
    seen = "".join(a.text for a in answers) + "".join(server.stdout_lines + server.stderr_lines)
    seen += server.log_path.read_text()
    assert key not in seen and "Authorization" not in seen and "Basic " not in seen


def test_key_files_are_private(spawn: Callable[..., MockgunProcess], tmp_path: Path) -> None:
    spawn(certs_dir=tmp_path / "c")
    for name in ("server.key", "ca.key"):
        assert (tmp_path / "c" / name).stat().st_mode & 0o077 == 0


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port``, from /proc/net/tcp{,6}."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.append(address)
    return found


def test_default_bind_is_loopback_only(spawn: Callable[..., MockgunProcess]) -> None:
    assert Config().host == "127.0.0.1"
    server = spawn()  # the fixture passes no --host: the default
    assert f"listening on https://127.0.0.1:{server.port}" in "".join(server.stdout_lines)
    # Bound to 127.0.0.1 alone (0100007F, little-endian in /proc), not 0.0.0.0 or ::.
    assert listening_addresses(server.port) == ["0100007F"]
