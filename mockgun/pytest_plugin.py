"""The ``mockgun`` pytest fixture, registered through the ``pytest11`` entry point.

One TLS server per test session (started on first use, on a free port); each test
sees only the messages and handshakes that arrived during that test.

    def test_signup_sends_mail(mockgun, monkeypatch):
        for name, value in mockgun.env().items():
            monkeypatch.setenv(name, value)
        signup("ann@example.com")
        message = mockgun.wait_for_message(to="ann@example.com", timeout=5)
        assert message["subject"] == "Welcome"
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .embedded import ThreadedServer


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockgun", "mockgun: a local TLS-1.2+ Mailgun API")
    group.addoption(
        "--mockgun-tls-max",
        choices=["1.2", "1.3"],
        default=None,
        help="Highest TLS version the mockgun fixture offers (ini: mockgun_tls_max; default 1.3).",
    )
    group.addoption(
        "--mockgun-api-key",
        default=None,
        help="Make the mockgun fixture accept only this key (ini: mockgun_api_key).",
    )
    parser.addini(
        "mockgun_tls_max", "Highest TLS version the mockgun fixture offers", default="1.3"
    )
    parser.addini("mockgun_api_key", "The only API key the mockgun fixture accepts", default="")
    group.addoption(
        "--mockgun-fail-on-legacy",
        action="store_true",
        default=None,
        help="Fail the session when any client offered at most TLS 1.1 to the mockgun fixture "
        "(ini: mockgun_fail_on_legacy).",
    )
    parser.addini(
        "mockgun_fail_on_legacy",
        "Fail the session when a client offered at most TLS 1.1 to the mockgun fixture",
        type="bool",
        default=False,
    )


#: The session's handshake summary, made as the server stops: (paragraph, legacy found).
_SUMMARY = pytest.StashKey[tuple[str, bool]]()


def handshake_summary(records: list[dict[str, Any]], log: str) -> tuple[str, bool]:
    """One paragraph on the session's handshakes, and whether a legacy client was seen."""
    from .tls.report import Tally  # noqa: PLC0415 - only when the fixture was used

    tally = Tally(keep_failures=False)
    for record in records:
        tally.add(record)
    attempts = sum(tally.outcomes.values())
    outcomes = ", ".join(f"{n} {k}" for k, n in tally.outcomes.most_common()) or "none"
    clients = "; ".join(
        f"{row.client} ({', '.join(sorted(row.got)) or 'no session'})"
        + (" LEGACY" if row.legacy else "")
        for row in tally.client_rows()
    )
    text = (
        f"{attempts} TLS handshake attempt{'' if attempts == 1 else 's'} ({outcomes})"
        + (f"; clients: {clients}" if clients else "")
        + (
            ". Legacy TLS (1.1 or older) was offered: mockgun handshakes --fail-on-legacy "
            f"{log} names it"
            if tally.legacy_found
            else ". No client offered legacy TLS"
        )
        + f". Log: {log}"
    )
    return text, tally.legacy_found


