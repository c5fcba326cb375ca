"""Address validation as a signup form calls it: the official Python SDK's ``addressvalidate``
client and mailgun.js's ``validate.get``, unchanged, and every documented magic outcome."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mailgun.client import Client as MailgunClient
from support import AUTH, NODE_DIR, Client, MockgunProcess

CASES = [
    ("ann@example.com", "deliverable", "low", [], {}),
    ("undeliverable@example.com", "undeliverable", "high", ["mailbox_does_not_exist"], {}),
    ("unknown@example.com", "unknown", "unknown", ["no_data"], {}),
    ("catchall@example.com", "catch_all", "medium", ["catch_all"], {}),
    ("someone@mailinator.com", "do_not_send", "high", ["mailbox_is_disposable_address"],
     {"is_disposable_address": True}),
    ("info@example.com", "deliverable", "medium", ["mailbox_is_role_address"],
     {"is_role_address": True}),
    ("bob@gmial.com", "undeliverable", "high", ["no_mx"], {"did_you_mean": "bob@gmail.com"}),
    ("ann+news@example.com", "deliverable", "low", [], {"root_address": "ann@example.com"}),
    ("not-an-address", "undeliverable", "high", ["failed custom grammar check"], {}),
]  # fmt: skip


@pytest.mark.parametrize(("address", "result", "risk", "reason", "extra"), CASES)
def test_python_sdk_validates_every_magic_case(
    mockgun_process: MockgunProcess,
    monkeypatch: pytest.MonkeyPatch,
    address: str,
    result: str,
    risk: str,
    reason: list[str],
    extra: dict[str, Any],
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(mockgun_process.ca_file))
    mg = MailgunClient(auth=("api", "key-sdk"), api_url=mockgun_process.base_url)
    answer = mg.addressvalidate.get(filters={"address": address}).json()
    assert (answer["address"], answer["result"], answer["risk"]) == (address, result, risk)
    assert answer["reason"] == reason
    for key, value in extra.items():
        assert answer[key] == value
    assert set(answer) >= {"did_you_mean", "is_disposable_address", "is_role_address"}


async def test_bad_input_gets_mailguns_400(client: Client) -> None:
    missing = await client.get("/v4/address/validate", headers=AUTH)
    assert (missing.status, await missing.json()) == (
        400,
        {"message": "'address' parameter is required"},
    )
    huge = await client.post("/v4/address/validate", data={"address": "a" * 10_000}, headers=AUTH)
    assert huge.status == 400 and "512" in (await huge.json())["message"]
    undecodable = await client.get("/v4/address/validate?address=%FF%FE@x.com", headers=AUTH)
    assert undecodable.status == 400 and "message" in await undecodable.json()
    form = "address=%FF@x.com"
    raw = await client.post(
        "/v4/address/validate",
        data=form.encode(),
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert raw.status == 400


async def test_the_legacy_v3_shape(client: Client) -> None:
    answer = await (
        await client.get("/v3/address/validate?address=ann@example.com", headers=AUTH)
    ).json()
    assert answer["is_valid"] is True and answer["mailbox_verification"] == "true"
    assert answer["parts"] == {"display_name": None, "domain": "example.com", "local_part": "ann"}


def test_mailgun_js_validate(node_modules: Path, mockgun_process: MockgunProcess) -> None:
    script = (
        "import FormData from 'form-data'; import Mailgun from 'mailgun.js';"
        "const [url, key] = process.argv.slice(1);"
        "const mg = new Mailgun(FormData).client({ username: 'api', key, url });"
        "console.log(JSON.stringify(await mg.validate.get('bob@gmial.com')));"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script, mockgun_process.base_url, "key"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=NODE_DIR,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(mockgun_process.ca_file)},
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["did_you_mean"] == "bob@gmail.com" and answer["result"] == "undeliverable"
