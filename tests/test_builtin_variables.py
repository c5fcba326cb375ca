"""Mailgun's built-in per-recipient variables (``%recipient_name%``, ``%unsubscribe_url%``, ...)
in each recipient's copy, and the unsubscribe links they carry: opened by a mail client with no
key, they record an ``unsubscribed`` event."""

from __future__ import annotations

import email
from collections.abc import Callable
from email import policy
from typing import Any

import requests
from support import MockgunProcess, inspect_json

KEY = "key-builtins"


def copies_of(server: MockgunProcess, message_id: str) -> dict[str, Any]:
    detail = inspect_json(server.base_url, server.ca_file, f"/mockgun/messages/{message_id}", KEY)
    return {
        c["recipient"]: email.message_from_string(c["mime"], policy=policy.default)
        for c in detail["copies"]
    }


def test_each_recipient_gets_their_own_values_and_a_working_unsubscribe_link(
    spawn: Callable[..., MockgunProcess],
) -> None:
    server = spawn("--api-key", KEY)
    text = (
        "Hi %recipient_fname% (%recipient_lname%), this went to %recipient_email% "
        "(%recipient%). Leave: %unsubscribe_url% or tag: %tag_unsubscribe_url%"
    )
    resp = requests.post(
        f"{server.base_url}/v3/example.com/messages",
        data={
            "from": "news@example.com",
            "to": "Ann Lee <ann@example.com>, bob@example.com",
            "subject": "News for %recipient_name%",
            "text": text,
            "o:tag": "newsletter",
            # Ghost's bulk mail: a one-click unsubscribe address in a header.
            "h:List-Unsubscribe": "<%tag_unsubscribe_email%>",
        },
        auth=("api", KEY),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    message_id = resp.json()["id"].strip("<>")
    copies = copies_of(server, message_id)
    ann, bob = copies["ann@example.com"], copies["bob@example.com"]
    assert ann["Subject"] == "News for Ann Lee" and bob["Subject"] == "News for "
    assert ann["To"] == "Ann Lee <ann@example.com>, bob@example.com"  # To as sent
    body = ann.get_body(("plain",)).get_content()
    assert body.startswith(
        "Hi Ann (Lee), this went to ann@example.com (Ann Lee <ann@example.com>)."
    )
    # The inspection API answers "what did Ann receive?", rendered for her.
    received = inspect_json(
        server.base_url,
        server.ca_file,
        f"/mockgun/messages/{message_id}/received/ann@example.com",
        KEY,
    )
    assert (received["subject"], received["text"].split(",")[0]) == (
        "News for Ann Lee",
        "Hi Ann (Lee)",
    )
    assert ann["List-Unsubscribe"].startswith("<unsubscribe+")
    assert ann["List-Unsubscribe"].endswith("@example.com>")
    link = body.split("Leave: ", 1)[1].split(" ", 1)[0]
    assert link.startswith(f"{server.base_url}/mockgun/unsubscribe/")

    # A mail client opens it: no key, even with --api-key set.
    opened = requests.get(link, verify=str(server.ca_file), timeout=10)
    assert opened.status_code == 200 and "ann@example.com is unsubscribed" in opened.text
    events = requests.get(
        f"{server.base_url}/v3/example.com/events?event=unsubscribed",
        auth=("api", KEY),
        verify=str(server.ca_file),
        timeout=10,
    ).json()["items"]
    assert [(e["recipient"], e["tags"]) for e in events] == [("ann@example.com", ["newsletter"])]
    assert (
        requests.get(link[:-3] + "xyz", verify=str(server.ca_file), timeout=10).status_code == 404
    )