def _fail_on_legacy(config: pytest.Config) -> bool:
    option = config.getoption("--mockgun-fail-on-legacy")
    return bool(option) or bool(config.getini("mockgun_fail_on_legacy"))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    summary = config.stash.get(_SUMMARY, None)
    if summary is not None:
        terminalreporter.write_sep("-", "mockgun")
        terminalreporter.write_line(summary[0])
        if summary[1] and _fail_on_legacy(config):
            terminalreporter.write_line("mockgun: failing the session: a client offered legacy TLS")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    summary = session.config.stash.get(_SUMMARY, None)
    if summary is not None and summary[1] and _fail_on_legacy(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class MockgunFixture:
    """What one test sees of the session's server: its own messages and handshakes."""

    def __init__(self, server: ThreadedServer) -> None:
        self._server = server
        existing = server.messages()
        self._since_message: str | None = existing[-1]["id"] if existing else None
        handshakes = server.handshakes()
        self._since_conn = str(handshakes[-1]["conn_id"]) if handshakes else "0"

    base_url = property(lambda self: self._server.base_url)
    api_url = property(lambda self: self._server.api_url)
    ca_file = property(lambda self: self._server.ca_file)
    api_key = property(lambda self: self._server.api_key)
    handshake_log = property(lambda self: self._server.handshake_log)
    smtp_host = property(lambda self: self._server.smtp_host)
    smtp_port = property(lambda self: self._server.smtp_port)
    smtp_login = property(lambda self: self._server.smtp_login)
    smtp_password = property(lambda self: self._server.smtp_password)

    def env(self) -> dict[str, str]:
        """``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``,
        ``MAILGUN_API_URL`` and ``MAILGUN_API_KEY`` for this server."""
        return self._server.env()

    def messages(self, **filters: str | None) -> list[dict[str, Any]]:
        """This test's messages, oldest first (filters: domain, to, sender, subject, tag)."""
        return self._server.messages(since=self._since_message, **filters)

    def received(self, address: str, **filters: str | None) -> list[dict[str, Any]]:
        """What ``address`` received in this test, each message as that recipient got it
        (rendered template, batch and built-in variables applied): ``subject``, ``text``,
        ``html``, ``from``, ``to``, ``headers``."""
        return self._server.received(address, since=self._since_message, **filters)

    def handshakes(self, outcome: str | None = None) -> list[dict[str, Any]]:
        """This test's TLS handshake records (``outcome`` may list several, comma-separated)."""
        return self._server.handshakes(outcome=outcome, since=self._since_conn)

    def suppress(self, **lists: Any) -> None:
        """Seed suppression lists for this test: ``suppress(bounce="old@example.com")``,
        ``unsubscribe=``, ``complaint=`` (an address or a list), ``domain=`` (default
        example.com). Each test starts with empty lists."""
        self._server.suppress(**lists)

    def receive(
        self,
        message: bytes | str | dict[str, Any],
        *,
        to: str | Sequence[str] = (),
        sender: str | None = None,
    ) -> dict[str, Any]:
        """Deliver inbound mail to the routes, as Mailgun's MX would: ``message`` is raw MIME
        (bytes or str) or fields (``{"from", "to", "subject", "text", "html"}``); ``to`` is
        the envelope recipient(s) (default: the To and Cc headers). Returns what was done:
        ``routes`` per recipient, ``deliveries`` (each forward() POST's first attempt, with
        its ``status``), ``stored``, ``forwarded`` and ``lists``."""
        return self._server.receive(message, to=to, sender=sender)

    def fault(self, rule: str) -> dict[str, Any]:
        """Add a fault rule for this test (e.g. ``"429 to=*@example.com times=1"``); rules are
        removed when the test ends."""
        return self._server.add_fault(rule)

    def wait_for_message(self, timeout: float = 10.0, **filters: str | None) -> dict[str, Any]:
        """The first of this test's messages matching ``filters``, as soon as it arrives."""
        return self._server.wait_for_message(timeout=timeout, since=self._since_message, **filters)


@pytest.fixture(scope="session")
def mockgun_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadedServer]:
    """The session's server (most tests want the ``mockgun`` fixture instead)."""
    from .config import Config  # noqa: PLC0415 - a pytest plugin loads with every test run
    from .embedded import serve_in_thread  # noqa: PLC0415 - so the server loads only if used

    options = request.config
    tls_max = options.getoption("--mockgun-tls-max") or options.getini("mockgun_tls_max")
    api_key = options.getoption("--mockgun-api-key") or options.getini("mockgun_api_key")
    tmp: Path = tmp_path_factory.mktemp("mockgun")
    config = Config.from_settings(
        {
            "host": "127.0.0.1",
            "port": 0,
            "certs_dir": tmp / "certs",
            "handshake_log": str(tmp / "handshakes.jsonl"),
            "tls_max": str(tls_max),
            "api_key": str(api_key),
            "handshake_timeout": 5.0,
            "smtp_port": 0,  # the SMTP door too, for apps that send by SMTP
        }
    )
    with serve_in_thread(config) as server:
        yield server
        # Before the server stops: what the session's clients did, for the terminal summary.
        request.config.stash[_SUMMARY] = handshake_summary(
            server.handshakes(), server.handshake_log
        )


@pytest.fixture
def mockgun(mockgun_server: ThreadedServer) -> Iterator[MockgunFixture]:
    """A running mockgun (TLS 1.2+) that shows this test only what this test sent."""
    mockgun_server.clear_suppressions()  # each test starts with empty suppression lists
    mockgun_server.clear_lists()  # and no mailing lists
    mockgun_server.clear_routes()  # nor routes
    yield MockgunFixture(mockgun_server)
    mockgun_server.clear_faults()  # one test's faults never leak into the next
