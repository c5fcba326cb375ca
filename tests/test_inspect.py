"""The /mockgun/* inspection endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from helpers import AUTH

from mockgun import Config, __version__, create_app

Client = TestClient[web.Request, web.Application]


async def _send(client: Client, domain: str, to: str, subject: str) -> str:
    data = {"from": "a@example.com", "to": to, "subject": subject, "text": "t"}
    resp = await client.post(f"/v3/{domain}/messages", data=data, headers=AUTH)
    assert resp.status == 200
    return str((await resp.json())["id"])


async def test_health_needs_no_auth(aiohttp_client: Callable[..., Awaitable[Client]]) -> None:
    client = await aiohttp_client(create_app(Config(api_key="secret", tls_max="1.2")))
    resp = await client.get("/mockgun/health")
    assert resp.status == 200
    assert await resp.json() == {
        "status": "ok", "version": __version__, "tls": "TLS 1.2 only", "messages": 0,
        "messages_evicted": 0,
    }  # fmt: skip


async def test_list_filter_get_and_clear(aiohttp_client: Callable[..., Awaitable[Client]]) -> None:
    client = await aiohttp_client(create_app())
    first = await _send(client, "one.example", "x@example.com", "first")
    second = await _send(client, "two.example", "Y <y@example.com>", "second")
    third = await _send(client, "one.example", "y@example.com", "third")

    async def ids(query: str) -> list[str]:
        body = await (await client.get(f"/mockgun/messages{query}")).json()
        assert body["total"] == len(body["items"])
        return [m["id"] for m in body["items"]]

    assert await ids("") == [first, second, third]  # oldest first
    assert await ids("?domain=one.example") == [first, third]
    assert await ids("?to=Y@example.com") == [second, third]
    assert await ids("?domain=one.example&to=y@example.com") == [third]

    for ref in (second, second.strip("<>")):
        resp = await client.get(f"/mockgun/messages/{ref}")
        assert resp.status == 200
        assert (await resp.json())["subject"] == "second"
    missing = await client.get("/mockgun/messages/nope@example.com")
    assert missing.status == 404
    assert await missing.json() == {"message": "Message not found"}

    cleared = await client.delete("/mockgun/messages")
    assert await cleared.json() == {"deleted": 3}
    assert await ids("") == []


async def test_ca_certificate_is_served(
    aiohttp_client: Callable[..., Awaitable[Client]], tmp_path: Path
) -> None:
    from mockgun.certs import ensure_certs

    missing = await aiohttp_client(create_app(Config(certs_dir=tmp_path / "none")))
    assert (await missing.get("/mockgun/ca.pem")).status == 404
    paths = ensure_certs(tmp_path / "c").paths
    client = await aiohttp_client(create_app(Config(certs_dir=paths.directory)))
    resp = await client.get("/mockgun/ca.pem")
    assert resp.status == 200 and await resp.read() == paths.ca_cert.read_bytes()
    assert b"PRIVATE KEY" not in await resp.read()
