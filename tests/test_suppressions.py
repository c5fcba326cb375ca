"""Mailgun's suppression lists, filled by bounces, complaints and unsubscribes and enforced at
send, with the official Python SDK and mailgun.js running an app's bounce flow unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import requests
from mailgun.client import Client as MailgunClient
from support import AUTH, NODE_DIR, Client, MockgunProcess, inspect_json

SEND = {"from": "shop@example.com", "subject": "s", "text": "t"}


def outcome(server: MockgunProcess, message_id: str) -> tuple[str, str | None, int | None]:
    """The last event of a one-recipient message: (event, reason, delivery-status code)."""
    detail = inspect_json(
        server.base_url, server.ca_file, f"/mockgun/messages/{message_id.strip('<>')}", "k"
    )
    last = detail["events"][-1]
    return last["event"], last.get("reason"), last.get("delivery-status", {}).get("code")


def test_python_sdk_bounce_flow(
    mockgun_process: MockgunProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = mockgun_process
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    mg = MailgunClient(auth=("api", "key-sdk"), api_url=server.base_url)
    domain = "bounces.example.com"

    def send(to: str) -> str:
        resp = mg.messages.create(domain=domain, data={**SEND, "to": to})
        assert resp.status_code == 200, resp.text
        return str(resp.json()["id"])

    # A magic bounce@ recipient bounces, and the bounce lands in the list.
    assert outcome(server, send("bounce@example.com"))[:2] == ("failed", "bounce")
    listed = mg.bounces.get(domain=domain).json()["items"]
    assert [b["address"] for b in listed] == ["bounce@example.com"]
    assert listed[0]["code"] == "550"
    # An address that bounced once (the bounce added as Mailgun's own would be, through the
    # inspection API): the next send is accepted, not delivered.
    first = send("ann@example.com")
    requests.post(
        f"{server.base_url}/mockgun/events/{domain}/failed/{first.strip('<>')}",
        json={"severity": "permanent"},
        verify=str(server.ca_file),
        timeout=10,
    ).raise_for_status()
    assert mg.bounces.get(domain=domain, bounce_address="ann@example.com").status_code == 200
    assert outcome(server, send("ann@example.com")) == ("failed", "suppress-bounce", 605)
    # The app clears the bounce: delivery resumes.
    removed = mg.bounces.delete(domain=domain, bounce_address="ann@example.com")
    assert removed.json()["message"] == "Bounced address has been removed"
    assert outcome(server, send("ann@example.com"))[0] == "delivered"


def test_mailgun_js_bounce_flow(node_modules: Any, spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn("--domain", "mg.example.com")
    out = subprocess.run(
        [
            str(shutil.which("node")),
            str(NODE_DIR / "mailgun_js.mjs"),
            server.base_url,
            "key",
            "bounce-flow",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(server.ca_file)},
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["listed"] == ["bounce+js@example.com"]
    assert outcome(server, result["second"]) == ("failed", "suppress-bounce", 605)
    assert result["removed"] == "Bounced address has been removed"
    assert result["unsubscribed"] == ["news"]  # mailgun.js posts a JSON array


async def test_unsubscribes_by_tag_complaints_and_the_allowlist(client: Client) -> None:
    base = "/v3/example.com"
    add = await client.post(
        f"{base}/unsubscribes",
        json=[{"address": "tagged@example.com", "tags": ["news"]}],
        headers=AUTH,
    )
    assert (await add.json())["message"] == "1 addresses have been added to the unsubscribes table"
    await client.post(f"{base}/complaints", data={"address": "angry@example.com"}, headers=AUTH)
    await client.post(f"{base}/whitelists", data={"domain": "trusted.example"}, headers=AUTH)

    async def last_event(to: str, tag: str | None = None) -> dict[str, Any]:
        data = {**SEND, "to": to, **({"o:tag": tag} if tag else {})}
        sent = await (await client.post(f"{base}/messages", data=data, headers=AUTH)).json()
        detail = await (
            await client.get(f"/mockgun/messages/{sent['id'].strip('<>')}", headers=AUTH)
        ).json()
        return dict(detail["events"][-1])

    assert (await last_event("tagged@example.com", "news"))["reason"] == "suppress-unsubscribe"
    assert (await last_event("tagged@example.com", "receipts"))["event"] == "delivered"
    complaint = await last_event("angry@example.com")
    assert complaint["reason"] == "suppress-complaint"
    assert complaint["delivery-status"]["code"] == 605
    # An allowlisted domain's bounces never enter the bounce list.
    assert (await last_event("bounce@trusted.example"))["reason"] == "bounce"
    missing = await client.get(f"{base}/bounces/bounce@trusted.example", headers=AUTH)
    assert missing.status == 404
    assert (await missing.json()) == {"message": "Address not found in bounces table"}


async def test_pages_import_and_delete_all(client: Client) -> None:
    base = "/v3/example.com/bounces"
    records = [{"address": f"u{n:04d}@example.com", "code": "551"} for n in range(1000)]
    resp = await client.post(base, json=records, headers=AUTH)
    assert (await resp.json())["message"] == "1000 addresses have been added to the bounces table"
    over = await client.post(base, json=[*records, {"address": "x@example.com"}], headers=AUTH)
    assert over.status == 400
    page = await (await client.get(f"{base}?limit=300", headers=AUTH)).json()
    assert page["items"][0]["address"] == "u0000@example.com" and len(page["items"]) == 300
    nxt = await (
        await client.get(page["paging"]["next"].split(str(client.port), 1)[1], headers=AUTH)
    ).json()
    assert nxt["items"][0]["address"] == "u0300@example.com"
    csv = "address,code,error\ncsv1@example.com,552,full\ncsv2@example.com,,\n"
    form = aiohttp_form("file", csv.encode(), "bounces.csv")
    imported = await client.post(f"{base}/import", data=form, headers=AUTH)
    assert (await imported.json())["message"] == "file uploaded successfully"
    one = await (await client.get(f"{base}/csv1@example.com", headers=AUTH)).json()
    assert (one["code"], one["error"]) == ("552", "full")
    bad = await client.post(base, data={"address": "not an address"}, headers=AUTH)
    assert bad.status == 400
    cleared = await client.delete(base, headers=AUTH)
    assert (await cleared.json())[
        "message"
    ] == "Bounced addresses for this domain have been removed"
    assert (await (await client.get(base, headers=AUTH)).json())["items"] == []


def aiohttp_form(field: str, data: bytes, filename: str) -> Any:
    form = aiohttp.FormData()
    form.add_field(field, data, filename=filename, content_type="text/csv")
    return form


def test_a_json_array_that_arrives_in_pieces_is_read_whole(mockgun_process: MockgunProcess) -> None:
    # Over TLS, 1,000 records (about 60 KB) come in several records and reads.
    server = mockgun_process
    records = [{"address": f"piece{n:04d}@example.com", "error": "x" * 20} for n in range(1000)]
    resp = requests.post(
        f"{server.base_url}/v3/pieces.example.com/bounces",
        json=records,
        auth=("api", "k"),
        verify=str(server.ca_file),
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["message"] == "1000 addresses have been added to the bounces table"


async def test_the_inspection_api_shows_and_resets_every_list(client: Client) -> None:
    await client.post("/v3/a.example/bounces", data={"address": "x@example.com"}, headers=AUTH)
    await client.post("/v3/b.example/complaints", data={"address": "y@example.com"}, headers=AUTH)
    shown = await (await client.get("/mockgun/suppressions")).json()
    assert shown["domains"]["a.example"]["bounces"][0]["address"] == "x@example.com"
    assert shown["domains"]["b.example"]["complaints"][0]["address"] == "y@example.com"
    cleared = await client.delete("/mockgun/suppressions")
    assert (await cleared.json()) == {"deleted": 2}
    assert (await (await client.get("/mockgun/suppressions")).json()) == {"domains": {}}
