"""Fault rules: aimed failures by rule, by magic recipient, at start-up and at run time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import requests
from mailgun.client import Client as MailgunClient
from mailgun.config import RetryPolicy
from mailgun.handlers.error_handler import ApiError
from support import AUTH, Client, MockgunProcess

from mockgun import Config, create_app
from mockgun.faults import RuleError, parse_rule

#: The SDK unchanged, but without its exponential back-off and jitter (up to 20 s a test).
NO_WAIT = RetryPolicy(base_delay=0.0)
SEND = {"from": "app@example.com", "subject": "s", "text": "t"}


async def send(client: Client, to: str, domain: str = "example.com") -> Any:
    return await client.post(f"/v3/{domain}/messages", data={**SEND, "to": to}, headers=AUTH)


async def add_rule(client: Client, rule: str) -> dict[str, Any]:
    resp = await client.post("/mockgun/faults", json={"rule": rule})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


def test_rule_syntax() -> None:
    rule = parse_rule("429 to=*@example.com times=2 retry-after=3")
    assert (rule.action, rule.status, rule.recipient, rule.times, rule.retry_after) == (
        "status",
        429,
        "*@example.com",
        2,
        3,
    )
    assert parse_rule("delay=2.5s from=a@x.com").delay == 2.5
    assert parse_rule("drop endpoint=messages.mime").endpoint == "messages.mime"
    for bad, message in [
        ("", "needs an action"),
        ("418", "status 418 is not one of"),
        ("429 503", "one action"),
        ("503 colour=red", "unknown word"),
        ("503 percent=120", "between 0 and 100"),
        ("503 times=0", "at least 1"),
        ("503 endpoint=events", "endpoint must be one of"),
    ]:
        with pytest.raises(RuleError, match=message):
            parse_rule(bad)


async def test_next_n_matching_requests_fail_then_pass(client: Client) -> None:
    await add_rule(client, "429 to=*@victim.example times=2 retry-after=7")
    for _ in range(2):
        resp = await send(client, "a@victim.example")
        assert resp.status == 429 and resp.headers["Retry-After"] == "7"
        assert resp.headers["X-Mockgun-Fault"].startswith("rule-")
        assert "request limit exceeded" in (await resp.json())["message"]
    assert (await send(client, "b@other.example")).status == 200  # not matched
    assert (await send(client, "a@victim.example")).status == 200  # used up
    faults = await (await client.get("/mockgun/faults")).json()
    assert faults["rules"][0]["hits"] == 2
    assert [(i["status"], i["recipients"]) for i in faults["injected"]] == [
        (429, ["a@victim.example"]),
        (429, ["a@victim.example"]),
    ]
    stored = (await (await client.get("/mockgun/messages")).json())["items"]
    assert len(stored) == 2  # the failed ones were not accepted


async def test_percentage_with_a_seed_repeats(
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    async def run() -> list[int]:
        client = await aiohttp_client(create_app(Config(faults=("503 percent=50 seed=42",))))
        return [(await send(client, f"u{i}@example.com")).status for i in range(20)]

    first, second = await run(), await run()
    assert first == second and set(first) == {200, 503} and 4 < first.count(503) < 16


async def test_401_is_mailguns_plain_forbidden_and_domain_and_sender_match(client: Client) -> None:
    await add_rule(client, "401 domain=locked.example")
    await add_rule(client, "502 from=app@example.com endpoint=messages")
    resp = await send(client, "a@example.com", domain="locked.example")
    assert (resp.status, await resp.text()) == (401, "Forbidden")
    resp = await send(client, "a@example.com")
    assert (resp.status, await resp.json()) == (502, {"message": "Bad Gateway"})


async def test_delay_answers_later_and_marks_the_message(client: Client) -> None:
    await add_rule(client, "delay=0.2 to=slow@example.com")

    started = time.monotonic()
    resp = await send(client, "slow@example.com")
    assert resp.status == 200 and time.monotonic() - started >= 0.2
    rule_id = resp.headers["X-Mockgun-Fault"]
    message = (await (await client.get("/mockgun/messages")).json())["items"][0]
    assert message["fault"] == rule_id


@pytest.mark.parametrize(
    ("recipient", "status"),
    [("fault-429@example.com", 429), ("fault-503+a@example.com", 503), ("fault-500@x.org", 500)],
)
async def test_magic_recipients_need_no_setup(client: Client, recipient: str, status: int) -> None:
    resp = await send(client, recipient)
    assert resp.status == status and resp.headers["X-Mockgun-Fault"] == "magic"
    assert (await send(client, "normal@example.com")).status == 200


async def test_rules_are_managed_at_run_time(client: Client) -> None:
    rule = await add_rule(client, "500")
    assert (await send(client, "a@example.com")).status == 500
    assert (await client.delete(f"/mockgun/faults/{rule['id']}")).status == 200
    assert (await send(client, "a@example.com")).status == 200
    bad = await client.post("/mockgun/faults", json={"rule": "teapot"})
    assert bad.status == 400 and "invalid fault rule" in (await bad.json())["message"]
    await add_rule(client, "503")
    assert (await (await client.delete("/mockgun/faults")).json()) == {"deleted": 1}


def test_drop_closes_the_connection_and_the_sdk_retries_through_a_429(
    spawn: Callable[..., MockgunProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = spawn(
        "--fault",
        "drop to=drop@example.com",
        "--fault",
        "429 to=busy@example.com times=1 retry-after=1",
    )
    url = f"{server.base_url}/v3/example.com/messages"
    with pytest.raises(requests.ConnectionError):
        requests.post(
            url,
            auth=("api", "k"),
            data={**SEND, "to": "drop@example.com"},
            verify=str(server.ca_file),
            timeout=10,
        )
    # The official SDK retries a 429 by itself: the rule for one request costs it one retry.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    sdk = MailgunClient(auth=("api", "k"), api_url=server.base_url, retry_policy=NO_WAIT)
    resp = sdk.messages.create(domain="example.com", data={**SEND, "to": "busy@example.com"})
    assert resp.status_code == 200
    faults = requests.get(
        f"{server.base_url}/mockgun/faults", verify=str(server.ca_file), timeout=10
    ).json()
    assert [(i["action"], i["status"]) for i in faults["injected"]] == [
        ("drop", None),
        ("status", 429),
    ]
    assert server.proc.poll() is None and not any("Traceback" in x for x in server.stderr_lines)


def test_fault_rules_from_the_environment(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn(env={"MOCKGUN_FAULT": "503 to=a@example.com;delay=0.1 to=b@example.com"})
    faults = requests.get(
        f"{server.base_url}/mockgun/faults", verify=str(server.ca_file), timeout=10
    )
    assert [r["rule"] for r in faults.json()["rules"]] == [
        "503 to=a@example.com",
        "delay=0.1 to=b@example.com",
    ]


def test_each_rule_kind_through_the_official_sdk(
    spawn: Callable[..., MockgunProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = spawn(
        "--request-timeout",
        "0.2",
        "--fault",
        "503 to=flaky@example.com times=2",
        "--fault",
        "500 to=down@example.com",
        "--fault",
        "delay=0.5 to=slow@example.com",
        "--fault",
        "stall to=stuck@example.com",
        "--fault",
        "drop to=gone@example.com",
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    sdk = MailgunClient(auth=("api", "k"), api_url=server.base_url, retry_policy=NO_WAIT)
    # A stalled request is held ~2 s per attempt: one attempt shows it as well as four.
    once = MailgunClient(
        auth=("api", "k"), api_url=server.base_url, retry_policy=RetryPolicy(0, base_delay=0.0)
    )

    def send(to: str, client: Any = sdk) -> Any:
        return client.messages.create(domain="example.com", data={**SEND, "to": to})

    # The SDK retries 5xx up to 3 times: two failures cost it two retries, then it succeeds...
    assert send("flaky@example.com").status_code == 200
    # ...while a rule without `times` outlasts its retries (4 attempts in all).
    assert send("down@example.com").status_code == 500
    started = time.monotonic()
    assert send("slow@example.com").status_code == 200
    assert time.monotonic() - started >= 0.5

    with pytest.raises(ApiError):
        send("stuck@example.com", once)  # held ~2 s, then dropped: the SDK gives up
    with pytest.raises(ApiError):
        send("gone@example.com")  # dropped at once, every attempt
    injected = requests.get(
        f"{server.base_url}/mockgun/faults", verify=str(server.ca_file), timeout=10
    )
    counts: dict[str, int] = {}
    for entry in injected.json()["injected"]:
        counts[entry["recipients"][0]] = counts.get(entry["recipients"][0], 0) + 1
    assert counts["flaky@example.com"] == 2 and counts["down@example.com"] == 4
    assert counts["slow@example.com"] == 1 and counts["stuck@example.com"] >= 1
    assert counts["gone@example.com"] >= 1
