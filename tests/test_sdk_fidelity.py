"""The official Mailgun SDK for Python, unchanged, against a TLS-1.2-only mockgun."""

from __future__ import annotations

import json
import ssl
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
import requests
from mailgun.client import Client
from support import MockgunProcess, inspect_json

KEY = "key-sdk-fidelity"


@pytest.fixture
def server(
    spawn: Callable[..., MockgunProcess], monkeypatch: pytest.MonkeyPatch
) -> Iterator[MockgunProcess]:
    server = spawn("--tls-max", "1.2", "--api-key", KEY, "--domain", "mg.example.com")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    yield server


@pytest.fixture
def client(server: MockgunProcess) -> Any:
    return Client(auth=("api", KEY), api_url=server.base_url)


def eml(server: MockgunProcess, message_id: str) -> EmailMessage:
    resp = requests.get(
        f"{server.base_url}/mockgun/messages/{message_id}.eml", auth=("api", KEY), timeout=10
    )
    resp.raise_for_status()
    parsed = BytesParser(policy=policy.default).parsebytes(resp.content)
    assert isinstance(parsed, EmailMessage)
    return parsed


def detail(server: MockgunProcess, message_id: str) -> dict[str, Any]:
    url = f"{server.base_url}/mockgun/messages/{message_id}"
    return dict(requests.get(url, auth=("api", KEY), timeout=10).json())


def test_sdk_send_with_attachments_inline_tags_and_variables(
    server: MockgunProcess, client: Any
) -> None:
    data = {
        "from": "Shop <shop@mg.example.com>",
        "to": ["Ann <ann@example.com>", "bob@example.com"],
        "subject": "Your receipt",
        "text": "Thanks!",
        "html": '<p>Thanks! <img src="cid:logo.png"></p>',
        "o:tag": ["receipts", "2026"],
        "v:order-id": "A-1001",
    }
    files = [
        ("attachment", ("receipt.pdf", b"%PDF-1.7 receipt")),
        ("attachment", ("items.csv", b"sku,qty\n1,2\n")),
        ("inline", ("logo.png", b"\x89PNG\r\n\x1a\n")),
    ]
    resp = client.messages.create(data=data, files=files, domain="mg.example.com")
    assert resp.status_code == 200, resp.text
    message_id = resp.json()["id"]
    assert detail(server, message_id)["tls"]["version"] == "TLSv1.2"

    msg = eml(server, message_id)  # the stored MIME parses back to what was sent
    assert msg["Message-Id"] == message_id
    assert [a.addr_spec for a in msg["To"].addresses] == ["ann@example.com", "bob@example.com"]
    assert msg["Subject"] == "Your receipt"
    assert msg.get_all("X-Mailgun-Tag") == ["receipts", "2026"]
    assert json.loads(msg["X-Mailgun-Variables"]) == {"order-id": "A-1001"}
    assert msg.get_body(("plain",)).get_content().rstrip() == "Thanks!"  # type: ignore[union-attr]
    assert [(p.get_filename(), p.get_payload(decode=True)) for p in msg.iter_attachments()] == [
        ("receipt.pdf", b"%PDF-1.7 receipt"),
        ("items.csv", b"sku,qty\n1,2\n"),
    ]
    [logo] = [p for p in msg.walk() if p["Content-ID"] == "<logo.png>"]
    assert logo.get_content_type() == "image/png"


def test_sdk_batch_send(server: MockgunProcess, client: Any) -> None:
    variables = {"ann@example.com": {"first": "Ann"}, "bob@example.com": {"first": "Bob"}}
    resp = client.messages.create(
        data={
            "from": "shop@mg.example.com",
            "to": ["ann@example.com", "bob@example.com"],
            "subject": "Hello %recipient.first%",
            "text": "Hi %recipient.first%!",
            "recipient-variables": json.dumps(variables),
        },
        domain="mg.example.com",
    )
    assert resp.status_code == 200, resp.text
    copies = detail(server, resp.json()["id"])["copies"]
    subjects = {
        c["recipient"]: BytesParser(policy=policy.default).parsebytes(c["mime"].encode())["Subject"]
        for c in copies
    }
    assert subjects == {"ann@example.com": "Hello Ann", "bob@example.com": "Hello Bob"}


def test_sdk_mime_send(server: MockgunProcess, client: Any) -> None:
    mime = b"From: shop@mg.example.com\r\nTo: ann@example.com\r\nSubject: raw\r\n\r\nbody\r\n"
    resp = client.mimemessage.create(
        data={"to": "ann@example.com", "o:tag": "raw"},
        files={"message": mime},
        domain="mg.example.com",
    )
    assert resp.status_code == 200, resp.text
    raw = requests.get(
        f"{server.base_url}/mockgun/messages/{resp.json()['id']}.eml", auth=("api", KEY), timeout=10
    )
    assert raw.content == mime  # kept byte for byte


