"""Domains and keys as a multi-tenant app manages them: the official SDKs create a customer's
domain, verify it and send from it; a domain sending key sends and is refused elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from mailgun.client import Client
from support import MockgunProcess, run_node

ACCOUNT_KEY = "key-account"


@pytest.fixture
def server(spawn: Callable[..., MockgunProcess]) -> MockgunProcess:
    return spawn("--api-key", ACCOUNT_KEY, "--domain", "mg.example.com")


@pytest.fixture
def sdk(server: MockgunProcess, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    return Client(auth=("api", ACCOUNT_KEY), api_url=server.base_url)


def send(client: Client, domain: str) -> requests.Response:
    response: requests.Response = client.messages.create(
        domain=domain,
        data={"from": f"shop@{domain}", "to": "ann@example.com", "subject": "hi", "text": "t"},
    )
    return response


def test_a_customer_domain_is_created_verified_then_sends(sdk: Client) -> None:
    created = sdk.domains.create(data={"name": "Tenant.Example.NET", "smtp_password": "s3cret-pw"})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["message"] == "Domain has been created"
    assert body["domain"]["name"] == "tenant.example.net"
    assert body["domain"]["state"] == "unverified"
    kinds = sorted(r["record_type"] for r in body["sending_dns_records"])
    assert kinds == ["CNAME", "TXT", "TXT"]
    assert {r["valid"] for r in body["receiving_dns_records"]} == {"unknown"}

    refused = send(sdk, "tenant.example.net")
    assert refused.status_code == 400
    assert refused.json()["message"].startswith(
        "Domain tenant.example.net is not allowed to send: The domain is unverified"
    )
    verified = sdk.domains.put(domain="tenant.example.net", verify=True)
    assert verified.json()["domain"]["state"] == "active"
    assert {r["valid"] for r in verified.json()["sending_dns_records"]} == {"valid"}
    assert send(sdk, "tenant.example.net").status_code == 200

    names = [d["name"] for d in sdk.domainlist.get().json()["items"]]
    assert names == ["mg.example.com", "tenant.example.net"]
    again = sdk.domains.create(data={"name": "tenant.example.net"})
    assert (again.status_code, again.json()) == (
        400,
        {"message": "This domain name is already taken"},
    )

    # Settings an app changes: spam action, tracking, SMTP credentials.
    updated = sdk.domains.put(domain="tenant.example.net", data={"spam_action": "tag"})
    assert updated.json()["domain"]["spam_action"] == "tag"
    click = sdk.domains_tracking_click.put(domain="tenant.example.net", data={"active": "htmlonly"})
    assert click.json() == {
        "message": "Domain tracking settings have been updated",
        "click": {"active": "htmlonly"},
    }
    tracking = sdk.domains_tracking.get(domain="tenant.example.net").json()["tracking"]
    assert tracking["click"] == {"active": "htmlonly"} and tracking["open"] == {"active": False}

    login = "alice@tenant.example.net"
    made = sdk.domains_credentials.create(
        domain="tenant.example.net", data={"login": login, "password": "pw-12345"}
    )
    assert made.json() == {"message": "Created 1 credentials pair(s)"}
    listed = sdk.domains_credentials.get(domain="tenant.example.net").json()
    assert sorted(c["login"] for c in listed["items"]) == [login, "postmaster@tenant.example.net"]
    assert "password" not in str(listed)
    changed = sdk.domains_credentials.put(
        domain="tenant.example.net", login=login, data={"password": "pw-67890"}
    )
    assert changed.json() == {"message": "Password changed"}
    short = sdk.domains_credentials.put(
        domain="tenant.example.net", login=login, data={"password": "pw"}
    )
    assert short.status_code == 400
    gone = sdk.domains_credentials.delete(domain="tenant.example.net", login=login)
    assert gone.json() == {"message": "Credentials have been deleted", "spec": login}

    deleted = sdk.domains.delete(domain="tenant.example.net")
    assert deleted.json() == {"message": "Domain has been deleted"}
    assert sdk.domains.get(domain="tenant.example.net").status_code == 404
    assert send(sdk, "tenant.example.net").status_code == 404


def test_verification_a_test_makes_fail(sdk: Client, server: MockgunProcess) -> None:
    sdk.domains.create(data={"name": "never.invalid"})
    assert sdk.domains.put(domain="never.invalid", verify=True).json()["domain"]["state"] == (
        "unverified"
    )
    sdk.domains.create(data={"name": "dns-broken.example.org"})
    switched = requests.put(
        f"{server.base_url}/mockgun/domains/dns-broken.example.org",
        data={"verifiable": "no"},
        auth=("api", ACCOUNT_KEY),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert switched.json()["verifiable"] is False
    still = sdk.domains.put(domain="dns-broken.example.org", verify=True).json()
    assert still["domain"]["state"] == "unverified"
    assert {r["valid"] for r in still["sending_dns_records"]} == {"unknown"}
    assert send(sdk, "dns-broken.example.org").status_code == 400


def test_domain_sending_key_sends_for_its_domain_only(
    sdk: Client, server: MockgunProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = sdk.keys.create(
        data={
            "role": "sending",
            "kind": "domain",
            "domain_name": "mg.example.com",
            "description": "web app",
        }
    )
    assert made.status_code == 200, made.text
    secret = made.json()["key"]["secret"]
    assert made.json()["key"]["kind"] == "domain"
    listed = sdk.keys.get(filters={"domain_name": "mg.example.com"}).json()
    assert [k["description"] for k in listed["items"]] == ["web app"]
    assert secret not in str(listed)

    app = Client(auth=("api", secret), api_url=server.base_url)
    assert send(app, "mg.example.com").status_code == 200
    refused = app.domains.get()
    assert (refused.status_code, refused.text) == (401, "Forbidden")
    assert app.events.get(domain="mg.example.com").status_code == 401
    sdk.domains.create(data={"name": "other.example.com"})
    sdk.domains.put(domain="other.example.com", verify=True)
    assert send(app, "other.example.com").status_code == 401
    assert send(sdk, "other.example.com").status_code == 200  # the account key may

    sdk.keys.delete(key_id=made.json()["key"]["id"])
    assert send(app, "mg.example.com").status_code == 401  # deleted: no longer a key
    output = "".join(server.stdout_lines + server.stderr_lines)
    assert secret not in output and ACCOUNT_KEY not in output  # keys are never logged


def test_mailgun_js_creates_and_verifies_a_domain(
    node_modules: Path, spawn: Callable[..., MockgunProcess]
) -> None:
    server = spawn("--domain", "mg.example.com")
    result = run_node("node", server, "mailgun_js.mjs", "key", "domains")
    assert result == {
        "created": "unverified",
        "verified": "active",
        "records": ["CNAME", "TXT", "TXT"],
        "listed": ["js-tenant.example.com", "mg.example.com"],
        "tracking": True,
        "credentials": ["postmaster@js-tenant.example.com", "smtp@js-tenant.example.com"],
        "sent": True,
        "destroyed": "Domain has been deleted",
    }
