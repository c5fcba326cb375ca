"""The /mockgun/* inspection endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from support import AUTH, Client, basic

from mockgun import Config, __version__, create_app
from mockgun.certs import ensure_certs


async def _send(client: Client, domain: str, to: str, subject: str) -> str:
    data = {"from": "a@example.com", "to": to, "subject": subject, "text": "t"}
    resp = await client.post(f"/v3/{domain}/messages", data=data, headers=AUTH)
    assert resp.status == 200
    return str((await resp.json())["id"])


async def test_health_needs_no_auth(aiohttp_client: Callable[..., Awaitable[Client]]) -> None:
    client = await aiohttp_client(create_app(Config(api_key="secret", tls_max="1.2")))
    resp = await client.get("/mockgun/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["handshake_log"] == {
        "path": "(memory)",
        "ok": True,
        "error": None,
        "written": 0,
        "pending": 0,
        "lost": 0,
        "reopened": 0,
        "in_memory": 0,
        "in_memory_bytes": 0,
    }
    del body["handshake_log"]
    assert body == {
        "status": "ok",
        "version": __version__,
        "tls": "TLS 1.2 only",
        "messages": 0,
        "messages_evicted": 0,
        "events": 0,
        "events_evicted": 0,
        "connections": {"open": 0, "slow_closed": 0},
    }


async def test_inspection_needs_the_api_key_when_one_is_set(
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await aiohttp_client(create_app(Config(api_key="secret")))
    for path in ("/mockgun/messages", "/mockgun/handshakes", "/mockgun/messages/x@y"):
        denied = await client.get(path)
        assert (denied.status, await denied.text()) == (401, "Forbidden")
        wrong = await client.get(path, headers=basic("api", "nope"))
        assert wrong.status == 401
    assert (await client.delete("/mockgun/messages")).status == 401
    assert (await client.get("/mockgun/messages", headers=basic("api", "secret"))).status == 200
    assert (await client.get("/mockgun/health")).status == 200
    open_client = await aiohttp_client(create_app(Config()))
    assert (await open_client.get("/mockgun/messages")).status == 200  # no key set: open


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
    missing = await aiohttp_client(create_app(Config(certs_dir=tmp_path / "none")))
    assert (await missing.get("/mockgun/ca.pem")).status == 404
    paths = ensure_certs(tmp_path / "c").paths
    client = await aiohttp_client(create_app(Config(certs_dir=paths.directory)))
    resp = await client.get("/mockgun/ca.pem")
    assert resp.status == 200 and await resp.read() == paths.ca_cert.read_bytes()
    assert b"PRIVATE KEY" not in await resp.read()


async def test_the_page_survives_its_files_going_away(
    client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A reinstall under a running server (pip install -e of another checkout) removes or
    replaces the package's files: the page was read at start and keeps being served."""
    from mockgun.api.inspect import ui  # noqa: PLC0415

    monkeypatch.setattr(ui, "UI_DIR", tmp_path / "gone")
    for path in ("/mockgun/", "/mockgun/ui/app.js", "/mockgun/ui/app.css"):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert len(await resp.read()) > 100
