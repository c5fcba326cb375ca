"""A few hundred mixed clients at once: exactly one log line each, and no leaked descriptors."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections import Counter
from collections.abc import Callable

import pytest
from conftest import MockgunProcess, wait_for
from hellos import ja4_spec_hello

KINDS = {  # kind: (how many, expected outcome)
    "tls13": (60, "ok"),
    "tls12": (60, "ok"),
    "tls10": (40, "rejected"),
    "http": (40, "not_tls"),
    "garbage": (30, "not_tls"),
    "fin": (30, "closed"),
    "silent": (20, "timeout"),
}


def client_context(server: MockgunProcess, version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    ctx.minimum_version = ctx.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


async def attempt(server: MockgunProcess, kind: str, contexts: dict[str, ssl.SSLContext]) -> str:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    host, port = sock.getsockname()
    peer = f"{host}:{port}"
    if kind in contexts:
        try:
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=contexts[kind], server_hostname="localhost"
            )
        except ssl.SSLError:
            assert kind == "tls10"
            return peer
        assert kind != "tls10"
        writer.write(
            b"GET /mockgun/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        assert (await reader.read()).startswith(b"HTTP/1.1 200")
        writer.close()
        return peer
    reader, writer = await asyncio.open_connection(sock=sock)
    if kind == "http":
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 400")
    elif kind == "garbage":
        writer.write(b"\x00garbage\xff" * 8)
        assert await reader.read() == b""
    elif kind == "fin":
        writer.write(ja4_spec_hello()[:50])
        writer.write_eof()
        assert await reader.read() == b""
    else:  # silent: the server closes it at the deadline
        assert await reader.read() == b""
    writer.close()
    return peer


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
async def test_hundreds_of_mixed_clients_at_once(
    spawn: Callable[..., MockgunProcess], loop_name: str
) -> None:
    server = spawn("--handshake-timeout", "5", "--event-loop", loop_name)
    fds = lambda: len(os.listdir(f"/proc/{server.proc.pid}/fd"))  # noqa: E731
    await asyncio.to_thread(lambda: attempt_sync_warmup(server))
    baseline = fds()
    contexts = {
        "tls13": client_context(server, ssl.TLSVersion.TLSv1_3),
        "tls12": client_context(server, ssl.TLSVersion.TLSv1_2),
        "tls10": client_context(server, ssl.TLSVersion.TLSv1),
    }
    kinds = [kind for kind, (count, _) in KINDS.items() for _ in range(count)]
    peers = await asyncio.gather(*(attempt(server, kind, contexts) for kind in kinds))

    total = len(kinds) + 1  # plus the warm-up
    lines = await asyncio.to_thread(server.wait_handshakes, total)
    assert len(lines) == total  # not one more
    by_peer = Counter(line["peer"] for line in lines)
    outcome_of = {line["peer"]: line["outcome"] for line in lines}
    for kind, peer in zip(kinds, peers, strict=True):
        assert by_peer[peer] == 1, f"{kind} attempt from {peer} has {by_peer[peer]} lines"
        assert outcome_of[peer] == KINDS[kind][1], (kind, peer)
    assert len({line["conn_id"] for line in lines}) == total
    await asyncio.to_thread(wait_for, lambda: fds() <= baseline, what="fds back to baseline")


def attempt_sync_warmup(server: MockgunProcess) -> None:
    ctx = client_context(server, ssl.TLSVersion.TLSv1_3)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        ctx.wrap_socket(sock, server_hostname="localhost").close()
    server.wait_handshakes(1)
