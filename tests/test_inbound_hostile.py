"""Hostile inbound mail: whatever arrives at ``POST /mockgun/inbound`` gets a clear 400 or is
received, never a 500, a hang or unbounded memory, and the server keeps serving."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import AUTH, Client

from mockgun import Config, create_app
from mockgun.api import receiving

RAW = {"Content-Type": "message/rfc822"}


def nested(depth: int) -> bytes:
    """A message whose multiparts nest ``depth`` deep."""
    head = b"From: a@x.com\r\nTo: b@app.example.com\r\nSubject: deep\r\n"
    body = b"innermost\r\n"
    for level in range(depth, 0, -1):
        boundary = f"b{level}".encode()
        body = (
            b"Content-Type: multipart/mixed; boundary="
            + boundary
            + b"\r\n\r\n--"
            + boundary
            + b"\r\n"
            + body
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
    return head + body


def many_parts(count: int) -> bytes:
    parts = b"".join(
        b"--z\r\nContent-Type: text/plain\r\n\r\npart " + str(n).encode() + b"\r\n"
        for n in range(count)
    )
    return (
        b"From: a@x.com\r\nTo: b@app.example.com\r\nSubject: many\r\n"
        b"Content-Type: multipart/mixed; boundary=z\r\n\r\n" + parts + b"--z--\r\n"
    )


async def post(client: Client, raw: bytes, **params: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/mockgun/inbound", data=raw, headers=RAW, params=params)
    assert resp.content_type == "application/json"
    return resp.status, await resp.json()


async def still_serving(client: Client) -> None:
    resp = await client.get("/v3/domains", headers=AUTH)
    assert resp.status == 200


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (nested(1000), "nests multiparts deeper than 32"),
        (many_parts(10_000), "has more than 1000 MIME parts"),
        (b"Subject: " + b"x" * (2 * 1024 * 1024) + b"\r\n\r\nbody", "header section is over"),
        (b"", "the message is empty"),
        (b"\r\n\r\njust a body", "the message has no headers"),
        (b"From: a@x.com\r\n\r\nno recipient", "the message has no recipient"),
    ],
    ids=["1000-deep", "10000-parts", "2MiB-header", "empty", "no-headers", "no-recipient"],
)
async def test_refused_with_a_clear_400(client: Client, raw: bytes, message: str) -> None:
    status, body = await post(client, raw)
    assert status == 400
    assert message in body["message"], body
    await still_serving(client)


async def test_malformed_but_readable_mail_is_received(client: Client) -> None:
    raw = (
        b"From: =?utf-8?q?broken?= <a@x.com\r\n"
        b"To: b@app.example.com\r\n"
        b"no colon here at all\r\n"
        b"X-Null: a\x00b\r\n"
        b"Subject: =?unknown-charset?b?!!!?=\r\n"
        b"Content-Type: text/plain; charset=no-such-charset\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n%%%not base64\xff\xfe"
    )
    status, body = await post(client, raw)
    assert status == 200, body
    assert body["recipients"] == ["b@app.example.com"]
    await still_serving(client)


async def test_a_pattern_that_backtracks_forever_is_stopped(
    aiohttp_client: Callable[..., Awaitable[Client]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiving, "PARSE_TIMEOUT", 1.0)
    client = await aiohttp_client(create_app(Config()))
    await client.post(
        "/v3/routes",
        data={"expression": "match_header('subject', '(a|aa)+$')", "action": "stop()"},
        headers=AUTH,
    )
    raw = b"From: a@x.com\r\nTo: b@app.example.com\r\nSubject: " + b"a" * 60 + b"!\r\n\r\nx"
    status, body = await post(client, raw)
    assert status == 400
    assert "took over 1s" in body["message"]
    await still_serving(client)
    # The worker was replaced: the next message is received.
    status, _ = await post(client, b"From: a@x.com\r\nTo: c@app.example.com\r\n\r\nhi")
    assert status == 200


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(raw=st.binary(max_size=2000), to=st.text(max_size=30))
async def test_any_bytes_are_received_or_refused(client: Client, raw: bytes, to: str) -> None:
    resp = await client.post("/mockgun/inbound", data=raw, headers=RAW, params={"to": to})
    assert resp.status in (200, 400), await resp.text()
    assert "message" in await resp.json() or resp.status == 200
