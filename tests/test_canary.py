"""The certificate-verification canary: verifying clients refuse it, the others are caught."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable

import pytest
import requests
from support import MockgunProcess, wait_for

from mockgun.cli import main

# The non-verifying clients here are the point of the test.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture
def server(spawn: Callable[..., MockgunProcess]) -> MockgunProcess:
    return spawn("--canary-port", "0")


def canary_port(server: MockgunProcess) -> int:
    match = re.search(r"canary +https://127\.0\.0\.1:(\d+) ", "".join(server.stdout_lines))
    assert match, server.stdout_lines
    return int(match.group(1))


def test_verifying_clients_refuse_the_canary(server: MockgunProcess) -> None:
    port = canary_port(server)
    assert port != server.port
    # Trusting mockgun's CA (as apps pointed at mockgun do) or the system's: both refuse.
    for ctx in (server.client_context(), ssl.create_default_context()):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            ctx.wrap_socket(sock, server_hostname="localhost")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(
            f"https://localhost:{port}/mockgun/health", verify=str(server.ca_file), timeout=10
        )
    lines = server.wait_handshakes(3)
    assert all(line["canary"] and line["outcome"] != "insecure" for line in lines)
    assert not [x for x in server.handshakes() if x["outcome"] == "insecure"]


def test_a_client_that_skips_verification_is_caught(server: MockgunProcess) -> None:
    port = canary_port(server)
    resp = requests.post(
        f"https://localhost:{port}/v3/example.com/messages",
        auth=("api", "k"),
        data={"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"},
        headers={"User-Agent": "careless-app/1.0"},
        verify=False,  # noqa: S501 - the point
        timeout=10,
    )
    assert resp.status_code == 403 and "does not verify TLS certificates" in resp.json()["message"]
    insecure = wait_for(
        lambda: [x for x in server.handshakes() if x["outcome"] == "insecure"],
        what="an insecure line",
    )[0]
    assert (insecure["user_agent"], insecure["sni"], insecure["path"]) == (
        "careless-app/1.0",
        "localhost",
        "/v3/example.com/messages",
    )
    assert insecure["ja4"].startswith("t13d")
    assert (
        requests.get(
            f"{server.base_url}/mockgun/messages", verify=str(server.ca_file), timeout=10
        ).json()["total"]
        == 0
    )

    code = main(["handshakes", str(server.log_path), "--fail-on-insecure"])
    assert code == 1
    # Without insecure requests the gate passes.
    clean = subprocess.run(
        [
            sys.executable,
            "-m",
            "mockgun",
            "handshakes",
            "--fail-on-insecure",
            "--allow-empty",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert clean.returncode == 0


def test_canary_names_the_client_on_stderr(
    server: MockgunProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    port = canary_port(server)
    url = f"https://localhost:{port}/"
    requests.get(url, headers={"User-Agent": "ua-x"}, verify=False, timeout=10)  # noqa: S501
    wait_for(lambda: any(x["outcome"] == "insecure" for x in server.handshakes()), what="the line")
    assert main(["handshakes", str(server.log_path), "--fail-on-insecure"]) == 1
    err = capsys.readouterr().err
    assert "insecure TLS" in err and "User-Agent ua-x" in err and "SNI localhost" in err
