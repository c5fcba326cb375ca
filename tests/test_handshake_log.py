"""Every handshake attempt on record: one real client per outcome, and what each line holds."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hellos import ja4_spec_hello
from support import MockgunProcess, require_tool, wait_for

ALWAYS = {"ts", "conn_id", "peer", "outcome", "duration_ms"}
OFFER = {
    "client_max_version",
    "client_versions",
    "client_ciphers",
    "client_alpn",
    "client_sni",
    "ja3",
    "ja4",
}
SUCCESS = {"tls_version", "cipher", "sni", "alpn", "resumed"}


@pytest.fixture(params=["asyncio", "uvloop"])
def server(spawn: Callable[..., MockgunProcess], request: pytest.FixtureRequest) -> MockgunProcess:
    """A server with a short handshake timeout, on each event loop mockgun supports."""
    return spawn("--handshake-timeout", "1", "--event-loop", request.param)


def open_fds(server: MockgunProcess) -> int:
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


@pytest.fixture
def fd_baseline(server: MockgunProcess) -> Iterator[None]:
    """Whatever a test's clients did, the server's descriptors return to where they were."""
    # Warm up first: the event loop opens some descriptors lazily, once (uvloop keeps one
    # extra after its first TLS connection).
    with socket.create_connection(("127.0.0.1", server.port)) as warm:
        warm.sendall(b"GET / HTTP/1.0\r\n\r\n")
        warm.recv(4096)
    with (
        raw(server) as sock,
        server.client_context().wrap_socket(sock, server_hostname="localhost"),
    ):
        pass
    server.wait_handshakes(2)
    before = open_fds(server)
    yield
    wait_for(lambda: open_fds(server) <= before, what=f"fds back to {before}")


def raw(server: MockgunProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def recv_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_ok_line_has_the_offer_and_what_was_negotiated(server: MockgunProcess) -> None:
    ctx = server.client_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with raw(server) as sock, ctx.wrap_socket(sock, server_hostname="localhost") as tls:
        name = tls.getsockname()
        assert tls.version() == "TLSv1.3"
    line = server.line_for(name)
    assert line.keys() >= ALWAYS | OFFER | SUCCESS
    assert line["outcome"] == "ok" and line["tls_version"] == "TLSv1.3"
    assert line["client_alpn"] == ["h2", "http/1.1"] and line["alpn"] == "http/1.1"
    assert line["client_versions"] == ["TLSv1.3", "TLSv1.2"]
    assert line["ja4"].startswith("t13d") and line["ja4"][8:10] == "h2"


def test_ok_line_names_the_user_agent_of_the_first_request(server: MockgunProcess) -> None:
    ctx = server.client_context()
    with raw(server) as sock, ctx.wrap_socket(sock, server_hostname="localhost") as tls:
        name = tls.getsockname()
        tls.sendall(b"GET /mockgun/health HTTP/1.1\r\nHost: localhost\r\n")
        tls.sendall(b"User-Agent: probe/1.0 (" + b"x" * 300 + b")\r\n\r\n")
        assert tls.recv(12) == b"HTTP/1.1 200"
        # The line is written when the request arrives, not when the connection closes.
        line = server.line_for(name)
    assert line["outcome"] == "ok" and line["user_agent"].startswith("probe/1.0 (xxx")
    assert len(line["user_agent"]) == 200


def test_a_handshake_without_a_request_is_logged_all_the_same(server: MockgunProcess) -> None:
    ctx = server.client_context()
    with raw(server) as sock, ctx.wrap_socket(sock, server_hostname="localhost") as tls:
        name = tls.getsockname()
        # Still connected: the line comes once the wait for a first request is over.
        line = server.line_for(name)
    assert line["outcome"] == "ok" and "user_agent" not in line


def test_brief_detail_trims_the_offer_on_success_only(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn("--handshake-log-detail", "brief")
    with raw(server) as sock:
        ok_name = sock.getsockname()
        server.client_context().wrap_socket(sock, server_hostname="localhost").close()
    legacy = ssl.create_default_context(cafile=str(server.ca_file))
    legacy.minimum_version = legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    with raw(server) as sock:
        bad_name = sock.getsockname()
        with pytest.raises(ssl.SSLError):
            legacy.wrap_socket(sock, server_hostname="localhost")
    ok, bad = server.line_for(ok_name), server.line_for(bad_name)
    assert "client_ciphers" not in ok and ok["ja4"] and ok["client_max_version"] == "TLSv1.3"
    assert bad.keys() >= OFFER


def test_plain_http_gets_a_400_saying_https_only(server: MockgunProcess, fd_baseline: None) -> None:
    with raw(server) as sock:
        name = sock.getsockname()
        sock.sendall(
            b"POST /v3/example.com/messages HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        response = recv_all(sock)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"speaks HTTPS only" in body
    assert str(server.ca_file.resolve()).encode() in body
    line = server.line_for(name)
    assert line["outcome"] == "not_tls" and "plain-HTTP request" in line["error"]
    assert ALWAYS | {"error"} <= line.keys() and not (OFFER & line.keys())


def test_curl_over_plain_http_sees_the_400(server: MockgunProcess) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed (.ci/run installs it)")
    result = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", f"http://127.0.0.1:{server.port}/mockgun/health"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    body, code = result.stdout.rsplit("\n", 1)
    assert code == "400" and "speaks HTTPS only" in body


def test_garbage_is_not_tls_and_closed(server: MockgunProcess, fd_baseline: None) -> None:
    with raw(server) as sock:
        name = sock.getsockname()
        sock.sendall(b"\x00\x01\x02garbage\xff" * 10)
        assert recv_all(sock) == b""
    line = server.line_for(name)
    assert ALWAYS | {"error"} <= line.keys() and not (OFFER & line.keys())
    assert line["outcome"] == "not_tls" and "not TLS" in line["error"]


def test_silent_client_times_out(server: MockgunProcess, fd_baseline: None) -> None:
    with raw(server) as sock:
        name = sock.getsockname()
        line = server.line_for(name)  # written when the 1 s deadline passes
        assert recv_all(sock) == b""  # and the server closed the connection
    assert ALWAYS | {"error"} <= line.keys()
    assert line["outcome"] == "timeout" and "no complete ClientHello within 1s" in line["error"]
    assert line["duration_ms"] >= 1000


def test_partial_hello_then_stall_times_out(server: MockgunProcess, fd_baseline: None) -> None:
    hello = ja4_spec_hello()
    with raw(server) as sock:
        name = sock.getsockname()
        sock.sendall(hello[: len(hello) // 2])
        line = server.line_for(name)
    assert line["outcome"] == "timeout"


def test_partial_hello_then_fin_is_closed(server: MockgunProcess, fd_baseline: None) -> None:
    hello = ja4_spec_hello()
    with raw(server) as sock:
        name = sock.getsockname()
        sock.sendall(hello[:40])
        sock.shutdown(socket.SHUT_WR)
        line = server.line_for(name)
    assert ALWAYS | {"error"} <= line.keys()
    assert line["outcome"] == "closed"
    assert line["error"] == "the client closed the connection in the middle of its ClientHello"
    assert line["duration_ms"] < 1000  # noticed at once, not at the timeout


def test_connect_and_close_is_closed(server: MockgunProcess, fd_baseline: None) -> None:
    with raw(server) as sock:
        name = sock.getsockname()
    line = server.line_for(name)
    assert line["outcome"] == "closed" and "before sending anything" in line["error"]


def test_partial_hello_then_reset_is_closed(server: MockgunProcess, fd_baseline: None) -> None:
    sock = raw(server)
    name = sock.getsockname()
    sock.sendall(ja4_spec_hello()[:40])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # linger 0: RST
    assert server.line_for(name)["outcome"] == "closed"


def test_hello_dribbled_one_byte_at_a_time_succeeds(
    server: MockgunProcess, fd_baseline: None
) -> None:
    # A real client's hello, sent one byte per segment, then a real handshake on top.
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = server.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with raw(server) as sock:
        name = sock.getsockname()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with pytest.raises(ssl.SSLWantReadError):
            tls.do_handshake()
        for byte in outgoing.read():
            sock.send(bytes([byte]))
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if data := outgoing.read():
                    sock.sendall(data)
                chunk = sock.recv(65536)
                assert chunk, "server closed the connection"
                incoming.write(chunk)
        sock.sendall(outgoing.read())
        assert tls.version() == "TLSv1.3"
    line = server.line_for(name)
    assert line["outcome"] == "ok" and line["client_sni"] == "localhost"


def test_legacy_client_gets_an_alert_and_a_line_with_its_offer(
    server: MockgunProcess, fd_baseline: None
) -> None:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with raw(server) as sock:
        name = sock.getsockname()
        with pytest.raises(ssl.SSLError, match="TLSV1_ALERT_PROTOCOL_VERSION"):
            ctx.wrap_socket(sock, server_hostname="localhost")
    line = server.line_for(name)
    assert ALWAYS | OFFER | {"error"} <= line.keys() and not (SUCCESS & line.keys())
    assert (line["outcome"], line["client_max_version"]) == ("rejected", "TLSv1.0")


def test_no_shared_cipher_is_failed_with_the_offer(
    server: MockgunProcess, fd_baseline: None
) -> None:
    ctx = server.client_context(ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("AES128-SHA")
    with raw(server) as sock:
        name = sock.getsockname()
        # The client reads the alert a stock OpenSSL server sends, not a bare EOF.
        with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
            ctx.wrap_socket(sock, server_hostname="localhost")
    line = server.line_for(name)
    assert ALWAYS | OFFER | {"error"} <= line.keys() and not (SUCCESS & line.keys())
    assert line["outcome"] == "failed" and "no cipher suite in common" in line["error"]
    assert "offered none of the suites" in line["error"]
    assert line["alert_sent"] == "handshake_failure"
    assert line["client_ciphers"][0] == "AES128-SHA"


def test_openssl_s_client_tls11_sees_alert_protocol_version(server: MockgunProcess) -> None:
    exe = require_tool("openssl")
    result = subprocess.run(
        [
            exe,
            "s_client",
            "-connect",
            f"127.0.0.1:{server.port}",
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-servername",
            "localhost",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert "alert protocol version" in result.stdout + result.stderr
    [line] = [h for h in server.wait_handshakes(1) if h["outcome"] == "rejected"]
    assert line["client_max_version"] == "TLSv1.1" and line["client_sni"] == "localhost"


def test_inspection_endpoint_lists_and_filters_handshakes(server: MockgunProcess) -> None:
    for _ in range(2):
        with (
            raw(server) as sock,
            server.client_context().wrap_socket(sock, server_hostname="localhost"),
        ):
            pass
    with raw(server) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        recv_all(sock)
    server.wait_handshakes(3)

    def get(query: str) -> dict[str, Any]:
        resp = requests.get(
            f"{server.base_url}/mockgun/handshakes{query}", verify=str(server.ca_file), timeout=10
        )
        assert resp.status_code == 200
        return dict(resp.json())

    everything = get("")
    assert [h["outcome"] for h in everything["items"][:3]] == ["ok", "ok", "not_tls"]
    assert everything["items"][:3] == server.handshakes()[:3]  # same records as the file
    assert {h["outcome"] for h in get("?outcome=not_tls")["items"]} == {"not_tls"}
    assert len(get("?limit=1")["items"]) == 1
    first_id = everything["items"][0]["conn_id"]
    assert all(h["conn_id"] > first_id for h in get(f"?since={first_id}")["items"])
    assert get("?since=2999-01-01T00:00:00Z")["items"] == []
    bad = requests.get(
        f"{server.base_url}/mockgun/handshakes?since=yesterday",
        verify=str(server.ca_file),
        timeout=10,
    )
    assert bad.status_code == 400 and "since" in bad.json()["message"]


def test_pending_attempts_are_logged_at_shutdown(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn("--handshake-timeout", "30")
    baseline = open_fds(server)
    with raw(server) as sock:
        name = sock.getsockname()
        wait_for(lambda: open_fds(server) > baseline, what="the server to accept")
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=5) == 0
    line = server.line_for(name)
    assert line["outcome"] == "failed" and "shut down" in line["error"]


def test_over_the_pending_cap_connections_wait_and_are_served(
    spawn: Callable[..., MockgunProcess],
) -> None:
    server = spawn("--max-pending-handshakes", "2", "--handshake-timeout", "30")
    baseline = open_fds(server)
    silent = [raw(server), raw(server)]
    try:
        wait_for(lambda: open_fds(server) >= baseline + 2, what="two pending handshakes")
        with raw(server) as waiting:  # in the backlog: not accepted, not refused
            waiting.settimeout(0.5)
            with pytest.raises(TimeoutError):
                waiting.recv(1)
            tls = server.client_context().wrap_socket(
                waiting, server_hostname="localhost", do_handshake_on_connect=False
            )
            names = [sock.getsockname() for sock in silent]
            for sock in silent:  # once they leave, the waiting client is served
                sock.close()
            tls.settimeout(10)
            tls.do_handshake()
            assert tls.version() == "TLSv1.3"
    finally:
        for sock in silent:
            sock.close()
    assert {server.line_for(name)["outcome"] for name in names} == {"closed"}
    assert not any("overload" in line.get("error", "") for line in server.handshakes())


def test_running_out_of_descriptors_pauses_accepting_and_recovers(
    spawn: Callable[..., MockgunProcess],
) -> None:
    def low_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    server = spawn("--handshake-timeout", "30", preexec_fn=low_fd_limit)
    hogs: list[socket.socket] = []
    try:
        # Open connections until the server runs out of descriptors and says so.
        def starved() -> bool:
            hogs.append(raw(server))
            return any("cannot accept connections" in line for line in server.stderr_lines)

        wait_for(starved, what="the server to run out of descriptors")
    finally:
        for sock in hogs:
            sock.close()

    # Once the hogs are gone (they are logged as closed), service resumes.
    def serves() -> bool:
        try:
            with (
                raw(server) as sock,
                server.client_context().wrap_socket(sock, server_hostname="localhost"),
            ):
                return True
        except (OSError, ssl.SSLError):
            return False

    wait_for(serves, what="service to resume")
    assert server.proc.poll() is None


def test_log_lines_are_whole_json_objects_even_on_stdout(
    spawn: Callable[..., MockgunProcess],
) -> None:
    # Every line in the file parses: nothing is half-written or interleaved.
    server = spawn()
    for _ in range(5):
        with (
            raw(server) as sock,
            server.client_context().wrap_socket(sock, server_hostname="localhost"),
        ):
            pass
    server.wait_handshakes(5)
    raw_lines = server.log_path.read_bytes().split(b"\n")
    assert raw_lines[-1] == b""  # the file ends with a whole line
    assert [json.loads(x)["outcome"] for x in raw_lines[:-1]] == ["ok"] * 5
    assert all(x.isascii() for x in raw_lines)  # no raw U+2028 and the like to split on
