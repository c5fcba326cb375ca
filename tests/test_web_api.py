"""What the web page reads: the page itself, the sanitized HTML preview, list ordering and
search, the handshake report with its timeline, and the live stream."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from typing import Any

import requests
from aiohttp import FormData
from hypothesis import given, settings
from hypothesis import strategies as st
from support import AUTH, Client, MockgunProcess, basic

from mockgun import Config, create_app
from mockgun.api.inspect.sanitize import sanitize_html
from mockgun.api.keys import HANDSHAKES, LIVE
from mockgun.api.live import QUEUE_SIZE, Hub
from mockgun.tls.handshake_log import HandshakeLog
from mockgun.tls.records import HandshakeRecord, Outcome

MakeClient = Callable[..., Awaitable[Client]]

HOSTILE = (
    '<p onclick="steal()">Hi <b>there</b> a &lt; b</p>'
    "<script>parent.document.title='pwned'</script>"
    '<img src="https://tracker.example/pixel.gif" onerror="alert(1)">'
    '<a href=" jav&#x09;ascript:alert(2)">click</a><a href="https://shop.example/">shop</a>'
    '<iframe srcdoc="<script>alert(3)</script>"></iframe>'
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">'
    "<style>p > b { background: url('https://tracker.example/bg.png') } "
    "@import url(https://evil.example/x.css);</style>"
    '<svg><animate attributeName="href" to="javascript:alert(4)"/></svg>'
    '<div style="background:url(//tracker.example/d.png); color: red">styled</div>'
    '<img src="cid:logo.png" alt="logo"><img src="data:image/png;base64,iVBORw0KGgo=">'
)


def _no_cid(name: str) -> str | None:
    return None


def test_sanitizer_removes_script_handlers_and_remote_loads() -> None:
    clean, blocked = sanitize_html(
        HOSTILE, resolve_cid=lambda n: "/att/0" if n == "logo.png" else None
    )
    lowered = clean.lower()
    for gone in (
        "<script",
        "onclick",
        "onerror",
        "javascript:",
        "<iframe",
        "srcdoc",
        "<meta",
        "@import",
        "tracker.example/bg.png",
        "evil.example",
    ):
        assert gone not in lowered, gone
    # Kept: text (still escaped), markup, links one would click, inline CSS minus remote URLs.
    assert "<p>Hi <b>there</b> a &lt; b</p>" in clean
    assert '<a href="https://shop.example/">shop</a>' in clean
    assert "p > b { background: none }" in clean
    assert 'style="background:none; color: red"' in clean
    # A remote image is kept visible as data, never as a src the browser would fetch.
    assert 'data-mockgun-blocked-src="https://tracker.example/pixel.gif"' in clean
    assert ' src="https://' not in clean
    assert '<img src="/att/0" alt="logo">' in clean  # cid: points at the inline part
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in clean
    assert blocked >= 8


def test_sanitizer_drops_a_cid_it_cannot_resolve_and_unclosed_script_content() -> None:
    clean, _ = sanitize_html('<img src="cid:nope"><script>never()', resolve_cid=_no_cid)
    assert clean == "<img>"


def test_sanitizer_keeps_head_styles_but_not_the_title_text() -> None:
    source = "<html><head><title>Receipt</title><style>p{color:red}</style></head><body><p>x</p>"
    clean, blocked = sanitize_html(source, resolve_cid=_no_cid)
    assert clean == "<style>p{color:red}</style><p>x</p>" and blocked == 0


async def _send(client: Client, **fields: Any) -> str:
    data = {"from": "Shop <shop@example.com>", "to": "a@example.org", "subject": "s", **fields}
    resp = await client.post("/v3/example.com/messages", data=data, headers=AUTH)
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["id"]).strip("<>")


async def test_html_preview_is_sanitized_and_served_sandboxed(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app())
    message_id = await _send(client, html=HOSTILE, text="plain")
    resp = await client.get(f"/mockgun/messages/{message_id}/html")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp
    assert "script-src" not in csp  # no script source at all
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    body = await resp.text()
    assert "<script" not in body and "Hi <b>there</b>" in body
    assert int(resp.headers["X-Mockgun-Blocked"]) >= 8
    text_only = await _send(client, text="no html")
    missing = await client.get(f"/mockgun/messages/{text_only}/html")
    assert (missing.status, await missing.json()) == (
        404,
        {"message": "This message has no HTML body"},
    )
    assert (await client.get("/mockgun/messages/nope@x/html")).status == 404


async def test_html_preview_of_a_mime_send_and_inline_cid(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app())
    raw = (
        b"From: a@example.com\r\nTo: b@example.org\r\nSubject: mime\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n"
        b"<p>from mime</p><script>x()</script>\r\n--b--\r\n"
    )
    form = FormData({"to": "b@example.org"})
    form.add_field("message", raw, filename="message.mime", content_type="message/rfc822")
    resp = await client.post("/v3/example.com/messages.mime", data=form, headers=AUTH)
    assert resp.status == 200
    mime_id = str((await resp.json())["id"]).strip("<>")
    preview = await (await client.get(f"/mockgun/messages/{mime_id}/html")).text()
    assert "<p>from mime</p>" in preview and "script" not in preview

    form = FormData(
        {
            "from": "a@example.com",
            "to": "b@example.org",
            "subject": "cid",
            "html": '<img src="cid:logo.png"><img src="cid:x.html" alt="page">',
        }
    )
    form.add_field("inline", b"\x89PNG", filename="logo.png", content_type="image/png")
    form.add_field("inline", b"<svg/>", filename="x.html", content_type="text/html")
    resp = await client.post("/v3/example.com/messages", data=form, headers=AUTH)
    cid_id = str((await resp.json())["id"]).strip("<>")
    preview = await (await client.get(f"/mockgun/messages/{cid_id}/html")).text()
    # Inlined: the sandboxed preview could not fetch it from mockgun with the key.
    assert '<img src="data:image/png;base64,iVBORw==">' in preview
    assert '<img alt="page">' in preview  # a part that is not an image: neither inlined nor fetched


async def test_downloads_never_render_as_mockgun_pages(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app())
    form = FormData({"from": "a@example.com", "to": "b@example.org", "subject": "x", "text": "t"})
    form.add_field(
        "attachment", b"<script>x()</script>", filename="a.html", content_type="text/html"
    )
    resp = await client.post("/v3/example.com/messages", data=form, headers=AUTH)
    message_id = str((await resp.json())["id"]).strip("<>")
    for path in (
        f"/mockgun/messages/{message_id}/attachments/0",
        f"/mockgun/messages/{message_id}.eml",
    ):
        download = await client.get(path)
        assert download.status == 200
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert download.headers["Content-Security-Policy"].startswith("sandbox;")
    attachment = await client.get(f"/mockgun/messages/{message_id}/attachments/0")
    assert attachment.headers["Content-Disposition"].startswith("attachment;")


async def test_message_detail_has_its_headers(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app())
    message_id = await _send(client, subject="Grüße", text="t", **{"h:X-Campaign": "c1"})
    detail = await (await client.get(f"/mockgun/messages/{message_id}")).json()
    headers = dict(detail["headers"])
    assert headers["Subject"] == "Grüße"  # decoded, not =?utf-8?...
    assert headers["X-Campaign"] == "c1"
    assert headers["Message-Id"] == f"<{message_id}>"
    assert [name for name, _ in detail["headers"]][:2] == ["From", "To"]


async def test_messages_search_order_limit_and_domains(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app())
    for n, (to, subject, tag) in enumerate(
        [
            ("ann@a.example", "Invoice 7", "billing"),
            ("bob@b.example", "Welcome", "onboarding"),
            ("cy@c.example", "Receipt", "BILLING-eu"),
        ]
    ):
        data = {"from": "shop@example.com", "to": to, "subject": subject, "text": "t", "o:tag": tag}
        resp = await client.post(f"/v3/d{n}.example/messages", data=data, headers=AUTH)
        assert resp.status == 200

    async def subjects(query: str) -> list[str]:
        body = await (await client.get(f"/mockgun/messages?{query}")).json()
        return [m["subject"] for m in body["items"]]

    assert await subjects("order=newest") == ["Receipt", "Welcome", "Invoice 7"]
    assert await subjects("order=newest&limit=1") == ["Receipt"]
    assert await subjects("q=billing") == ["Invoice 7", "Receipt"]  # tags, any case
    assert await subjects("q=BOB@") == ["Welcome"]  # recipients
    assert await subjects("q=invoice") == ["Invoice 7"]  # subject
    assert await subjects("q=shop@") == ["Invoice 7", "Welcome", "Receipt"]  # sender
    assert await subjects("q=billing&domain=d2.example") == ["Receipt"]
    body = await (await client.get("/mockgun/messages?limit=1")).json()
    assert body["total"] == 3 and body["domains"] == ["d0.example", "d1.example", "d2.example"]
    for bad in ("order=sideways", "limit=-1", "limit=x"):
        resp = await client.get(f"/mockgun/messages?{bad}")
        assert resp.status == 400 and "message" in await resp.json()


def _record(
    conn_id: int, ts: str, outcome: Outcome, version: str | None = None, **more: Any
) -> HandshakeRecord:
    record: HandshakeRecord = {
        "ts": ts,
        "conn_id": conn_id,
        "peer": "127.0.0.1:1",
        "outcome": outcome,
    }
    record["tls_version"] = version
    record.update(more)  # type: ignore[typeddict-item]
    return record


async def test_handshakes_newest_first_without_health_checks_and_the_report(
    aiohttp_client: MakeClient,
) -> None:
    app = create_app()
    log = app[HANDSHAKES]
    log.write(_record(1, "2026-01-01T10:00:00.000Z", "ok", "TLSv1.3", ja4="t13a", cipher="X"))
    log.write(_record(2, "2026-01-01T10:00:00.500Z", "ok", "TLSv1.2", ja4="t12b", cipher="Y"))
    log.write(
        _record(3, "2026-01-01T10:00:01.200Z", "rejected", client_max_version="TLSv1.0", ja4="t10c")
    )
    log.write(_record(4, "2026-01-01T10:00:02.000Z", "ok", "TLSv1.3", healthcheck=True))
    log.write(_record(5, "2026-01-01T10:00:03.900Z", "timeout"))
    client = await aiohttp_client(app)

    async def conn_ids(query: str) -> list[int]:
        body = await (await client.get(f"/mockgun/handshakes?{query}")).json()
        return [h["conn_id"] for h in body["items"]]

    assert await conn_ids("order=newest") == [5, 4, 3, 2, 1]
    assert await conn_ids("order=newest&limit=2") == [5, 4]
    assert await conn_ids("order=newest&healthchecks=0&limit=2") == [5, 3]
    assert await conn_ids("outcome=ok&healthchecks=0") == [1, 2]
    assert (await client.get("/mockgun/handshakes?healthchecks=maybe")).status == 400

    report = await (await client.get("/mockgun/handshakes/report")).json()
    assert report["missed"] == 0 and report["legacy_found"]  # the TLS 1.0 client
    assert report["attempts"] == 4 and report["healthchecks_left_out"] == 1
    assert report["outcomes"] == {"ok": 2, "rejected": 1, "timeout": 1}
    assert [c["ja4"] for c in report["clients"]] == ["t13a", "t12b", "t10c"]
    assert [c["legacy"] for c in report["clients"]] == [False, False, True]
    timeline = report["timeline"]
    assert timeline["bucket_seconds"] == 1
    assert timeline["series"] == ["TLSv1.3", "TLSv1.2", "refused", "failed"]
    assert [b["counts"] for b in timeline["buckets"]] == [
        {"TLSv1.3": 1, "TLSv1.2": 1},
        {"refused": 1},
        {},
        {"failed": 1},
    ]
    assert timeline["buckets"][0]["start"] == "2026-01-01T10:00:00.000Z"
    coarse = await (await client.get("/mockgun/handshakes/report?buckets=2")).json()
    assert coarse["timeline"]["bucket_seconds"] == 2
    assert sum(sum(b["counts"].values()) for b in coarse["timeline"]["buckets"]) == 4


async def test_the_report_counts_each_record_once_and_says_what_it_missed(
    aiohttp_client: MakeClient,
) -> None:
    log = HandshakeLog.in_memory(memory=3)
    client = await aiohttp_client(create_app(handshakes=log))

    async def report() -> dict[str, Any]:
        return dict(await (await client.get("/mockgun/handshakes/report")).json())

    log.write(_record(1, "2026-01-01T10:00:00.000Z", "ok", "TLSv1.3", ja4="a"))
    assert (await report())["outcomes"] == {"ok": 1}
    assert (await report())["outcomes"] == {"ok": 1}  # asked again: not counted twice
    log.write(_record(2, "2026-01-01T10:00:01.000Z", "rejected", ja4="b"))
    first = await report()
    assert first["outcomes"] == {"ok": 1, "rejected": 1} and first["legacy_found"]
    assert [c["count"] for c in first["clients"]] == [1, 1]
    for n in range(3, 9):  # six more while nobody asks: three fall out of memory first
        log.write(_record(n, f"2026-01-01T10:00:0{n}.000Z", "ok", "TLSv1.2", ja4="a"))
    later = await report()
    assert later["missed"] == 3 and later["outcomes"] == {"ok": 4, "rejected": 1}


async def _read_events(resp: Any, count: int) -> list[tuple[str, dict[str, Any]]]:
    """The next ``count`` SSE events from a streaming response (comments skipped)."""
    events: list[tuple[str, dict[str, Any]]] = []

    async def read() -> None:
        kind = None
        while len(events) < count:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: ") and kind is not None:
                events.append((kind, json.loads(line[len("data: ") :])))
                kind = None

    await asyncio.wait_for(read(), 10)
    return events


async def test_stream_sends_messages_events_handshakes_and_clears(
    aiohttp_client: MakeClient,
) -> None:
    app = create_app(Config(deliver=False))
    client = await aiohttp_client(app)
    resp = await client.get("/mockgun/stream")
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    assert (await resp.content.readline()).startswith(b"retry: ")
    message_id = await _send(client, text="live")
    app[HANDSHAKES].write(_record(9, "2026-01-01T10:00:00.000Z", "rejected"))
    await client.delete("/mockgun/messages")
    events = await _read_events(resp, 4)
    assert [kind for kind, _ in events] == ["message", "event", "handshake", "cleared"]
    assert events[0][1] == {
        "id": f"<{message_id}>",
        "domain": "example.com",
        "subject": "s",
        "received_at": events[0][1]["received_at"],
    }
    accepted = events[1][1]
    assert accepted["event"] == "accepted" and accepted["message_id"] == message_id
    assert accepted["recipient"] == "a@example.org" and accepted["domain"] == "example.com"
    assert events[2][1]["conn_id"] == 9
    # Stopping the server ends the stream (it must not hold the shutdown up).
    app[LIVE].close()
    rest = await asyncio.wait_for(resp.content.read(), 10)
    assert rest.strip() == b""  # the end of the last event
    assert len(app[LIVE]) == 0


async def test_a_reader_that_falls_behind_is_dropped_not_waited_for(
    aiohttp_client: MakeClient,
) -> None:
    hub = Hub()
    slow = hub.subscribe()
    for n in range(QUEUE_SIZE + 10):
        hub.publish("handshake", {"n": n})  # never blocks
    assert len(hub) == 0 and slow.ended
    received: list[int] = []
    while (batch := await slow.next()) is not None:
        received.extend(update.data["n"] for update in batch)
    assert received == list(range(QUEUE_SIZE - 1))  # in order, then the end


async def test_page_and_assets_are_served_with_a_strict_policy(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app())
    for path in ("/", "/mockgun"):
        resp = await client.get(path, allow_redirects=False)
        assert (resp.status, resp.headers["Location"]) == (302, "/mockgun/")
    page = await client.get("/mockgun/")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert '<script src="/mockgun/ui/app.js" defer></script>' in html
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    csp = page.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp and "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    )
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = await client.get(f"/mockgun/ui/{name}")
        assert asset.status == 200 and asset.content_type == kind
        assert "innerHTML" not in await asset.text()  # message data goes in as text only
    assert (await client.get("/mockgun/ui/../app.py")).status == 404
    assert (await client.get("/mockgun/ui/nothing.js")).status == 404


async def test_page_follows_the_inspection_auth_rules(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(Config(api_key="secret")))
    assert (await client.get("/", allow_redirects=False)).status == 302  # says nothing
    for path in (
        "/mockgun/",
        "/mockgun/ui/app.js",
        "/mockgun/stream",
        "/mockgun/handshakes/report",
    ):
        denied = await client.get(path)
        assert (denied.status, await denied.text()) == (401, "Forbidden")
        # A browser asks for the key only when told the scheme.
        assert denied.headers["WWW-Authenticate"].startswith('Basic realm="mockgun"')
    allowed = await client.get("/mockgun/", headers=basic("api", "secret"))
    assert allowed.status == 200
    # The Mailgun API answers with Mailgun's own challenge.
    mailgun = await client.post("/v3/example.com/messages", data={"to": "x@y"})
    assert mailgun.status == 401 and mailgun.headers["WWW-Authenticate"] == 'Basic realm="MG API"'


def test_open_streams_do_not_hold_up_a_stop(spawn: Callable[..., MockgunProcess]) -> None:
    """A browser tab left open must not make SIGTERM wait for the shutdown timeout."""
    server = spawn("--shutdown-timeout", "30")
    stream = requests.get(
        f"{server.base_url}/mockgun/stream", stream=True, verify=str(server.ca_file), timeout=10
    )
    lines = stream.iter_lines()
    assert next(lines).startswith(b"retry: ")
    started = time.monotonic()
    assert server.stop(timeout=10) == 0
    assert time.monotonic() - started < 10  # not the 30 s shutdown timeout
    rest = [line for line in lines if line and not line.startswith(b":")]  # comments aside
    assert rest == []  # and the stream ended cleanly


_FRAGMENTS = [
    "<script>",
    "</script>",
    "<SCRIPT SRC=//e.example/x.js>",
    "<img src=",
    "<img/src=",
    "<svg",
    "<iframe",
    "</iframe>",
    "<object data=",
    "<a href=",
    "<style>",
    "</style>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<math>",
    "<base href=",
    "<meta http-equiv=refresh content=",
    " onload=",
    " ONERROR=",
    " on\x00click=",
    " style=",
    " srcdoc=",
    " formaction=",
    " xlink:href=",
    '"',
    "'",
    "`",
    ">",
    "<",
    "/",
    "=",
    " ",
    "\t",
    "\n",
    "javascript:",
    "jav&#x09;ascript:",
    "&#106;avascript:",
    "java\x00script:",
    "https://e.example/p.gif",
    "//e.example/p",
    "url(",
    ")",
    "@import ",
    "cid:logo",
    "data:image/png;base64,AA",
    "data:text/html,<script>",
    "alert(1)",
    "&lt;",
    "&#",
    "<noscript>",
    "<template>",
    "<textarea>",
    "<title>",
    "</",
    "x",
    "é",
]


_FETCHED = {"src", "background", "poster", "data", "xlink:href"}


class _Findings(HTMLParser):
    """What a browser-like reading of sanitized output finds that would run or fetch."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "iframe", "object", "embed", "base", "meta", "link", "frame"}:
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            compact = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(value or "")).lower()
            if name.startswith("on") or name in {"srcdoc", "formaction", "srcset"}:
                self.bad.append(name)
            elif compact.startswith(("javascript:", "vbscript:")) or (
                name in _FETCHED and not compact.startswith(("/mockgun/", "data:image/"))
            ):
                self.bad.append(f"{name}={value}")

    handle_startendtag = handle_starttag


@settings(deadline=None)  # examples: the profile (HYPOTHESIS_PROFILE=long for many)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join))
def test_sanitized_output_has_nothing_that_runs_or_fetches(source: str) -> None:
    clean, _ = sanitize_html(
        source, resolve_cid=lambda name: f"/mockgun/messages/m/attachments/{name}"
    )
    findings = _Findings()
    findings.feed(clean)
    findings.close()
    assert findings.bad == [], (source, clean)
