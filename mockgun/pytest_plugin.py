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

from collections.abc import Iterator
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

    def env(self) -> dict[str, str]:
        """``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``,
        ``MAILGUN_API_URL`` and ``MAILGUN_API_KEY`` for this server."""
        return self._server.env()

    def messages(self, **filters: str | None) -> list[dict[str, Any]]:
        """This test's messages, oldest first (filters: domain, to, sender, subject, tag)."""
        return self._server.messages(since=self._since_message, **filters)

    def handshakes(self, outcome: str | None = None) -> list[dict[str, Any]]:
        """This test's TLS handshake records (``outcome`` may list several, comma-separated)."""
        return self._server.handshakes(outcome=outcome, since=self._since_conn)

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
        }
    )
    with serve_in_thread(config) as server:
        yield server


@pytest.fixture
def mockgun(mockgun_server: ThreadedServer) -> Iterator[MockgunFixture]:
    """A running mockgun (TLS 1.2+) that shows this test only what this test sent."""
    yield MockgunFixture(mockgun_server)
    mockgun_server.clear_faults()  # one test's faults never leak into the next
