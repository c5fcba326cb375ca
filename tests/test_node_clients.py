"""mailgun.js and nodemailer-mailgun-transport, unchanged, against a TLS-1.2-only mockgun.

The Node packages are pinned in tests/clients/node (package-lock.json) and installed by the
``node_modules`` fixture (conftest.py) when missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import MockgunProcess, inspect_json, run_node

KEY = "key-node-clients"


@pytest.fixture(scope="module")
def node(node_modules: Path) -> str:
    return str(shutil.which("node"))


@pytest.fixture
def server(spawn: Callable[..., MockgunProcess]) -> MockgunProcess:
    return spawn("--tls-max", "1.2", "--api-key", KEY, "--domain", "mg.example.com")


def inspect(server: MockgunProcess, path: str) -> Any:
    return inspect_json(server.base_url, server.ca_file, path, KEY)


def test_mailgun_js_send(node: str, server: MockgunProcess) -> None:
    result = run_node(node, server, "mailgun_js.mjs", KEY, "send")
    assert result["status"] == 200 and result["message"] == "Queued. Thank you."
    stored = inspect(server, f"/mockgun/messages/{result['id']}")
    assert stored["tls"]["version"] == "TLSv1.2"
    assert [box["address"] for box in stored["to"]] == ["ann@example.com", "bob@example.com"]
    assert stored["tags"] == ["receipts", "2026"]
    assert stored["fields"]["o:tracking"] == ["yes"]  # mailgun.js turns true into "yes"
    assert stored["user_variables"] == {"order-id": "A-1001"}
    assert [(a["field"], a["filename"]) for a in stored["attachments"]] == [
        ("attachment", "receipt.pdf"),
        ("inline", "logo.png"),
    ]
    assert dict(stored["headers"])["X-Order"] == "A-1001"


def test_mailgun_js_mime_send_events_paging_and_errors(node: str, server: MockgunProcess) -> None:
    mime = run_node(node, server, "mailgun_js.mjs", KEY, "mime")
    assert mime["status"] == 200
    assert inspect(server, f"/mockgun/messages/{mime['id']}")["endpoint"] == "messages.mime"
    for _ in range(2):
        assert run_node(node, server, "mailgun_js.mjs", KEY, "send")["status"] == 200
    # mailgun.js parses every paging URL with new URL(): they must be absolute and its own.
    events = run_node(node, server, "mailgun_js.mjs", KEY, "events")
    assert events == {"first": 2, "next": 2, "pages": ["first", "last", "next", "previous"]}
    denied = run_node(node, server, "mailgun_js.mjs", "wrong-key", "send")
    assert denied["status"] == 401 and denied["details"] == "Forbidden"


def test_nodemailer_mailgun_transport(node: str, server: MockgunProcess) -> None:
    result = run_node(node, server, "nodemailer_mailgun.mjs", KEY)
    assert result["message"] == "Queued. Thank you.", result
    # The transport sends nodemailer's messageId as h:Message-Id: Mailgun keeps it as the id.
    assert result["id"] == "<order-1001@shop.example>"
    stored = inspect(server, f"/mockgun/messages/{result['id']}")
    # It joins the recipients into one comma-separated `to` field.
    [to_field] = stored["fields"]["to"]
    assert to_field.replace(", ", ",") == "ann@example.com,Bob <bob@example.com>"
    assert [box["address"] for box in stored["to"]] == ["ann@example.com", "bob@example.com"]
    assert stored["tls"]["version"] == "TLSv1.2"
    assert [a["filename"] for a in stored["attachments"]] == ["note.txt"]


def test_mailgun_js_templates_and_templated_sends(node: str, server: MockgunProcess) -> None:
    # mailgun.js's domainTemplates client, as a deploy script uses it, then two sends.
    result = run_node(node, server, "mailgun_js.mjs", KEY, "templates")
    assert result["created"] == 200 and result["active"] == "v2"
    assert result["names"] == ["receipt"] and result["tags"] == ["v1", "v2"]
    ann = inspect(server, f"/mockgun/messages/{result['sent'].strip('<>')}")
    assert ann["subject"] == "Receipt for Ann"  # the version's Subject header, rendered
    assert ann["html"] == "<p>Dear VIP Ann</p><ul><li>A1 x2</li></ul><b>plan two</b>"
    bob = inspect(server, f"/mockgun/messages/{result['byHeader'].strip('<>')}")
    assert (bob["subject"], bob["html"]) == ("Receipt for Bob", "<p>Old Bob</p>")
