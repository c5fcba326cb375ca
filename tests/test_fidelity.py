"""Mailgun fidelity at the handler level: options, MIME, batches, events, storage, domains."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr
from typing import Any

import pytest
from aiohttp import FormData
from hypothesis import given, settings
from hypothesis import strategies as st
from support import AUTH, Client

from mockgun import Config, create_app
from mockgun.mailgun.send import parse_mailboxes

MakeClient = Callable[..., Awaitable[Client]]
BASE = {"from": "Shop <shop@example.com>", "to": "a@example.com", "subject": "hi", "text": "t"}


async def send(client: Client, data: Any, domain: str = "example.com") -> tuple[int, Any]:
    resp = await client.post(f"/v3/{domain}/messages", data=data, headers=AUTH)
    return resp.status, await resp.json()


async def eml(client: Client, message_id: str) -> EmailMessage:
    resp = await client.get(f"/mockgun/messages/{message_id}.eml")
    assert resp.status == 200 and resp.content_type == "message/rfc822"
    parsed = BytesParser(policy=policy.default).parsebytes(await resp.read())
    assert isinstance(parsed, EmailMessage)
    return parsed


BOOLEANS = "yes, no, true, false"
BAD_OPTIONS = [
    ({"o:testmode": "maybe"}, f"'o:testmode' parameter must be one of {BOOLEANS}, not 'maybe'"),
    (
        {"o:tracking": "sometimes"},
        f"'o:tracking' parameter must be one of {BOOLEANS} or htmlonly, not 'sometimes'",
    ),
    ({"o:tag": [f"t{i}" for i in range(11)]}, "Too many tags: 11 given, max is 10 per message"),
    ({"o:tag": "x" * 129}, "Tag 'xxxxxxxxxxxxxxxxxxxx...' is longer than 128 characters"),
    ({"o:deliverytime": "tomorrow"}, "tomorrow is not an RFC-2822 compliant date"),
    ({"h:X-Ünicode": "v"}, "Header name must be pure ASCII: X-Ünicode"),
    ({"h:Bad Name": "v"}, "Header name is not valid: 'Bad Name'"),
    (
        {"h:X-Inject": "a\r\nBcc: evil@example.com"},
        "Header value of X-Inject must not contain line breaks or control characters",
    ),
    ({"t:variables": "[1, 2]"}, "'t:variables' parameter is not a valid JSON"),
    (
        {"recipient-variables": '{"a@example.com": 1}'},
        "'recipient-variables' parameter is not a valid JSON",
    ),
]


@pytest.mark.parametrize(("extra", "message"), BAD_OPTIONS)
async def test_bad_options_get_a_400_saying_what_is_wrong(
    client: Client, extra: dict[str, Any], message: str
) -> None:
    form = FormData()
    for name, value in {**BASE, **extra}.items():
        for item in value if isinstance(value, list) else [value]:
            form.add_field(name, item)
    status, body = await send(client, form)
    assert (status, body) == (400, {"message": message})


async def test_booleans_are_case_insensitive_and_unicode_is_stripped_from_tags(
    client: Client,
) -> None:
    data = {**BASE, "o:testmode": "True", "o:tracking": "HTMLONLY", "o:tag": ["Üñï", "café"]}
    status, body = await send(client, data)
    assert status == 200, body
    listed = (await (await client.get("/mockgun/messages")).json())["items"]
    assert listed[0]["test_mode"] is True
    assert listed[0]["tags"] == ["caf"]  # "Üñï" has no ASCII at all and is ignored, as Mailgun does


async def test_mime_has_everything_that_was_sent_and_no_bcc(client: Client) -> None:
    form = FormData()
    fields = [
        ("from", "Shop <shop@example.com>"),
        ("to", '"Last, First" <a@example.com>, b@example.com'),
        ("cc", "c@example.com"),
        ("bcc", "hidden@example.com"),
        ("subject", "Grüße"),
        ("text", "plain body"),
        ("html", '<p>hi <img src="cid:logo.png"></p>'),
        ("o:tag", "receipts"),
        ("o:tag", "eu"),
        ("v:order", "1234"),
        ("v:json", '{"a": 1}'),
        ("h:Reply-To", "help@example.com"),
        ("h:X-Custom", "yes"),
        ("h:Message-Id", "<mine@x>"),
    ]
    for name, value in fields:
        form.add_field(name, value)
    form.add_field("attachment", b"a,b\n", filename="report.csv", content_type="text/csv")
    form.add_field("inline", b"\x89PNG\r\n", filename="logo.png", content_type="image/png")
    status, body = await send(client, form)
    assert status == 200, body
    msg = await eml(client, body["id"])
    assert msg["Message-Id"] == body["id"]  # h:Message-Id does not replace Mailgun's id
    assert msg["From"] == "Shop <shop@example.com>"
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@example.com", "b@example.com"]
    assert msg["To"].addresses[0].display_name == "Last, First"
    assert msg["Cc"] == "c@example.com" and msg["Bcc"] is None
    assert b"hidden@example.com" not in (
        await (await client.get(f"/mockgun/messages/{body['id']}.eml")).read()
    )
    assert msg["Subject"] == "Grüße" and msg["Date"] is not None
    assert (msg["Reply-To"], msg["X-Custom"]) == ("help@example.com", "yes")
    assert msg.get_all("X-Mailgun-Tag") == ["receipts", "eu"]
    assert json.loads(msg["X-Mailgun-Variables"]) == {"order": "1234", "json": '{"a": 1}'}
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and plain.get_content().rstrip() == "plain body"
    assert html is not None and "cid:logo.png" in html.get_content()
    [attachment] = list(msg.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("report.csv", "a,b\n")
    inline = [p for p in msg.walk() if p["Content-ID"] == "<logo.png>"]
    assert inline and inline[0].get_payload(decode=True) == b"\x89PNG\r\n"


async def test_batch_send_makes_one_copy_per_recipient(client: Client) -> None:
    variables = {
        "a@example.com": {"name": "Ann", "id": 1},
        "b@example.com": {"name": "Bob", "id": 2},
    }
    data = {
        **BASE,
        "to": ["Ann <a@example.com>", "b@example.com"],
        "subject": "Hi %recipient.name%",
        "text": "Your id is %recipient.id%.%recipient.nope%",
        "recipient-variables": json.dumps(variables),
    }
    status, body = await send(client, data)
    assert status == 200
    detail = await (await client.get(f"/mockgun/messages/{body['id']}")).json()
    copies = {
        c["recipient"]: BytesParser(policy=policy.default).parsebytes(c["mime"].encode())
        for c in detail["copies"]
    }
    assert set(copies) == {"a@example.com", "b@example.com"}
    ann, bob = copies["a@example.com"], copies["b@example.com"]
    assert (ann["Subject"], str(ann["To"])) == ("Hi Ann", "Ann <a@example.com>")
    assert (bob["Subject"], str(bob["To"])) == ("Hi Bob", "b@example.com")
    assert bob.get_body(("plain",)).get_content().rstrip() == "Your id is 2."  # type: ignore[union-attr]


async def events(client: Client, query: str = "", domain: str = "example.com") -> dict[str, Any]:
    resp = await client.get(f"/v3/{domain}/events{query}", headers=AUTH)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def follow(client: Client, url: str) -> dict[str, Any]:
    path = url.split("://", 1)[1].split("/", 1)[1]
    resp = await client.get("/" + path, headers=AUTH)
    assert resp.status == 200
    return dict(await resp.json())


async def test_accepted_and_delivered_events_per_recipient(client: Client) -> None:
    data = {**BASE, "to": "a@example.com, B <b@example.net>", "o:tag": "t1", "v:k": "v"}
    _, body = await send(client, data)
    page = await events(client, "?ascending=yes")
    items = page["items"]
    assert [(e["event"], e["recipient"]) for e in items] == [
        ("accepted", "a@example.com"),
        ("accepted", "b@example.net"),
        ("delivered", "a@example.com"),
        ("delivered", "b@example.net"),
    ]
    accepted = items[0]
    assert accepted["message"]["headers"]["message-id"] == body["id"].strip("<>")
    assert accepted["message"]["headers"]["to"] == "a@example.com, B <b@example.net>"
    assert accepted["flags"] == {"is-authenticated": True, "is-test-mode": False}
    assert accepted["tags"] == ["t1"] and accepted["user-variables"] == {"k": "v"}
    assert accepted["recipient-domain"] == "example.com"
    assert isinstance(accepted["timestamp"], float) and len({e["id"] for e in items}) == 4
    storage = accepted["storage"]
    assert (
        storage["url"]
        == f"http://{client.host}:{client.port}/v3/domains/example.com/messages/{storage['key']}"
    )
    delivered = items[2]
    assert (
        delivered["delivery-status"]["tls"] is True and delivered["delivery-status"]["code"] == 250
    )
    assert set(page["paging"]) == {"first", "last", "next", "previous"}
    assert all(
        u.startswith(f"http://{client.host}:{client.port}/v3/example.com/events/")
        for u in page["paging"].values()
    )


async def test_test_mode_is_delivered_with_650_and_no_deliver_gives_only_accepted(
    aiohttp_client: MakeClient,
) -> None:
    # Mailgun: "Sending in Test Mode will not actually deliver an email but will emit a
    # `delivered` event with a 650 status code".
    client = await aiohttp_client(create_app(Config()))
    await send(client, {**BASE, "o:testmode": "yes"})
    items = (await events(client))["items"]
    got = [(e["event"], e["flags"]["is-test-mode"]) for e in items]
    assert got == [("delivered", True), ("accepted", True)]
    assert items[0]["delivery-status"]["code"] == 650
    quiet = await aiohttp_client(create_app(Config(deliver=False)))
    await send(quiet, BASE)
    assert [e["event"] for e in (await events(quiet))["items"]] == ["accepted"]


async def test_event_filters(client: Client) -> None:
    _, first = await send(
        client, {**BASE, "to": "x@example.com", "subject": "Invoice 1", "o:tag": "billing"}
    )
    await send(
        client, {**BASE, "to": "y@example.com", "subject": "Welcome", "from": "other@example.com"}
    )
    await send(client, BASE, domain="other.example")

    async def pairs(query: str) -> list[tuple[str, str]]:
        return [
            (e["event"], e["recipient"])
            for e in (await events(client, "?ascending=yes&" + query))["items"]
        ]

    assert await pairs("event=accepted") == [
        ("accepted", "x@example.com"),
        ("accepted", "y@example.com"),
    ]
    assert await pairs("event=delivered&recipient=Y@example.com") == [
        ("delivered", "y@example.com")
    ]
    assert await pairs("tags=billing&event=accepted") == [("accepted", "x@example.com")]
    assert await pairs("subject=invoice&event=accepted") == [("accepted", "x@example.com")]
    assert await pairs("from=other@example.com&event=accepted") == [("accepted", "y@example.com")]
    assert await pairs(f"message-id={first['id']}&event=accepted") == [
        ("accepted", "x@example.com")
    ]
    assert await pairs(f"message-id={first['id'].strip('<>')}&event=delivered") == [
        ("delivered", "x@example.com")
    ]
    assert await pairs("event=accepted OR delivered&recipient=x@example.com") == [
        ("accepted", "x@example.com"),
        ("delivered", "x@example.com"),
    ]
    assert len((await events(client, "", domain="other.example"))["items"]) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?limit=301", "'limit' must be between 1 and 300"),
        ("?limit=x", "'limit' must be a whole number"),
        ("?begin=yesterday", "'begin' must be epoch seconds or an RFC 2822 date"),
        (
            "?begin=100&end=50&ascending=yes",
            "'ascending' contradicts the order of 'begin' and 'end'",
        ),
    ],
)
async def test_bad_event_queries(client: Client, query: str, message: str) -> None:
    resp = await client.get(f"/v3/example.com/events{query}", headers=AUTH)
    assert (resp.status, await resp.json()) == (400, {"message": message})


async def test_walking_next_returns_700_messages_events_exactly_once(client: Client) -> None:
    for i in range(700):
        status, _ = await send(client, {**BASE, "to": f"u{i}@example.com", "o:testmode": "yes"})
        assert status == 200
    page = await events(client, "?ascending=yes&limit=300&event=accepted")
    seen: list[str] = []
    while page["items"]:
        seen += [e["recipient"] for e in page["items"]]
        page = await follow(client, page["paging"]["next"])
    assert seen == [f"u{i}@example.com" for i in range(700)]
    # The last next page is empty now and fills up as new events arrive.
    await send(client, {**BASE, "to": "late@example.com", "o:testmode": "yes"})
    assert [e["recipient"] for e in (await follow(client, page["paging"]["next"]))["items"]] == [
        "late@example.com"
    ]
    # Newest first by default; previous walks back.
    newest = await events(client, "?limit=2&event=accepted")
    assert [e["recipient"] for e in newest["items"]] == ["late@example.com", "u699@example.com"]
    older = await follow(client, newest["paging"]["next"])
    assert [e["recipient"] for e in older["items"]] == ["u698@example.com", "u697@example.com"]
    back = await follow(client, older["paging"]["previous"])
    assert [e["recipient"] for e in back["items"]] == ["late@example.com", "u699@example.com"]
    last = await follow(client, newest["paging"]["last"])
    assert [e["recipient"] for e in last["items"]] == ["u1@example.com", "u0@example.com"]


async def test_stored_message_json_rfc2822_attachments_and_resend(client: Client) -> None:
    form = FormData()
    for name, value in {**BASE, "html": "<b>hi</b>", "o:tag": "x"}.items():
        form.add_field(name, value)
    form.add_field("attachment", b"PDF!", filename="a.pdf", content_type="application/pdf")
    _, body = await send(client, form)
    url = (await events(client))["items"][0]["storage"]["url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    resp = await client.get(path, headers=AUTH)
    stored = await resp.json()
    assert stored["recipients"] == "a@example.com" and stored["sender"] == "shop@example.com"
    assert stored["subject"] == "hi"
    assert (stored["body-plain"].rstrip(), stored["body-html"].rstrip()) == ("t", "<b>hi</b>")
    assert ["Message-Id", body["id"]] in stored["message-headers"]
    assert stored["X-Mailgun-Tag"] == "x"
    # The top-level MIME headers are keys of their own too, as in Mailgun's stored messages.
    assert (stored["To"], stored["Message-Id"], stored["Mime-Version"]) == (
        "a@example.com",
        body["id"],
        "1.0",
    )
    assert stored["Content-Type"].startswith("multipart/mixed")
    [attachment] = stored["attachments"]
    assert (attachment["name"], attachment["size"], attachment["content-type"]) == (
        "a.pdf",
        4,
        "application/pdf",
    )
    raw = await client.get(
        "/" + attachment["url"].split("://", 1)[1].split("/", 1)[1], headers=AUTH
    )
    assert await raw.read() == b"PDF!"
    mime = await (await client.get(path, headers={**AUTH, "Accept": "message/rfc2822"})).json()
    assert set(mime) == {"recipients", "sender", "from", "subject", "body-mime"}
    assert body["id"] in mime["body-mime"]
    missing = await client.get("/v3/domains/example.com/messages/nope", headers=AUTH)
    assert (missing.status, await missing.json()) == (404, {"message": "Message not found"})
    assert (await client.get(path)).status == 401

    resent = await client.post(path, data={"to": "again@example.com"}, headers=AUTH)
    again = await resent.json()
    assert (
        resent.status == 200
        and again["message"] == "Queued. Thank you."
        and again["id"] != body["id"]
    )
    recipients = [
        e["recipient"] for e in (await events(client, "?event=accepted&ascending=yes"))["items"]
    ]
    assert recipients == ["a@example.com", "again@example.com"]


async def test_domains(aiohttp_client: MakeClient) -> None:
    open_client = await aiohttp_client(create_app(Config()))
    await send(open_client, BASE, domain="sent.example")
    listing = await (await open_client.get("/v3/domains", headers=AUTH)).json()
    assert listing["total_count"] == 1 and listing["items"][0]["name"] == "sent.example"
    configured = await aiohttp_client(
        create_app(Config(domains=frozenset({"a.example", "b.example"})))
    )
    listing = await (await configured.get("/v3/domains?limit=1&skip=1", headers=AUTH)).json()
    assert listing["total_count"] == 2 and [d["name"] for d in listing["items"]] == ["b.example"]
    one = await (await configured.get("/v3/domains/a.example", headers=AUTH)).json()
    assert one["domain"]["name"] == "a.example" and one["domain"]["state"] == "active"
    assert one["receiving_dns_records"] and one["sending_dns_records"]
    missing = await configured.get("/v3/domains/zzz.example", headers=AUTH)
    assert (missing.status, await missing.json()) == (
        404,
        {"message": "Domain not found: zzz.example"},
    )


async def test_inspection_filters_since_and_eviction(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(Config(max_messages=3)))
    ids = []
    for i in range(5):
        _, body = await send(
            client, {**BASE, "from": f"s{i}@example.com", "subject": f"n{i}", "o:tag": f"t{i % 2}"}
        )
        ids.append(body["id"])
    listing = await (await client.get("/mockgun/messages")).json()
    assert [m["id"] for m in listing["items"]] == ids[2:] and listing["evicted"] == 2
    assert (await (await client.get("/mockgun/health")).json())["messages_evicted"] == 2

    async def found(query: str) -> list[str]:
        return [
            m["id"]
            for m in (await (await client.get(f"/mockgun/messages?{query}")).json())["items"]
        ]

    assert await found("from=s3@example.com") == [ids[3]]
    assert await found("subject=N4") == [ids[4]]
    assert await found("tag=t0") == [ids[2], ids[4]]
    assert await found(f"since={ids[2]}") == ids[3:]
    assert await found("since=2000-01-01T00:00:00Z") == ids[2:]
    assert (await client.get("/mockgun/messages?since=whenever")).status == 400


async def test_wait_returns_when_the_message_arrives(client: Client) -> None:
    waiting = asyncio.ensure_future(
        client.get("/mockgun/messages/wait?to=late@example.com&timeout=10")
    )
    await send(client, {**BASE, "to": "other@example.com"})
    await asyncio.sleep(0)  # the other message does not end the wait
    assert not waiting.done()
    _, body = await send(client, {**BASE, "to": "late@example.com"})
    resp = await waiting
    assert resp.status == 200 and (await resp.json())["id"] == body["id"]
    timeout = await client.get("/mockgun/messages/wait?to=never@example.com&timeout=0.05")
    assert (timeout.status, await timeout.json()) == (
        408,
        {"message": "no matching message within 0.05s"},
    )


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12)
locals_ = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,10}", fullmatch=True)
domains = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z]{2,5}){1,2}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(names, st.builds(lambda local, domain: f"{local}@{domain}", locals_, domains)),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_recipient_lists_parse_back_to_the_same_addresses(
    boxes: list[tuple[str, str]], fields: int
) -> None:
    formatted = [formataddr((name.strip(), addr)) for name, addr in boxes]
    # Spread the recipients over 1-3 repeated fields, each a comma-separated list.
    values = [", ".join(formatted[i::fields]) for i in range(fields) if formatted[i::fields]]
    parsed = parse_mailboxes(values, "to")
    expected = [addr for i in range(fields) for _, addr in boxes[i::fields]]
    assert [box.address for box in parsed] == expected


async def test_event_retention_cap_counts_what_it_evicts(
    aiohttp_client: MakeClient,
) -> None:
    client = await aiohttp_client(create_app(Config(max_events=3)))
    for i in range(3):
        await send(client, {**BASE, "to": f"u{i}@example.com"})  # 2 events each
    items = (await events(client, "?ascending=yes"))["items"]
    assert [(e["event"], e["recipient"]) for e in items] == [
        ("delivered", "u1@example.com"),
        ("accepted", "u2@example.com"),
        ("delivered", "u2@example.com"),
    ]
    health = await (await client.get("/mockgun/health")).json()
    assert (health["events"], health["events_evicted"]) == (3, 3)
