"""Inbound mail end to end: routes made by the official SDKs, a real multipart message handed
to ``POST /mockgun/inbound``, and a Django app (django-anymail's inbound view, unchanged)
that receives the parsed POST and checks its signature as any app would."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import requests
from mailgun.client import Client
from support import DEADLINE, MockgunProcess, read_jsonl, run_node, wait_for

SIGNING_KEY = "key-inbound-signing"
RECEIVER = Path(__file__).parent / "clients" / "inbound_receiver.py"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Receiver:
    proc: subprocess.Popen[str]
    url: str
    record_file: Path

    def records(self) -> list[dict[str, Any]]:
        return read_jsonl(self.record_file) if self.record_file.exists() else []

    def wait(self, count: int, path: str = "") -> list[dict[str, Any]]:
        def found() -> list[dict[str, Any]]:
            hits = [r for r in self.records() if r["path"].startswith(path)]
            return hits if len(hits) >= count else []

        hits: list[dict[str, Any]] = wait_for(found, what=f"{count} POSTs to {path}")
        return hits


def start_receiver(tmp_path: Path, key: str = SIGNING_KEY) -> Receiver:
    record_file = tmp_path / f"received-{key}.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(RECEIVER), key, str(record_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=DEADLINE) or proc.poll() is not None:
        proc.kill()
        raise AssertionError(
            f"the receiver did not start: {proc.stderr.read() if proc.stderr else ''}"
        )
    line = proc.stdout.readline()
    selector.close()
    assert line.startswith("PORT "), line
    return Receiver(proc, f"http://127.0.0.1:{int(line.split()[1])}", record_file)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    app = start_receiver(tmp_path)
    yield app
    app.proc.kill()
    app.proc.wait()


@pytest.fixture
def server(spawn: Callable[..., MockgunProcess]) -> MockgunProcess:
    return spawn("--webhook-signing-key", SIGNING_KEY)


@pytest.fixture
def sdk(server: MockgunProcess, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    return Client(auth=("api", "key-sdk"), api_url=server.base_url)


TEXT = (
    "The amount should be 40 EUR, not 42.\n"
    "\n"
    "-- \n"
    "Ann Customer\n"
    "Customer Ltd.\n"
    "\n"
    "On Tue, 1 Dec 2026 at 10:00, Billing <billing@app.example.com> wrote:\n"
    "> Your invoice #42 is attached.\n"
)


def route(sdk: Client, expression: str, *actions: str) -> None:
    resp = sdk.routes.create(data={"expression": expression, "action": list(actions)})
    assert resp.status_code == 200, resp.text


def reply_with_everything() -> bytes:
    """A reply as a mail client writes it: text with a signature and a quoted message,
    HTML with a Gmail quote, an inline image the HTML shows by cid, and a PDF."""
    msg = EmailMessage()
    msg["From"] = "Ann Customer <ann@customer.example>"
    msg["To"] = "support-billing@app.example.com"
    msg["Subject"] = "Re: Invoice #42 — wrong amount"
    msg["Message-Id"] = make_msgid(domain="customer.example")
    msg["X-Ticket"] = "T-42"
    msg.set_content(TEXT)
    msg.add_alternative(
        '<div>The amount should be 40 EUR, not 42.<img src="cid:logo@customer"></div>'
        '<div class="gmail_quote">On Tue ... wrote:<blockquote>Your invoice</blockquote></div>',
        subtype="html",
    )
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(PNG, "image", "png", cid="<logo@customer>", filename="logo.png")
    msg.add_attachment(b"%PDF-1.7 corrected", "application", "pdf", filename="invoice-42.pdf")
    return msg.as_bytes()


def post_inbound(server: MockgunProcess, raw: bytes, **params: str) -> dict[str, Any]:
    resp = requests.post(
        f"{server.base_url}/mockgun/inbound",
        params=params,
        data=raw,
        headers={"Content-Type": "message/rfc822"},
        verify=str(server.ca_file),
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_python_sdk_route_forwards_parsed_mail_to_a_django_app(
    server: MockgunProcess, sdk: Client, receiver: Receiver
) -> None:
    created = sdk.routes.create(
        data={
            "priority": 1,
            "description": "support desk",
            "expression": r"match_recipient('^support-(?P<team>\w+)@app\.example\.com$')",
            "action": [
                f"forward('{receiver.url}/anymail/mailgun/inbound/?team=\\g<team>')",
                "stop()",
            ],
        }
    )
    assert created.status_code == 200, created.text
    route = created.json()["route"]
    assert created.json()["message"] == "Route has been created"
    # A lower-priority catch-all never fires: the first route stops the waterfall.
    sdk.routes.create(data={"priority": 5, "expression": "catch_all()", "action": ["store()"]})
    assert sdk.routes.get(route_id=route["id"]).json()["route"]["priority"] == 1
    matched = sdk.routes_match.get(filters={"address": "support-billing@app.example.com"})
    assert matched.json()["route"]["id"] == route["id"]

    result = post_inbound(server, reply_with_everything())
    assert result["routes"] == {"support-billing@app.example.com": [route["id"]]}
    assert [d["status"] for d in result["deliveries"]] == [200]
    assert result["stored"] == []  # stop() kept the catch-all's store() from running

    (got,) = receiver.wait(1, "/anymail/")
    assert got["query"] == {"team": ["billing"]}  # the capture, filled into the URL
    seen = got["anymail"]  # what the app's inbound signal handler got, signature checked
    assert seen["envelope_recipient"] == "support-billing@app.example.com"
    assert seen["envelope_sender"] == "ann@customer.example"
    assert seen["subject"] == "Re: Invoice #42 — wrong amount"
    assert seen["text"].startswith("The amount should be 40 EUR, not 42.")
    assert seen["stripped_text"] == "The amount should be 40 EUR, not 42."
    assert "gmail_quote" in seen["html"] and "gmail_quote" not in seen["stripped_html"]
    assert seen["attachments"] == [
        {"filename": "invoice-42.pdf", "content_type": "application/pdf", "size": 18}
    ]
    assert seen["inlines"] == {"logo@customer": {"content_type": "image/png", "size": len(PNG)}}
    assert seen["headers"]["X-Ticket"] == "T-42"


def test_parsed_fields_and_signature_as_mailgun_documents_them(
    server: MockgunProcess, sdk: Client, receiver: Receiver
) -> None:
    route(sdk, "match_recipient('.*@app.example.com')", f"forward('{receiver.url}/notify/')")
    post_inbound(server, reply_with_everything())
    (got,) = receiver.wait(1, "/notify/")
    assert got["signed"]  # HMAC-SHA256(signing key, timestamp + token)
    fields = got["fields"]
    assert len(fields["token"]) == 50 and fields["timestamp"].isdigit()
    assert fields["stripped-signature"] == "-- \nAnn Customer\nCustomer Ltd."
    assert fields["attachment-count"] == "2"
    assert got["files"] == {"attachment-1": "logo.png", "attachment-2": "invoice-42.pdf"}
    assert json.loads(fields["content-id-map"]) == {"<logo@customer>": "attachment-1"}
    headers = json.loads(fields["message-headers"])
    assert ["X-Ticket", "T-42"] in headers and fields["X-Ticket"] == "T-42"
    assert fields["Subject"] == fields["subject"] == "Re: Invoice #42 — wrong amount"


def test_mime_url_gets_the_raw_message(
    server: MockgunProcess, sdk: Client, receiver: Receiver
) -> None:
    route(
        sdk,
        "match_recipient('.*@app.example.com')",
        f"forward('{receiver.url}/anymail/mailgun/inbound/mime')",
    )
    raw = reply_with_everything()
    post_inbound(server, raw)
    (got,) = receiver.wait(1, "/anymail/")
    # anymail parsed the body-mime itself: the same message, byte for byte, parts and all.
    assert got["anymail"]["subject"] == "Re: Invoice #42 — wrong amount"
    names = [a["filename"] for a in got["anymail"]["attachments"]]
    assert names == ["logo.png", "invoice-42.pdf"]  # anymail's raw parse lists inline too
    assert got["anymail"]["text"] == TEXT


def test_retries_after_500_and_none_after_406(
    server: MockgunProcess, sdk: Client, receiver: Receiver
) -> None:
    route(sdk, "match_recipient('flaky@app.example.com')", f"forward('{receiver.url}/flaky/1/')")
    route(sdk, "match_recipient('picky@app.example.com')", f"forward('{receiver.url}/reject/')")
    raw = reply_with_everything()
    first = post_inbound(server, raw, to="flaky@app.example.com")
    assert [d["status"] for d in first["deliveries"]] == [500]
    rejected = post_inbound(server, raw, to="picky@app.example.com")
    assert [(d["status"], d.get("rejected")) for d in rejected["deliveries"]] == [(406, True)]
    # The retry comes on the compressed schedule (0.5 s); the 406 is never retried.
    statuses = [r["status"] for r in receiver.wait(2, "/flaky/")]
    assert statuses == [500, 200]

    def attempts() -> list[tuple[str, int, int]]:
        items = requests.get(
            f"{server.base_url}/mockgun/inbound/deliveries", verify=str(server.ca_file), timeout=10
        ).json()["items"]
        return [(i["recipient"], i["attempt"], i["status"]) for i in items]

    wait_for(lambda: len(attempts()) == 3, what="three attempts recorded")
    assert sorted(attempts()) == [
        ("flaky@app.example.com", 1, 500),
        ("flaky@app.example.com", 2, 200),
        ("picky@app.example.com", 1, 406),
    ]
    assert len(receiver.records()) == 3  # and still no second try at /reject/


def test_wrong_signing_key_is_refused_by_the_app(
    server: MockgunProcess, sdk: Client, tmp_path: Path
) -> None:
    """The receiver really checks: with another key, anymail refuses the POST."""
    other = start_receiver(tmp_path, key="key-someone-else")
    try:
        route(sdk, "catch_all()", f"forward('{other.url}/anymail/mailgun/inbound/')")
        result = post_inbound(server, reply_with_everything())
        assert [d["status"] for d in result["deliveries"]] == [400]
        assert other.records() == []  # the signal never fired
    finally:
        other.proc.kill()
        other.proc.wait()


def test_store_notify_then_poll_stored_events_and_fetch(
    server: MockgunProcess, sdk: Client, receiver: Receiver
) -> None:
    route(
        sdk, "match_recipient('archive@app.example.com')", f"store(notify='{receiver.url}/notify/')"
    )
    result = post_inbound(server, reply_with_everything(), to="archive@app.example.com")
    assert [d["kind"] for d in result["deliveries"]] == ["notify"]
    (notified,) = receiver.wait(1, "/notify/")
    assert notified["signed"]
    message_url = notified["fields"]["message-url"]
    assert [a["name"] for a in json.loads(notified["fields"]["attachments"])] == [
        "logo.png",
        "invoice-42.pdf",
    ]
    # An app that polls instead: event=stored, then storage.url, with the SDK's key.
    events = sdk.events.get(domain="app.example.com", filters={"event": "stored"}).json()
    (stored,) = events["items"]
    assert stored["storage"]["url"] == message_url
    assert stored["recipient"] == "archive@app.example.com"
    fetched = requests.get(
        message_url, auth=("api", "key-sdk"), verify=str(server.ca_file), timeout=10
    ).json()
    assert fetched["subject"] == "Re: Invoice #42 — wrong amount"
    assert fetched["stripped-text"] == "The amount should be 40 EUR, not 42."
    raw = requests.get(
        message_url,
        auth=("api", "key-sdk"),
        headers={"Accept": "message/rfc2822"},
        verify=str(server.ca_file),
        timeout=10,
    ).json()
    assert "invoice-42.pdf" in raw["body-mime"]


def test_forward_to_address_and_list_both_apply(server: MockgunProcess, sdk: Client) -> None:
    sdk.lists.create(data={"address": "team@app.example.com"})
    sdk.lists_members.create(
        address="team@app.example.com", data={"address": "dev@example.com", "subscribed": "yes"}
    )
    route(sdk, "match_recipient('team@app.example.com')", "forward('archive@example.org')")
    result = post_inbound(server, reply_with_everything(), to="team@app.example.com")
    assert len(result["forwarded"]) == 1 and len(result["lists"]) == 1
    sent = requests.get(
        f"{server.base_url}/mockgun/messages", verify=str(server.ca_file), timeout=10
    ).json()["items"]
    recipients = sorted(tuple(m["recipients"]) for m in sent)
    assert recipients == [("archive@example.org",), ("dev@example.com",)]


def test_mailgun_js_creates_a_route_that_forwards(
    node_modules: Path, server: MockgunProcess, receiver: Receiver
) -> None:
    result = run_node(
        "node",
        server,
        "mailgun_js.mjs",
        "key",
        "routes",
        f"{receiver.url}/anymail/mailgun/inbound/",
    )
    assert result["listed"] == [result["id"]] and result["matched"] == result["id"]
    assert result["updated"] == "Route has been updated" and result["priority"] == 2
    post_inbound(server, reply_with_everything(), to="orders-emea@shop.example.com")
    (got,) = receiver.wait(1, "/anymail/")
    assert got["query"] == {"region": ["emea"]}
    assert got["anymail"]["stripped_text"] == "The amount should be 40 EUR, not 42."
