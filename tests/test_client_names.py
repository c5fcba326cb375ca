"""Clients named as a user knows them: by the User-Agent of their requests where the handshake
succeeded, by the shipped fingerprint table where it was refused, and "unknown client"
otherwise. The table is checked against the real TLS stacks of this machine."""

from __future__ import annotations

import ssl
import sys
from collections.abc import Callable

import pytest
import requests
from support import ROOT, MockgunProcess, require_tool, run_report, tls_attempt

from mockgun.tls.clients import UNKNOWN, fingerprints, label_from_user_agent

sys.path.insert(0, str(ROOT / "tests" / "clients"))
import stacks


def test_the_shipped_table_names_every_stack_on_this_machine() -> None:
    for tool in ("curl", "openssl", "java", "gnutls-cli", "go", "node"):
        require_tool(tool)  # under CI every stack must be here
    seen = stacks.collect()
    assert len(seen) >= 10, seen
    table = fingerprints()
    wrong = {ja4: (label, table.get(ja4)) for ja4, label in seen.items() if table.get(ja4) != label}
    assert not wrong, f"run scripts/fingerprints to update the table: {wrong}"


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        ("curl/8.5.0", "curl 8"),
        ("python-requests/2.32.3", "Python requests 2"),
        ("Python/3.11 aiohttp/3.10.5", "Python aiohttp 3"),
        ("django-anymail/12.0 python-requests/2.32", "django-anymail (Python requests)"),
        ("axios/1.7.2", "Node.js axios 1 (mailgun.js)"),
        ("Java-http-client/17.0.15", "Java 17 HttpClient"),
        ("Java/1.8.0_412", "Java 8 HttpURLConnection"),
        ("Go-http-client/1.1", "Go net/http"),
        ("GuzzleHttp/7", "PHP Guzzle 7"),
        (
            "Mozilla/5.0 (X11) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
            "Headless Chrome 120",
        ),
        ("acme-mailer/3.2 (+https://acme.test)", "acme-mailer 3"),
        ("   ", UNKNOWN),
    ],
)
def test_user_agents_become_names(agent: str, label: str) -> None:
    assert label_from_user_agent(agent) == label


def test_report_names_curl_python_java_and_a_legacy_client(
    spawn: Callable[..., MockgunProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    server = spawn()
    server.curl("/mockgun/health")
    requests.get(f"{server.base_url}/mockgun/health", verify=str(server.ca_file), timeout=10)
    require_tool("java")
    java_stack = next(s for s in stacks.stacks() if s.label.endswith("JSSE"))
    java_stack.run(server.port, str(server.ca_file), server.log_path.parent)
    tls_attempt(server, ssl.TLSVersion.TLSv1_1, sni="old-client.test")
    server.wait_handshakes(4)
    assert server.stop() == 0

    code, out, _ = run_report(server.log_path, capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("client  "))
    rows = lines[header + 1 : lines.index("", header)]
    names = sorted(row.split("  ")[1].strip() for row in rows)
    py = f"Python {sys.version_info.major}.{sys.version_info.minor} ssl"
    assert names[0].startswith("Java ") and names[0].endswith(" JSSE")  # by its fingerprint
    assert names[1].startswith(py) and "capped at TLS 1.1" in names[1]  # refused: fingerprint
    assert names[2].startswith("Python requests ")  # by the User-Agent
    assert names[3].startswith("curl ")
    assert "What to do" in out and "legacy TLS (1.1 or older) (1)" in out
