"""The ``mockgun`` fixture, as another project would use it (run by pytester in a subprocess)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mockgun import Config, serve, serve_in_thread

USER_TESTS = r"""
import requests
from mailgun.client import Client

SEND = {"from": "app@example.com", "text": "hello"}


def test_official_sdk(mockgun, monkeypatch):
    for name, value in mockgun.env().items():
        monkeypatch.setenv(name, value)
    client = Client(auth=("api", mockgun.api_key), api_url=mockgun.base_url)
    resp = client.messages.create(
        domain="example.com", data={**SEND, "to": "one@example.com", "subject": "first"}
    )
    assert resp.status_code == 200, resp.text
    message = mockgun.wait_for_message(to="one@example.com", timeout=5)
    assert message["subject"] == "first" and message["id"] == resp.json()["id"]
    assert [m["subject"] for m in mockgun.messages()] == ["first"]
    [handshake] = mockgun.handshakes()
    assert handshake["outcome"] == "ok" and handshake["tls_version"] == EXPECTED_TLS


def test_requests_sees_only_its_own_messages(mockgun):
    resp = requests.post(
        f"{mockgun.api_url}/example.com/messages",
        auth=("api", mockgun.api_key),
        data={**SEND, "to": "two@example.com", "subject": "second"},
        verify=mockgun.ca_file,
    )
    assert resp.status_code == 200
    assert [m["subject"] for m in mockgun.messages()] == ["second"]
    assert len(mockgun.handshakes(outcome="ok")) == 1
    with open("server-url.txt", "w") as out:
        out.write(mockgun.base_url)


