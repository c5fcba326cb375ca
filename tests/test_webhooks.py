"""Webhooks as Mailgun sends them: signed, retried, recorded; configured by option or API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer
from support import AUTH, Client

from mockgun import Config, create_app
from mockgun.api.keys import WEBHOOKS
from mockgun.clock import parse_rfc3339

SEND = {"from": "app@example.com", "subject": "s", "text": "t"}
KEY = "key-webhook-signing"


class Receiver:
    """A webhook endpoint in the test, failing its first ``fail`` deliveries with a 500."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail > 0:
            self.fail -= 1
            return web.Response(status=500)
        self.received.append(await request.json())
        self.arrived.set()
        return web.Response(text="ok")

    async def wait(self, count: int) -> list[dict[str, Any]]:
        while len(self.received) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 10)
        return self.received


def verify(body: dict[str, Any], key: str) -> bool:
    """What a Mailgun user's receiver does."""
    sig = body["signature"]
    expected = hmac.new(
        key.encode(), (sig["timestamp"] + sig["token"]).encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, sig["signature"])


@pytest.fixture
async def receiver_url(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> Callable[[Receiver], Awaitable[str]]:
    async def start(receiver: Receiver) -> str:
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        server = await aiohttp_server(app)
        return str(server.make_url("/hook"))

    return start


async def test_signed_webhook_per_event(
    aiohttp_client: Callable[..., Awaitable[Client]], receiver_url: Any
) -> None:
    receiver = Receiver()
    url = await receiver_url(receiver)
    config = Config(webhooks=(f"delivered={url}", f"permanent_fail={url}"), webhook_signing_key=KEY)
    client = await aiohttp_client(create_app(config))
    form = aiohttp.FormData({**SEND, "to": "a@example.com, bounce@example.com"})
    form.add_field("attachment", b"a,b\n", filename="r.csv", content_type="text/csv; charset=utf-8")
    resp = await client.post("/v3/example.com/messages", data=form, headers=AUTH)
    message_id = (await resp.json())["id"].strip("<>")
    bodies = await receiver.wait(2)
    # As real events carry them: the storage URL, an integer size, bare attachment types.
    for body in bodies:
        data = body["event-data"]
        key = data["storage"]["key"]
        assert data["storage"]["url"].endswith(f"/v3/domains/example.com/messages/{key}")
        assert isinstance(data["message"]["size"], int) and data["message"]["size"] > 0
        assert data["message"]["attachments"][0]["content-type"] == "text/csv"
    assert all(verify(b, KEY) for b in bodies)
    assert not verify(bodies[0], "key-wrong")
    got = sorted((b["event-data"]["event"], b["event-data"]["recipient"]) for b in bodies)
    assert got == [("delivered", "a@example.com"), ("failed", "bounce@example.com")]
    assert {b["event-data"]["message"]["headers"]["message-id"] for b in bodies} == {message_id}
    deliveries = (await (await client.get("/mockgun/webhooks/deliveries")).json())["items"]
    assert sorted((d["event"], d["status"], d["ok"]) for d in deliveries) == [
        ("delivered", 200, True),
        ("permanent_fail", 200, True),
    ]


async def test_failed_deliveries_are_retried_with_backoff(
    aiohttp_client: Callable[..., Awaitable[Client]], receiver_url: Any
) -> None:
    receiver = Receiver(fail=2)
    url = await receiver_url(receiver)
    app = create_app(Config(webhook_signing_key=KEY, webhooks=(f"delivered={url}",)))
    app[WEBHOOKS].retry_delays = (0.05, 0.1, 0.2)
    client = await aiohttp_client(app)
    await client.post(
        "/v3/example.com/messages", data={**SEND, "to": "a@example.com"}, headers=AUTH
    )
    [body] = await receiver.wait(1)
    assert verify(body, KEY)
    attempts = (await (await client.get("/mockgun/webhooks/deliveries")).json())["items"]
    assert [(a["attempt"], a["status"], a["ok"]) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    times = [parse_rfc3339(a["ts"]).timestamp() for a in attempts]
    assert times[1] - times[0] >= 0.049  # the stamps are whole milliseconds


async def test_webhooks_api_configures_a_domain(
    aiohttp_client: Callable[..., Awaitable[Client]], receiver_url: Any
) -> None:
    receiver = Receiver()
    url = await receiver_url(receiver)
    client = await aiohttp_client(create_app(Config(webhook_signing_key=KEY)))
    base = "/v3/domains/example.com/webhooks"
    assert (await client.post(base, data={"id": "opened", "url": url})).status == 401
    created = await client.post(base, data={"id": "opened", "url": url}, headers=AUTH)
    assert await created.json() == {
        "message": "Webhook has been created",
        "webhook": {"urls": [url]},
    }
    listed = await (await client.get(base, headers=AUTH)).json()
    assert listed == {"webhooks": {"opened": {"urls": [url]}}}
    assert (await (await client.get(f"{base}/opened", headers=AUTH)).json()) == {
        "webhook": {"urls": [url]}
    }
    bad = await client.post(base, data={"id": "exploded", "url": url}, headers=AUTH)
    assert bad.status == 400
    await client.post(
        "/v3/example.com/messages", data={**SEND, "to": "opened@example.com"}, headers=AUTH
    )
    [body] = await receiver.wait(1)
    assert body["event-data"]["event"] == "opened" and verify(body, KEY)
    # Other domains are not affected, and the webhook can go.
    assert (
        await (await client.get("/v3/domains/other.example/webhooks", headers=AUTH)).json()
    ) == {"webhooks": {}}
    deleted = await client.delete(f"{base}/opened", headers=AUTH)
    assert deleted.status == 200
    assert (await client.get(f"{base}/opened", headers=AUTH)).status == 404


async def test_https_webhooks_are_verified_against_the_configured_ca(
    aiohttp_client: Callable[..., Awaitable[Client]],
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    tmp_path: Any,
) -> None:

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    url = str((await aiohttp_server(app, ssl=server_ctx)).make_url("/hook"))
    assert url.startswith("https://")
    ca_file = tmp_path / "receiver-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    app = create_app(Config(webhook_signing_key=KEY, webhooks=(f"delivered={url}",)))
    untrusting = app[WEBHOOKS]
    untrusting.retry_delays = ()
    client = await aiohttp_client(app)
    await client.post(
        "/v3/example.com/messages", data={**SEND, "to": "a@example.com"}, headers=AUTH
    )
    await asyncio.wait_for(asyncio.gather(*untrusting._tasks), 10)  # the one delivery ends
    assert "CERTIFICATE_VERIFY_FAILED" in untrusting.deliveries[0]["error"]
    assert receiver.received == []

    app = create_app(
        Config(webhook_signing_key=KEY, webhooks=(f"delivered={url}",), webhook_ca=ca_file)
    )
    trusting = app[WEBHOOKS]
    trusting.retry_delays = ()
    client = await aiohttp_client(app)
    await client.post(
        "/v3/example.com/messages", data={**SEND, "to": "a@example.com"}, headers=AUTH
    )
    [body] = await receiver.wait(1)
    assert verify(body, KEY) and trusting.deliveries[0]["ok"]
