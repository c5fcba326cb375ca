"""``--relay``: each copy mockgun delivers also reaches an SMTP mail catcher (aiosmtpd here,
as Mailpit would be), rendered per recipient; suppressed and test-mode copies do not."""

from __future__ import annotations

import email
import json
import socket
from collections.abc import Callable, Iterator
from email import policy
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from support import MockgunProcess, wait_for


class Catcher:
    def __init__(self) -> None:
        self.mail: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.mail.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK caught"


@pytest.fixture
def catcher() -> Iterator[tuple[Catcher, int]]:
    handler = Catcher()
    with socket.socket() as probe:  # an ephemeral port (aiosmtpd's start-up check needs one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def send(server: MockgunProcess, **fields: str) -> str:
    resp = requests.post(
        f"{server.base_url}/v3/example.com/messages",
        data={"from": "Shop <shop@example.com>", "text": "t", **fields},
        auth=("api", "key"),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"]).strip("<>")


def test_delivered_copies_reach_the_catcher(
    spawn: Callable[..., MockgunProcess], catcher: tuple[Catcher, int]
) -> None:
    caught, port = catcher
    server = spawn("--relay", f"smtp://127.0.0.1:{port}")
    requests.post(
        f"{server.base_url}/v3/example.com/bounces",
        data={"address": "gone@example.com"},
        auth=("api", "key"),
        verify=str(server.ca_file),
        timeout=10,
    ).raise_for_status()
    batch = send(
        server,
        to="ann@example.com, bob@example.com, gone@example.com",
        subject="Hello %recipient.name%",
        **{
            "recipient-variables": json.dumps(
                {
                    "ann@example.com": {"name": "Ann"},
                    "bob@example.com": {"name": "Bob"},
                    "gone@example.com": {"name": "Gone"},
                }
            )
        },
    )
    send(server, to="test@example.com", subject="test mode", **{"o:testmode": "yes"})
    wait_for(lambda: len(caught.mail) >= 2, what="two copies in the catcher")
    got = sorted((rcpt[0], mail_from, str(msg["Subject"])) for mail_from, rcpt, msg in caught.mail)
    assert got == [
        ("ann@example.com", "shop@example.com", "Hello Ann"),
        ("bob@example.com", "shop@example.com", "Hello Bob"),
    ]  # the suppressed copy and the test-mode send stayed home

    def detail() -> list[dict[str, Any]]:
        return list(
            requests.get(
                f"{server.base_url}/mockgun/messages/{batch}",
                verify=str(server.ca_file),
                timeout=10,
            ).json()["relay"]
        )

    relayed = wait_for(lambda: len(detail()) == 2 and detail(), what="the results on the message")
    assert {(r["recipient"], r["ok"], r["reply"]) for r in relayed} == {
        ("ann@example.com", True, "250 OK caught"),
        ("bob@example.com", True, "250 OK caught"),
    }


def test_a_dead_catcher_is_recorded_not_fatal(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn("--relay", "smtp://127.0.0.1:9")  # nothing listens on the discard port
    sent = send(server, to="ann@example.com", subject="s")

    def results() -> list[dict[str, Any]]:
        answer = requests.get(
            f"{server.base_url}/mockgun/relay", verify=str(server.ca_file), timeout=10
        ).json()
        return list(answer["items"])

    (result,) = wait_for(results, what="the relay's result")
    assert result["message_id"] == sent and result["ok"] is False
    assert "ConnectionRefusedError" in result["error"]