def test_sdk_events_with_filters_and_paging(server: MockgunProcess, client: Any) -> None:
    ids = []
    for i in range(5):
        resp = client.messages.create(
            data={
                "from": "shop@mg.example.com",
                "to": f"u{i}@example.com",
                "subject": f"n{i}",
                "text": "t",
                "o:tag": "even" if i % 2 == 0 else "odd",
            },
            domain="mg.example.com",
        )
        ids.append(resp.json()["id"])
    page = client.events.get(
        domain="mg.example.com", filters={"event": "accepted", "ascending": "yes", "limit": 2}
    ).json()
    seen = []
    while page["items"]:
        seen += [e["recipient"] for e in page["items"]]
        # Paging URLs are absolute and point back at mockgun itself.
        assert page["paging"]["next"].startswith(f"{server.base_url}/v3/mg.example.com/events/")
        page = requests.get(page["paging"]["next"], auth=("api", KEY), timeout=10).json()
    assert seen == [f"u{i}@example.com" for i in range(5)]
    tagged = client.events.get(
        domain="mg.example.com", filters={"tags": "odd", "event": "delivered"}
    )
    assert sorted(e["recipient"] for e in tagged.json()["items"]) == [
        "u1@example.com",
        "u3@example.com",
    ]
    one = client.events.get(domain="mg.example.com", filters={"message-id": ids[2].strip("<>")})
    assert {e["event"] for e in one.json()["items"]} == {"accepted", "delivered"}


def test_sdk_domains(server: MockgunProcess, client: Any) -> None:
    listing = client.domains.get()
    assert listing.status_code == 200
    assert [d["name"] for d in listing.json()["items"]] == ["mg.example.com"]
    one = client.domains.get(domain_name="mg.example.com")
    assert one.status_code == 200 and one.json()["domain"]["name"] == "mg.example.com"
    wrong = client.domains.get(domain_name="nope.example.com")
    assert wrong.status_code == 404 and wrong.json() == {
        "message": "Domain not found: nope.example.com"
    }


def test_rails_style_bracketed_field_names_are_the_plain_ones(
    mockgun_process: MockgunProcess,
) -> None:
    """mailgun-ruby up to 1.2.x sends a Rails mailer's fields as ``from[]=``, ``to[]=``,
    ``subject[]=``, ``text[]=``, ``html[]=`` (Rails' form encoding); real Mailgun takes them."""
    server = mockgun_process
    fields = [("from[]", "rails@example.com"), ("to[]", "ann@example.com")]
    fields += [("to[]", "bob@example.com"), ("subject[]", "From Rails"), ("text[]", "Hi")]
    fields += [("html[]", "<p>Hi</p>"), ("o:tag[]", "rails")]
    resp = requests.post(
        f"{server.base_url}/v3/example.com/messages",
        data=fields,
        auth=("api", "key-ruby"),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    stored = inspect_json(
        server.base_url, server.ca_file, f"/mockgun/messages/{resp.json()['id'].strip('<>')}", "k"
    )
    assert [b["address"] for b in stored["to"]] == ["ann@example.com", "bob@example.com"]
    assert (stored["subject"], stored["text"], stored["tags"]) == ("From Rails", "Hi", ["rails"])


def test_urllib_sends_credentials_only_when_challenged(
    spawn: Callable[..., MockgunProcess],
) -> None:
    """Python's urllib auth handler (like Java's Authenticator and .NET's NetworkCredential)
    sends the key only after a 401 with ``WWW-Authenticate``, which Mailgun's 401 carries."""
    server = spawn("--api-key", "key-urllib")
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, server.base_url, "api", "key-urllib")
    context = ssl.create_default_context(cafile=str(server.ca_file))
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context),
        urllib.request.HTTPBasicAuthHandler(passwords),
    )
    body = urllib.parse.urlencode(
        {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}
    ).encode()
    with opener.open(f"{server.base_url}/v3/example.com/messages", data=body, timeout=10) as resp:
        assert resp.status == 200 and json.load(resp)["message"] == "Queued. Thank you."


def test_official_sdk_boolean_filters_as_python_writes_them(
    mockgun_process: MockgunProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Python SDK passes ``ascending=True`` through requests as ``True``; the real API
    takes it, as it takes ``yes``, ``true`` and ``1``."""
    server = mockgun_process
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    mg = Client(auth=("api", "key-sdk"), api_url=server.base_url)
    for value in (True, "true", "1", "yes"):
        resp = mg.events.get(domain="example.com", filters={"ascending": value, "limit": 1})
        assert resp.status_code == 200, (value, resp.text)
