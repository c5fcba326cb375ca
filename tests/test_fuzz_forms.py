"""Fuzzing the form handling: whatever a client sends gets a Mailgun-shaped 2xx/4xx, never a 500.

Run longer with HYPOTHESIS_PROFILE=long (see conftest).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import AUTH, Client

from mockgun import Config, create_app

FIELDS = [
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "text",
    "html",
    "amp-html",
    "template",
    "o:tag",
    "o:testmode",
    "o:deliverytime",
    "h:X-Fuzz",
    "v:fuzz",
    "t:variables",
    "recipient-variables",
    "attachment",
    "inline",
]
hostile = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "a@example.com",
            "A <a@example.com>",
            '"x, y" <b@example.com>',
            "yes",
            "Mon, 01 Jan 2029 10:00:00 +0000",
            "{}",
            '{"a@example.com": {"k": 1}}',
            "\r\nBcc: evil@example.com",
            "\x00",
            "../../etc/passwd",
            "%recipient.k%",
        ]
    ),
)
GOOD = [("from", "a@example.com"), ("to", "b@example.com"), ("subject", "s"), ("text", "t")]


def boundary_body(fields: list[tuple[str, str, bool]]) -> bytes:
    """A multipart body built by hand, so that any bytes can go into names and values."""
    out = b""
    for name, value, as_file in fields:
        out += b'--XyZ\r\nContent-Disposition: form-data; name="' + name.encode() + b'"'
        if as_file:
            out += b'; filename="' + value.encode("utf-8", "surrogatepass")[:40] + b'"'
        out += b"\r\n\r\n" + value.encode("utf-8", "surrogatepass") + b"\r\n"
    return out + b"--XyZ--\r\n"


async def check(client: Client, resp: Any) -> None:
    assert resp.status in (200, 400, 413), await resp.text()
    body = await resp.json()
    assert set(body) <= {"id", "message"} and isinstance(body["message"], str)
    if resp.status == 200:
        for path in (f"/mockgun/messages/{body['id']}", f"/mockgun/messages/{body['id']}.eml"):
            assert (await client.get(path)).status == 200
        events = await (await client.get("/v3/example.com/events?limit=1", headers=AUTH)).json()
        key = events["items"][0]["storage"]["key"]
        stored = await client.get(f"/v3/domains/example.com/messages/{key}", headers=AUTH)
        assert stored.status == 200


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    return await aiohttp_client(create_app(Config(max_message_size=256 * 1024)))


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(extra=st.lists(st.tuples(st.sampled_from(FIELDS), hostile, st.booleans()), max_size=8))
async def test_fuzzed_multipart_sends(client: Client, extra: list[tuple[str, str, bool]]) -> None:
    fields = [(n, v, False) for n, v in GOOD] + [
        (n, v, as_file or n in ("attachment", "inline")) for n, v, as_file in extra
    ]
    try:
        body = boundary_body(fields)
    except UnicodeEncodeError:
        return
    resp = await client.post(
        "/v3/example.com/messages",
        data=body,
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    await check(client, resp)


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(extra=st.lists(st.tuples(st.sampled_from(FIELDS), hostile), max_size=8))
async def test_fuzzed_urlencoded_sends(client: Client, extra: list[tuple[str, str]]) -> None:
    try:
        body = urlencode(GOOD + extra).encode()
    except UnicodeEncodeError:
        return
    resp = await client.post(
        "/v3/example.com/messages",
        data=body,
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    await check(client, resp)


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(
    raw=st.binary(max_size=400),
    content_type=st.sampled_from(
        ["multipart/form-data; boundary=XyZ", "application/x-www-form-urlencoded", "text/plain", ""]
    ),
)
async def test_random_bytes_as_a_body(client: Client, raw: bytes, content_type: str) -> None:
    headers = {**AUTH, "Content-Type": content_type} if content_type else AUTH
    for path in ("/v3/example.com/messages", "/v3/example.com/messages.mime"):
        resp = await client.post(path, data=b"--XyZ\r\n" + raw, headers=headers)
        await check(client, resp)
    assert json.loads(await (await client.get("/mockgun/health")).text())["status"] == "ok"
