"""A storm of a few hundred mixed clients at once: one log line each, every acknowledged
message stored once with its events, no leaked descriptors; and SIGTERM in the middle of load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hellos import ja4_spec_hello
from support import MockgunProcess, wait_for

KINDS = {  # kind: (how many, expected outcome)
    "tls13": (60, "ok"),  # each sends a message
    "tls12": (60, "ok"),
    "slow": (20, "ok"),  # handshakes, then trickles headers: cut off by --request-timeout
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


def send_request(n: int) -> bytes:
    form = f"from=a%40example.com&to=storm{n}%40example.com&subject=storm&text=t".encode()
    return (
        b"POST /v3/example.com/messages HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Authorization: Basic YXBpOmtleQ==\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(form)}\r\n\r\n".encode()
        + form
    )


async def connect(server: MockgunProcess) -> tuple[socket.socket, str]:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    host, port = sock.getsockname()
    return sock, f"{host}:{port}"


async def attempt(
    server: MockgunProcess, kind: str, contexts: dict[str, ssl.SSLContext], n: int
) -> tuple[str, str | None]:
    """One client; returns its address and, for a send, the message id it was given."""
    sock, peer = await connect(server)
    if kind in contexts or kind == "slow":
        try:
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=contexts.get(kind, contexts["tls13"]), server_hostname="localhost"
            )
        except ssl.SSLError:
            assert kind == "tls10"
            return peer, None
        assert kind != "tls10"
        if kind == "slow":
            writer.write(b"POST /v3/example.com/messages HTTP/1.1\r\nHost: loc")
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                assert await reader.read() == b""  # cut off by the server
            writer.close()
            return peer, None
        writer.write(send_request(n))
        answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        writer.close()
        return peer, str(json.loads(answer.partition(b"\r\n\r\n")[2])["id"])
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
    return peer, None


def inspect(server: MockgunProcess, path: str) -> dict[str, Any]:
    resp = requests.get(
        f"{server.base_url}{path}", auth=("api", "key"), verify=str(server.ca_file), timeout=30
    )
    assert resp.status_code == 200
    return dict(resp.json())


def open_fds(server: MockgunProcess) -> int:
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def warm_up(server: MockgunProcess) -> None:
    ctx = client_context(server, ssl.TLSVersion.TLSv1_3)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        ctx.wrap_socket(sock, server_hostname="localhost").close()
    server.wait_handshakes(1)


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
async def test_storm_of_mixed_clients(spawn: Callable[..., MockgunProcess], loop_name: str) -> None:
    server = spawn("--handshake-timeout", "5", "--request-timeout", "2", "--event-loop", loop_name)
    await asyncio.to_thread(warm_up, server)
    baseline = open_fds(server)
    contexts = {
        "tls13": client_context(server, ssl.TLSVersion.TLSv1_3),
        "tls12": client_context(server, ssl.TLSVersion.TLSv1_2),
        "tls10": client_context(server, ssl.TLSVersion.TLSv1),
    }
    kinds = [kind for kind, (count, _) in KINDS.items() for _ in range(count)]
    results = await asyncio.gather(
        *(attempt(server, kind, contexts, n) for n, kind in enumerate(kinds))
    )
    peers = [peer for peer, _ in results]
    sent = sorted(message_id for _, message_id in results if message_id is not None)
    assert len(sent) == KINDS["tls13"][0] + KINDS["tls12"][0]

    total = len(kinds) + 1  # plus the warm-up
    lines = await asyncio.to_thread(server.wait_handshakes, total)
    assert len(lines) == total  # not one more
    by_peer = Counter(line["peer"] for line in lines)
    outcome_of = {line["peer"]: line["outcome"] for line in lines}
    for kind, peer in zip(kinds, peers, strict=True):
        assert by_peer[peer] == 1, f"{kind} attempt from {peer} has {by_peer[peer]} lines"
        assert outcome_of[peer] == KINDS[kind][1], (kind, peer)
    assert len({line["conn_id"] for line in lines}) == total
    await asyncio.to_thread(
        wait_for, lambda: open_fds(server) <= baseline, what="fds back to baseline"
    )

    # Every acknowledged message is stored exactly once, and has its accepted event.
    stored = await asyncio.to_thread(inspect, server, "/mockgun/messages")
    assert sorted(m["id"] for m in stored["items"]) == sent
    events = await asyncio.to_thread(
        inspect, server, "/v3/example.com/events?event=accepted&limit=300"
    )
    assert sorted(f"<{e['message']['headers']['message-id']}>" for e in events["items"]) == sent
    health = await asyncio.to_thread(inspect, server, "/mockgun/health")
    assert health["status"] == "ok"  # and it still serves


async def test_sigterm_under_load_finishes_or_refuses_cleanly(
    spawn: Callable[..., MockgunProcess],
) -> None:
    server = spawn("--shutdown-timeout", "5")
    context = client_context(server, ssl.TLSVersion.TLSv1_3)
    done: list[str] = []

    async def send(n: int) -> str:
        try:
            sock, _ = await connect(server)
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=context, server_hostname="localhost"
            )
            writer.write(send_request(n))
            answer = await reader.read()
            writer.close()
        except (OSError, ssl.SSLError):
            return "refused"  # the listener was already closed, or the connection cut cleanly
        if not answer:
            return "closed"
        status = answer.split(b" ", 2)[1].decode()
        done.append(status)
        return status

    tasks = [asyncio.ensure_future(send(n)) for n in range(150)]
    await asyncio.to_thread(wait_for, lambda: len(done) >= 20, what="some sends to finish")
    server.proc.send_signal(signal.SIGTERM)
    outcomes = Counter(await asyncio.gather(*tasks))
    assert set(outcomes) <= {"200", "refused", "closed"}, outcomes  # never a 5xx
    assert outcomes["200"] >= 20
    assert await asyncio.to_thread(server.proc.wait, 10) == 0
    # The log is complete: whole lines, at least one ok line per acknowledged send.
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines()]
    assert sum(1 for line in lines if line["outcome"] == "ok") >= outcomes["200"]
