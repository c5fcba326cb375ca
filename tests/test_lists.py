"""Mailing lists: mailgun.js runs a newsletter flow unchanged, and a send to the list becomes
one rendered copy per subscribed member, whose unsubscribe link takes them off the list."""

from __future__ import annotations

import email
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import Any

import requests
from support import AUTH, Client, MockgunProcess, inspect_json, run_node


def detail(server: MockgunProcess, message_id: str) -> dict[str, Any]:
    found: dict[str, Any] = inspect_json(
        server.base_url, server.ca_file, f"/mockgun/messages/{message_id.strip('<>')}", "k"
    )
    return found


def test_newsletter_flow_with_mailgun_js(
    node_modules: Path, spawn: Callable[..., MockgunProcess]
) -> None:
    server = spawn("--domain", "mg.example.com")
    result = run_node("node", server, "mailgun_js.mjs", "key", "newsletter")
    assert result["members"] == [
        ["ann@example.com", True],
        ["bob@example.com", True],
        ["cy@example.com", False],
    ]
    sent = detail(server, result["sent"])
    copies = {
        c["recipient"]: email.message_from_string(c["mime"], policy=policy.default)
        for c in sent["copies"]
    }
    assert sorted(copies) == ["ann@example.com", "bob@example.com"]  # Cy unsubscribed
    assert copies["ann@example.com"]["Subject"] == "Hello Ann"
    kinds = sorted((e["recipient"], e["event"]) for e in sent["events"])
    assert kinds == [
        ("ann@example.com", "accepted"),
        ("ann@example.com", "delivered"),
        ("bob@example.com", "accepted"),
        ("bob@example.com", "delivered"),
    ]
    # Bob follows his copy's %mailing_list_unsubscribe_url%: off the list, nothing more.
    body = copies["bob@example.com"].get_content()
    link = body.split("Leave the list: ", 1)[1].split()[0]
    assert requests.get(link, verify=str(server.ca_file), timeout=10).status_code == 200
    member = requests.get(
        f"{server.base_url}/v3/lists/news@mg.example.com/members/bob@example.com",
        auth=("api", "key"),
        verify=str(server.ca_file),
        timeout=10,
    ).json()["member"]
    assert member["subscribed"] is False
    send = {"from": "shop@mg.example.com", "subject": "2", "text": "t"}
    again = requests.post(
        f"{server.base_url}/v3/mg.example.com/messages",
        data={
            "from": "shop@mg.example.com",
            "to": "news@mg.example.com",
            "subject": "2",
            "text": "t",
        },
        auth=("api", "key"),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert [c["recipient"] for c in detail(server, again.json()["id"])["copies"]] == [
        "ann@example.com"
    ]
    # The list unsubscribe is no global one: a direct send to Bob is delivered.
    direct = requests.post(
        f"{server.base_url}/v3/mg.example.com/messages",
        data={**send, "to": "bob@example.com"},
        auth=("api", "key"),
        verify=str(server.ca_file),
        timeout=10,
    )
    last = detail(server, direct.json()["id"])["events"][-1]
    assert last["event"] == "delivered", (last.get("reason"), last.get("delivery-status"))


async def test_lists_api_shapes_and_errors(client: Client) -> None:
    made = await client.post(
        "/v3/lists", data={"address": "dev@example.com", "name": "Dev"}, headers=AUTH
    )
    body = await made.json()
    assert body["message"] == "Mailing list has been created"
    assert body["list"]["members_count"] == 0 and body["list"]["access_level"] == "readonly"
    dup = await client.post("/v3/lists", data={"address": "dev@example.com"}, headers=AUTH)
    assert dup.status == 400
    bad = await client.post("/v3/lists", data={"address": "nope"}, headers=AUTH)
    assert bad.status == 400
    member = await client.post(
        "/v3/lists/dev@example.com/members",
        data={"address": "a@example.com", "vars": '{"x": 1}'},
        headers=AUTH,
    )
    assert (await member.json())["message"] == "Mailing list member has been created"
    again = await client.post(
        "/v3/lists/dev@example.com/members", data={"address": "a@example.com"}, headers=AUTH
    )
    assert again.status == 400
    pages = await (await client.get("/v3/lists/dev@example.com/members/pages", headers=AUTH)).json()
    assert [m["address"] for m in pages["items"]] == ["a@example.com"]
    missing = await client.get("/v3/lists/none@example.com", headers=AUTH)
    assert (missing.status, (await missing.json())["message"]) == (404, "Mailing list not found")
    gone = await client.delete("/v3/lists/dev@example.com", headers=AUTH)
    assert (await gone.json())["message"] == "Mailing list has been removed"


async def test_the_inspection_api_shows_and_resets_lists(client: Client) -> None:
    await client.post("/v3/lists", data={"address": "ops@example.com"}, headers=AUTH)
    await client.post(
        "/v3/lists/ops@example.com/members", data={"address": "a@example.com"}, headers=AUTH
    )
    shown = await (await client.get("/mockgun/lists")).json()
    assert [x["address"] for x in shown["items"]] == ["ops@example.com"]
    assert shown["items"][0]["members"][0]["address"] == "a@example.com"
    assert (await (await client.delete("/mockgun/lists")).json()) == {"deleted": 1}
    assert (await (await client.get("/mockgun/lists")).json()) == {"items": []}
