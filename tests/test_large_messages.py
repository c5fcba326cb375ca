"""Large attachments and messages are spooled to disk and come back intact."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import requests
from support import MockgunProcess

from mockgun.mailgun.form import FilePart
from mockgun.mailgun.mime import render
from mockgun.mailgun.send import Mailbox, SendRequest
from mockgun.spool import Spool


def parse(data: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_streamed_mime_equals_the_in_memory_one(tmp_path: Path) -> None:
    big = os.urandom(3 * 2**20 + 17)  # not a multiple of 57: the last base64 line is short
    path = tmp_path / "big.bin"
    path.write_bytes(big)
    request = SendRequest(
        domain="example.com",
        endpoint="messages",
        sender="a@example.com",
        to=(Mailbox("", "b@example.com"),),
        subject="big",
        text="see attached",
        html='<img src="cid:pic.png">',
        files=(
            FilePart("attachment", "big.bin", "application/octet-stream", path=path),
            FilePart("inline", "pic.png", "image/png", path=path),
            FilePart("attachment", "small.txt", "text/plain", data=b"small"),
        ),
    )
    now = dt.datetime.now(dt.timezone.utc)
    spool = Spool(tmp_path)
    streamed = render(request, "<id@example.com>", now, spool=spool)
    assert streamed.path is not None and streamed.path.parent == spool.directory
    in_memory = render(request, "<id@example.com>", now)
    assert in_memory.path is None
    a, b = parse(streamed.read()), parse(in_memory.data)
    for msg in (a, b):
        files = {
            p.get_filename(): p.get_payload(decode=True) for p in msg.walk() if p.get_filename()
        }
        assert files == {"big.bin": big, "pic.png": big, "small.txt": b"small"}
    assert all(len(line) <= 78 for line in streamed.read().split(b"\r\n"))
    spool.close()
    assert not spool.directory.exists()


def test_large_attachment_and_mime_upload_over_tls(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn("--max-message-size", "10MiB")
    session = requests.Session()
    session.verify = str(server.ca_file)
    big = os.urandom(3 * 2**20)
    resp = session.post(
        f"{server.base_url}/v3/example.com/messages",
        auth=("api", "k"),
        data={"from": "a@example.com", "to": "b@example.com", "subject": "big", "text": "t"},
        files=[("attachment", ("big.bin", big))],
        verify=str(server.ca_file),
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    message_id = resp.json()["id"]
    detail = session.get(
        f"{server.base_url}/mockgun/messages/{message_id}", verify=str(server.ca_file), timeout=30
    ).json()
    [attachment] = detail["attachments"]
    assert attachment["size"] == len(big) and "data_base64" not in attachment
    assert "mime" not in detail and detail["mime_download"].endswith(".eml")
    raw = session.get(
        f"{server.base_url}{attachment['download']}", verify=str(server.ca_file), timeout=30
    )
    assert hashlib.sha256(raw.content).digest() == hashlib.sha256(big).digest()
    eml = session.get(
        f"{server.base_url}{detail['mime_download']}", verify=str(server.ca_file), timeout=30
    )
    [part] = [p for p in parse(eml.content).walk() if p.get_filename() == "big.bin"]
    assert part.get_payload(decode=True) == big

    mime = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: raw\r\n\r\n" + b"x" * (2 * 2**20)
    resp = session.post(
        f"{server.base_url}/v3/example.com/messages.mime",
        auth=("api", "k"),
        data={"to": "b@example.com"},
        files={"message": ("m.eml", mime)},
        verify=str(server.ca_file),
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    detail = session.get(
        f"{server.base_url}/mockgun/messages/{resp.json()['id']}",
        verify=str(server.ca_file),
        timeout=30,
    ).json()
    assert detail["mime_size"] == len(mime) and "mime" not in detail
    back = session.get(
        f"{server.base_url}/mockgun/messages/{resp.json()['id']}.eml",
        verify=str(server.ca_file),
        timeout=30,
    )
    assert back.content == mime