def test_inbound_mail_reaches_the_app(mockgun):
    import hashlib, hmac, threading, urllib.parse
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got = []

    class App(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    app = HTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    resp = requests.post(
        f"{mockgun.api_url}/routes",
        auth=("api", mockgun.api_key),
        data={"expression": r"match_recipient('^help-(\w+)@app\.example$')",
              "action": f"forward('http://127.0.0.1:{app.server_port}/in/\\1')"},
        verify=mockgun.ca_file,
    )
    assert resp.status_code == 200, resp.text
    done = mockgun.receive(
        {"from": "ann@example.com", "subject": "Help", "text": "Broken.\n-- \nAnn"},
        to="help-billing@app.example",
    )
    assert [d["status"] for d in done["deliveries"]] == [200]
    (path, content_type, body), = got
    assert path == "/in/billing" and content_type.startswith("multipart/form-data")
    assert b"Broken." in body and b'name="stripped-signature"' in body
    key = mockgun.env()["MAILGUN_WEBHOOK_SIGNING_KEY"].encode()
    from email.parser import BytesParser
    head = b"Content-Type: " + content_type.encode() + b"\r\n\r\n"
    form = BytesParser().parsebytes(head + body)
    fields = {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in form.get_payload()
    }
    expected = hmac.new(key, fields["timestamp"] + fields["token"], hashlib.sha256).hexdigest()
    assert fields["signature"].decode() == expected


def test_the_smtp_door_from_env(mockgun):
    import smtplib, ssl

    env = mockgun.env()
    ctx = ssl.create_default_context(cafile=mockgun.ca_file)
    with smtplib.SMTP(env["EMAIL_HOST"], int(env["EMAIL_PORT"]), timeout=10) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(env["EMAIL_HOST_USER"], env["EMAIL_HOST_PASSWORD"])
        smtp.sendmail("app@example.com", ["smtp@example.com"], "Subject: via smtp\r\n\r\nhi")
    assert mockgun.wait_for_message(to="smtp@example.com", timeout=5)["subject"] == "via smtp"
    assert env["MAILGUN_SMTP_PORT"] == str(mockgun.smtp_port)


def test_faults_last_for_one_test(mockgun):
    mockgun.fault("503 to=*@example.com")
    resp = requests.post(
        f"{mockgun.api_url}/example.com/messages", auth=("api", mockgun.api_key),
        data={**SEND, "to": "x@example.com", "subject": "s"}, verify=mockgun.ca_file,
    )
    assert resp.status_code == 503 and resp.headers["X-Mockgun-Fault"].startswith("rule-")


def test_the_next_test_has_no_faults(mockgun):
    resp = requests.post(
        f"{mockgun.api_url}/example.com/messages", auth=("api", mockgun.api_key),
        data={**SEND, "to": "x@example.com", "subject": "s"}, verify=mockgun.ca_file,
    )
    assert resp.status_code == 200


def test_wait_times_out(mockgun):
    import pytest
    with pytest.raises(TimeoutError):
        mockgun.wait_for_message(to="nobody@example.com", timeout=0.2)
"""


def run(pytester: pytest.Pytester, expected_tls: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=USER_TESTS.replace("EXPECTED_TLS", repr(expected_tls)))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_fixture_works_with_no_setup_and_isolates_tests(pytester: pytest.Pytester) -> None:
    result = run(pytester, "TLSv1.3")
    result.assert_outcomes(passed=7)
    # The session's server stopped when the session ended.
    url = (pytester.path / "server-url.txt").read_text()
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass


def test_tls_max_option(pytester: pytest.Pytester) -> None:
    run(pytester, "TLSv1.2", "--mockgun-tls-max=1.2").assert_outcomes(passed=7)


def test_tls_max_ini_setting(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmockgun_tls_max = 1.2\n")
    run(pytester, "TLSv1.2").assert_outcomes(passed=7)


def test_programmatic_use_without_pytest() -> None:

    with serve_in_thread() as server:
        resp = requests.post(
            f"{server.api_url}/example.com/messages",
            auth=("api", server.api_key),
            data={"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"},
            verify=server.ca_file,
            timeout=10,
        )
        assert resp.status_code == 200
        assert server.wait_for_message(to="b@example.com", timeout=5)["subject"] == "s"
        assert [h["outcome"] for h in server.handshakes()] == ["ok"]
        port = server.port
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass


async def test_async_with_form(tmp_path: Path) -> None:
    config = Config(port=0, certs_dir=tmp_path, handshake_log=str(tmp_path / "log.jsonl"))
    async with serve(config) as server:
        ctx = ssl.create_default_context(cafile=str(server.ca_file))
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=ctx, server_hostname="localhost"
        )
        writer.write(b"GET /mockgun/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 200")
        writer.close()
    assert [r.outcome for r in server.handshake_log.records] == ["ok"]


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """The worker process that builds messages must not run the user's script again (spawned
    workers import the parent's __main__ unless kept from it)."""
    runs = tmp_path / "runs"
    script = tmp_path / "script.py"
    script.write_text(
        "import requests, mockgun\n"
        f"open({str(runs)!r}, 'a').write('run\\n')\n"
        "with mockgun.serve_in_thread() as s:\n"
        "    form = {'from': 'a@example.com', 'to': 'b@example.com', 'subject': 's', 'text': 't'}\n"
        "    sent = requests.post(f'{s.api_url}/example.com/messages', auth=('api', s.api_key),\n"
        "                         verify=s.ca_file, data=form, timeout=30)\n"
        "    mid = sent.json()['id'].strip('<>')\n"
        "    detail = requests.get(f'{s.base_url}/mockgun/messages/{mid}', verify=s.ca_file,\n"
        "                          timeout=30)\n"
        "    print(detail.json()['subject'])\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "s"
    assert runs.read_text() == "run\n"


LEGACY_TEST = """
import socket, ssl, time


def test_a_legacy_client(mockgun):
    ctx = ssl.create_default_context(cafile=mockgun.ca_file)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that it really offers TLS 1.1
    port = int(mockgun.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        try:
            ctx.wrap_socket(sock, server_hostname="localhost")
        except ssl.SSLError:
            pass
    deadline = time.monotonic() + 10  # the line is written just after the client's alert
    while not mockgun.handshakes(outcome="rejected") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mockgun.handshakes(outcome="rejected")
"""


def test_session_summary_and_the_legacy_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_legacy=LEGACY_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == 0  # reported, not failed, unless asked
    result.stdout.re_match_lines(
        [r".*mockgun.*", r"1 TLS handshake attempt \(1 rejected\); .*LEGACY.*"]
    )
    failing = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--mockgun-fail-on-legacy")
    failing.assert_outcomes(passed=1)
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    failing.stdout.fnmatch_lines(["*failing the session: a client offered legacy TLS*"])
    pytester.makeini("[pytest]\nmockgun_fail_on_legacy = true\n")
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider").ret == 1


def test_a_session_of_modern_clients_passes_the_gate(pytester: pytest.Pytester) -> None:
    result = run(pytester, "TLSv1.3", "--mockgun-fail-on-legacy")
    result.assert_outcomes(passed=7)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*No client offered legacy TLS*"])


RECEIVED_TEST = """
import requests


def test_what_each_recipient_received(mockgun):
    sent = requests.post(
        f"{mockgun.api_url}/example.com/messages",
        data={
            "from": "shop@example.com",
            "to": ["ann@example.com", "bob@example.com"],
            "subject": "Hi %recipient.first%",
            "text": "Your code: %recipient.code%",
            "recipient-variables": '{"ann@example.com": {"first": "Ann", "code": "A1"},'
            ' "bob@example.com": {"first": "Bob", "code": "B2"}}',
        },
        auth=("api", mockgun.api_key),
        verify=mockgun.ca_file,
    )
    assert sent.status_code == 200
    [ann] = mockgun.received("ann@example.com")
    assert (ann["subject"], ann["text"].strip()) == ("Hi Ann", "Your code: A1")
    [bob] = mockgun.received("bob@example.com")
    assert bob["subject"] == "Hi Bob" and bob["id"] == ann["id"]
    assert mockgun.received("carol@example.com") == []
"""


def test_fixture_answers_what_a_recipient_received(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_received=RECEIVED_TEST)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


SUPPRESS_TESTS = """
import requests


def send(mockgun, to):
    resp = requests.post(
        f"{mockgun.api_url}/example.com/messages",
        data={"from": "shop@example.com", "to": to, "subject": "s", "text": "t"},
        auth=("api", mockgun.api_key),
        verify=mockgun.ca_file,
    )
    assert resp.status_code == 200


def last_event(mockgun):
    [message] = mockgun.messages()
    events = requests.get(
        f"{mockgun.api_url}/example.com/events",
        params={"message-id": message["id"]},
        auth=("api", mockgun.api_key),
        verify=mockgun.ca_file,
    ).json()["items"]
    return events[0]  # newest first


def test_a_seeded_bounce_is_not_delivered(mockgun):
    mockgun.suppress(bounce="old@example.com")
    send(mockgun, "old@example.com")
    failed = last_event(mockgun)
    assert (failed["event"], failed["reason"]) == ("failed", "suppress-bounce")


def test_a_list_made_in_one_test(mockgun):
    made = requests.post(
        f"{mockgun.api_url}/lists",
        data={"address": "team@example.com"},
        auth=("api", mockgun.api_key),
        verify=mockgun.ca_file,
    )
    assert made.status_code == 200


def test_the_next_test_starts_with_empty_lists(mockgun):
    send(mockgun, "old@example.com")
    assert last_event(mockgun)["event"] == "delivered"
    gone = requests.get(
        f"{mockgun.api_url}/lists/team@example.com",
        auth=("api", mockgun.api_key),
        verify=mockgun.ca_file,
    )
    assert gone.status_code == 404
"""


def test_fixture_seeds_suppressions_and_each_test_starts_clean(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suppress=SUPPRESS_TESTS)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
