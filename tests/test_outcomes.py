"""Delivery outcomes: bounces, temporary failures, opens and clicks, by magic or on demand."""

from __future__ import annotations

from typing import Any

import pytest
from support import AUTH, Client

SEND = {"from": "app@example.com", "subject": "s", "text": "t"}


async def send(client: Client, to: str) -> str:
    resp = await client.post("/v3/example.com/messages", data={**SEND, "to": to}, headers=AUTH)
    assert resp.status == 200
    return str((await resp.json())["id"])


async def events(client: Client, query: str = "") -> list[dict[str, Any]]:
    resp = await client.get(f"/v3/example.com/events?ascending=yes{query}", headers=AUTH)
    return list((await resp.json())["items"])


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        ("someone@example.com", ["accepted", "delivered"]),
        ("bounce@example.com", ["accepted", "failed"]),
        ("bounce+42@example.com", ["accepted", "failed"]),
        ("tempfail@example.com", ["accepted", "failed", "failed", "delivered"]),
        ("opened@example.com", ["accepted", "delivered", "opened"]),
        ("clicked@example.com", ["accepted", "delivered", "clicked"]),
        ("unsubscribed@example.com", ["accepted", "delivered", "unsubscribed"]),
        ("complained@example.com", ["accepted", "delivered", "complained"]),
    ],
)
async def test_magic_recipients_choose_the_outcome(
    client: Client, recipient: str, expected: list[str]
) -> None:
    await send(client, recipient)
    assert [e["event"] for e in await events(client)] == expected


async def test_failure_events_look_like_mailguns(client: Client) -> None:
    await send(client, "bounce@example.com")
    await send(client, "tempfail@example.com")
    failed = await events(client, "&event=failed")
    permanent, temporary = failed[0], failed[1]
    assert (permanent["severity"], permanent["reason"], permanent["log-level"]) == (
        "permanent",
        "bounce",
        "error",
    )
    assert permanent["delivery-status"]["code"] == 550
    assert (temporary["severity"], temporary["delivery-status"]["code"]) == ("temporary", 421)
    assert [e["delivery-status"]["attempt-no"] for e in failed[1:]] == [1, 2]
    delivered = [
        e for e in await events(client, "&event=delivered") if e["recipient"].startswith("tempfail")
    ]
    assert delivered[0]["delivery-status"]["attempt-no"] == 3


async def test_test_mode_is_delivered_with_650_whatever_the_recipient(client: Client) -> None:
    resp = await client.post(
        "/v3/example.com/messages",
        data={**SEND, "to": "bounce@example.com", "o:testmode": "yes"},
        headers=AUTH,
    )
    assert resp.status == 200
    found = await events(client)
    assert [e["event"] for e in found] == ["accepted", "delivered"]
    assert found[1]["delivery-status"]["code"] == 650


async def test_events_can_be_added_to_a_stored_message(client: Client) -> None:
    message_id = await send(client, "a@example.com, b@example.com")
    url = f"/mockgun/events/example.com/clicked/{message_id}"
    resp = await client.post(url, json={"recipient": "b@example.com", "url": "https://x.test/p"})
    assert resp.status == 201
    [clicked] = (await resp.json())["items"]
    assert (clicked["recipient"], clicked["url"]) == ("b@example.com", "https://x.test/p")
    resp = await client.post(
        f"/mockgun/events/example.com/failed/{message_id}", data={"severity": "temporary"}
    )
    assert [e["severity"] for e in (await resp.json())["items"]] == ["temporary", "temporary"]
    kinds = [(e["event"], e["recipient"]) for e in await events(client, "&event=clicked OR failed")]
    assert kinds == [
        ("clicked", "b@example.com"),
        ("failed", "a@example.com"),
        ("failed", "b@example.com"),
    ]
    for path, status in [
        (f"/mockgun/events/example.com/exploded/{message_id}", 400),
        ("/mockgun/events/example.com/opened/nope@example.com", 404),
        (f"/mockgun/events/other.example/opened/{message_id}", 404),
    ]:
        assert (await client.post(path)).status == status
    bad = await client.post(url, json={"recipient": "stranger@example.com"})
    assert bad.status == 404
