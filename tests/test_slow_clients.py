"""Slow clients time out (--request-timeout) without holding anyone else up."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable

import pytest
import requests
from support import AUTH, MockgunProcess

FORM = b"from=a%40example.com&to=b%40example.com&subject=hi&text=hello"


@pytest.fixture
def server(spawn: Callable[..., MockgunProcess]) -> MockgunProcess:
    return spawn("--request-timeout", "1")


def tls(server: MockgunProcess) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return server.client_context().wrap_socket(raw, server_hostname="localhost")


def send_ok(server: MockgunProcess) -> int:
    resp = requests.post(
        f"{server.base_url}/v3/example.com/messages",
        data=FORM,
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
        verify=str(server.ca_file),
        timeout=10,
    )
    return resp.status_code


def read_until_closed(sock: ssl.SSLSocket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    return data


def test_slow_headers_are_cut_off_and_others_are_served(server: MockgunProcess) -> None:
    slow = [tls(server) for _ in range(5)]
    for sock in slow:
        sock.sendall(b"POST /v3/example.com/messages HTTP/1.1\r\nHost: localho")  # ... and stall
    assert send_ok(server) == 200  # meanwhile, business as usual
    started = time.monotonic()
    for sock in slow:
        assert read_until_closed(sock) == b""  # closed by the server, nothing answered
        sock.close()
    assert time.monotonic() - started < 5
    assert send_ok(server) == 200


def test_slow_body_gets_408(server: MockgunProcess) -> None:
    sock = tls(server)
    sock.sendall(
        b"POST /v3/example.com/messages HTTP/1.1\r\nHost: localhost\r\n"
        + f"Authorization: {AUTH['Authorization']}\r\n".encode()
        + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
        + FORM[:20]
    )
    answer = read_until_closed(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'{"message": "request timed out: the body did not arrive within 1s"}' in answer
    assert send_ok(server) == 200


def test_a_keep_alive_connection_may_idle_between_requests(server: MockgunProcess) -> None:
    # Only the first request's headers are timed: an idle keep-alive connection that has
    # already been used is aiohttp's keep-alive business, not a slow client.
    session = requests.Session()
    session.verify = str(server.ca_file)
    url = f"{server.base_url}/mockgun/health"
    assert session.get(url, verify=str(server.ca_file), timeout=10).status_code == 200
    time.sleep(1.5)  # idling past --request-timeout on purpose, not waiting for the server
    assert session.get(url, verify=str(server.ca_file), timeout=10).status_code == 200
    assert len(server.handshakes()) == 1  # the same connection both times
