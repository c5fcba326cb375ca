"""django-anymail's Mailgun backend, unchanged, against a TLS-1.2-only mockgun."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import MockgunProcess, inspect_json

KEY = "key-anymail"
APP = Path(__file__).parent / "clients" / "anymail_app.py"


@pytest.fixture
def server(spawn: Callable[..., MockgunProcess]) -> MockgunProcess:
    return spawn("--tls-max", "1.2", "--api-key", KEY, "--domain", "mg.example.com")


def run_app(server: MockgunProcess, scenario: str, *, key: str = KEY) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(APP), f"{server.base_url}/v3", key, scenario],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "REQUESTS_CA_BUNDLE": str(server.ca_file)},
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def inspect(server: MockgunProcess, path: str) -> Any:
    return inspect_json(server.base_url, server.ca_file, path, KEY)


def test_anymail_send_is_queued_and_stored_as_sent(server: MockgunProcess) -> None:
    result = run_app(server, "send")
    assert result["status"] == ["queued"]  # anymail read mockgun's "Queued. Thank you."
    ids = set(result["recipients"].values())
    assert len(ids) == 1  # one message for every recipient, the id mockgun returned
    [message_id] = ids
    stored = inspect(server, f"/mockgun/messages/{message_id}")
    assert stored["tls"]["version"] == "TLSv1.2"
    assert stored["endpoint"] == "messages" and stored["domain"] == "mg.example.com"
    assert [box["address"] for box in stored["to"]] == ["ann@example.com", "bob@example.com"]
    assert [box["address"] for box in stored["bcc"]] == ["audit@example.com"]
    assert stored["tags"] == ["receipts"]
    assert stored["user_variables"] == {"order_id": "A-1001"}
    assert stored["fields"]["o:tracking-clicks"] == ["yes"]
    assert stored["fields"]["h:X-Order"] == ["A-1001"]
    assert [a["filename"] for a in stored["attachments"]] == ["receipt.pdf"]
    headers = dict(stored["headers"])
    assert headers["From"] == "Shop <shop@mg.example.com>" and "Bcc" not in headers


def test_anymail_batch_send_substitutes_per_recipient(server: MockgunProcess) -> None:
    result = run_app(server, "batch")
    assert result["status"] == ["queued"]
    [message_id] = set(result["recipients"].values())
    copies = inspect(server, f"/mockgun/messages/{message_id}")["copies"]
    subjects = {
        c["recipient"]: c["mime"].split("Subject: ", 1)[1].split("\n", 1)[0].strip() for c in copies
    }
    assert subjects == {"ann@example.com": "Hello Ann", "bob@example.com": "Hello Bob"}
    # merge_metadata: each recipient's own values, in their copy and in their events.
    variables = {
        c["recipient"]: json.loads(email.message_from_string(c["mime"])["X-Mailgun-Variables"])
        for c in copies
    }
    assert variables["ann@example.com"]["customer"] == "c-1"
    assert variables["bob@example.com"]["customer"] == "c-2"
    events = inspect(server, f"/mockgun/messages/{message_id}")["events"]
    seen = {(e["recipient"], e["user-variables"]["customer"]) for e in events}
    assert seen == {("ann@example.com", "c-1"), ("bob@example.com", "c-2")}


def test_anymail_sees_mailguns_errors(server: MockgunProcess) -> None:
    denied = run_app(server, "send", key="wrong-key")
    assert denied["error"] == "AnymailRequestsAPIError" and denied["status_code"] == 401
    assert "Forbidden" in denied["text"]
    unknown = run_app(server, "unknown-domain")
    assert unknown["status_code"] == 404 and "Domain not found" in unknown["text"]
