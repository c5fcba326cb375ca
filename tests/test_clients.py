"""Real clients end to end over TLS: the official Mailgun SDK for Python, requests and curl."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from mailgun.client import Client
from support import MockgunProcess


def message_detail(server: MockgunProcess, message_id: str) -> dict[str, Any]:
    resp = requests.get(
        f"{server.base_url}/mockgun/messages/{message_id}", verify=str(server.ca_file), timeout=10
    )
    resp.raise_for_status()
    return dict(resp.json())


def test_official_sdk_sends_with_two_attachments(
    mockgun_process: MockgunProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK hard-codes verify=True: the CA reaches it only through the environment.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockgun_process.ca_file))
    client = Client(auth=("api", "key-sdk"), api_url=mockgun_process.base_url)
    files = [
        ("attachment", ("report.csv", b"a,b\n1,2\n")),
        ("attachment", ("notes.txt", "café\n".encode())),
    ]
    data = {
        "from": "Shop <shop@example.com>",
        "to": ["a@example.com", "B <b@example.com>"],
        "subject": "Your order",
        "text": "Thanks!",
        "o:tag": ["orders", "receipts"],
    }
    resp = client.messages.create(data=data, files=files, domain="example.com")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["message"] == "Queued. Thank you."

    detail = message_detail(mockgun_process, body["id"])
    assert detail["recipients"] == ["a@example.com", "b@example.com"]
    assert detail["fields"]["o:tag"] == ["orders", "receipts"]
    attachments = [
        (a["filename"], a["content_type"], a["size"], base64.b64decode(a["data_base64"]))
        for a in detail["attachments"]
    ]
    assert attachments == [
        ("report.csv", "text/csv", 8, b"a,b\n1,2\n"),
        ("notes.txt", "text/plain", 6, "café\n".encode()),
    ]
    # The SDK pins TLS 1.2 as its floor and takes 1.3 when offered.
    assert detail["tls"]["version"] == "TLSv1.3"
    assert isinstance(detail["tls"]["conn_id"], int)
    conn = [h for h in mockgun_process.handshakes() if h["conn_id"] == detail["tls"]["conn_id"]]
    assert conn and conn[0]["cipher"] == detail["tls"]["cipher"]


def test_official_sdk_sees_401_for_a_wrong_key(
    spawn: Callable[..., MockgunProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = spawn("--api-key", "key-right")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    data = {"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"}
    wrong = Client(auth=("api", "key-wrong"), api_url=server.base_url)
    resp = wrong.messages.create(data=data, domain="example.com")
    assert (resp.status_code, resp.text) == (401, "Forbidden")
    right = Client(auth=("api", "key-right"), api_url=server.base_url)
    assert right.messages.create(data=data, domain="example.com").status_code == 200


def test_official_sdk_mime_send(
    mockgun_process: MockgunProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockgun_process.ca_file))
    mime = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: via mime\r\n\r\nhi\r\n"
    client = Client(auth=("api", "key-sdk"), api_url=mockgun_process.base_url)
    resp = client.mimemessage.create(
        data={"to": "b@example.com"}, files={"message": mime}, domain="example.com"
    )
    assert resp.status_code == 200, resp.text
    detail = message_detail(mockgun_process, resp.json()["id"])
    assert detail["subject"] == "via mime"
    assert detail["mime"].encode() == mime


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("curl")
    if exe is None:
        pytest.fail("curl is not installed (.ci/run installs it)")
    return subprocess.run(
        [exe, "--silent", "--show-error", *args], capture_output=True, text=True, timeout=30
    )


def test_curl_multipart_over_tls12(mockgun_process: MockgunProcess, tmp_path: Path) -> None:
    attachment = tmp_path / "invoice.pdf"
    attachment.write_bytes(b"%PDF-1.4 not really")
    result = curl(
        "--tlsv1.2",
        "--tls-max",
        "1.2",
        "--cacert",
        str(mockgun_process.ca_file),
        "-u",
        "api:key-anything",
        f"https://localhost:{mockgun_process.port}/v3/example.com/messages",
        "-F",
        "from=a@example.com",
        "-F",
        "to=b@example.com",
        "-F",
        "subject=hi",
        "-F",
        "text=hello",
        "-F",
        f"attachment=@{attachment}",
        "-w",
        "\n%{http_code}",
    )
    assert result.returncode == 0, result.stderr
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "200"
    sent = json.loads(body)
    assert sent["message"] == "Queued. Thank you."
    detail = message_detail(mockgun_process, sent["id"])
    assert detail["tls"]["version"] == "TLSv1.2"
    assert [(a["filename"], a["size"]) for a in detail["attachments"]] == [("invoice.pdf", 19)]


def test_curl_urlencoded(mockgun_process: MockgunProcess) -> None:
    result = curl(
        "--cacert",
        str(mockgun_process.ca_file),
        "-u",
        "api:key-anything",
        f"{mockgun_process.base_url}/v3/example.com/messages",
        "-d",
        "from=a@example.com",
        "-d",
        "to=b@example.com,c@example.com",
        "-d",
        "subject=hi",
        "--data-urlencode",
        "html=<p>a & b</p>",
    )
    assert result.returncode == 0, result.stderr
    detail = message_detail(mockgun_process, json.loads(result.stdout)["id"])
    assert detail["html"] == "<p>a & b</p>"
    assert detail["recipients"] == ["b@example.com", "c@example.com"]


def test_curl_with_tls11_is_refused(mockgun_process: MockgunProcess) -> None:
    before = len(mockgun_process.handshakes())
    result = curl(
        "--tlsv1.1",
        "--tls-max",
        "1.1",
        "--ciphers",
        "DEFAULT:@SECLEVEL=0",
        "--cacert",
        str(mockgun_process.ca_file),
        f"{mockgun_process.base_url}/mockgun/health",
    )
    assert result.returncode != 0
    # The server saw the attempt, so curl really offered TLS 1.1 (and nothing newer).
    assert mockgun_process.wait_handshakes(before + 1)[before]["outcome"] == "rejected"
