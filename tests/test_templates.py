"""Mailgun's stored templates: the Templates API, and sends that render them (Handlebars with
Mailgun's helpers), with the official Python SDK, and at the edges with aiohttp's client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from mailgun.client import Client as MailgunClient
from support import Client, MockgunProcess, basic, inspect_json, wait_for

from mockgun import Config, create_app
from mockgun.certs import CertPaths
from mockgun.mailgun.templates import MAX_TEMPLATES, MAX_VERSIONS

AUTH = basic("api", "key-test")
RECEIPT = (
    "<p>{{#if vip}}Dear VIP {{/if}}{{name}}</p>"
    "<ul>{{#each items}}<li>{{this.sku}} x{{this.qty}}</li>{{/each}}</ul>"
    "{{#equal plan 2}}<b>plan two</b>{{else}}<i>other plan</i>{{/equal}}"
    "{{#unless paid}}<em>unpaid</em>{{/unless}}"
    "{{#with address}}<address>{{city}}</address>{{/with}}"
)


def message(server: MockgunProcess, message_id: str) -> dict[str, Any]:
    found: dict[str, Any] = inspect_json(
        server.base_url, server.ca_file, f"/mockgun/messages/{message_id.strip('<>')}", "k"
    )
    return found


def test_official_python_sdk_creates_versions_and_sends_rendered_mail(
    mockgun_process: MockgunProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = mockgun_process
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    mg = MailgunClient(auth=("api", "key-sdk"), api_url=server.base_url)
    headers = json.dumps({"Subject": "Receipt for {{name}}", "Reply-To": "help@example.com"})
    created = mg.templates.create(
        domain="example.com",
        data={"name": "SDK-Receipt", "description": "d", "template": "<p>v1 {{name}}</p>"}
        | {"tag": "v1", "headers": headers},
    )
    assert created.status_code == 200, created.text
    assert created.json()["message"] == "template has been stored"
    assert created.json()["template"]["name"] == "sdk-receipt"  # lower-cased, as Mailgun does
    second = mg.templates.create(
        domain="example.com",
        template_name="sdk-receipt",
        versions=True,
        data={"template": RECEIPT, "tag": "v2", "active": "yes", "headers": headers},
    )
    assert second.json()["message"] == "new version of the template has been stored"
    active = mg.templates.get(
        domain="example.com", template_name="sdk-receipt", filters={"active": "yes"}
    ).json()["template"]["version"]
    assert (active["tag"], active["template"]) == ("v2", RECEIPT)

    variables = {"name": "Ann", "vip": True, "items": [{"sku": "A1", "qty": 2}], "plan": "2"}
    variables |= {"paid": False, "address": {"city": "Oslo"}}
    sent = mg.messages.create(
        domain="example.com",
        data={"from": "shop@example.com", "to": "ann@example.com", "template": "sdk-receipt"}
        | {"t:variables": json.dumps(variables)},
    )
    stored = message(server, sent.json()["id"])
    assert stored["subject"] == "Receipt for Ann"
    assert stored["html"] == (
        "<p>Dear VIP Ann</p><ul><li>A1 x2</li></ul><b>plan two</b>"
        "<em>unpaid</em><address>Oslo</address>"
    )
    assert ["Reply-To", "help@example.com"] in stored["headers"]

    # h:X-Mailgun-Variables, an older version by t:version; t:variables would win over it.
    by_header = mg.messages.create(
        domain="example.com",
        data={"from": "shop@example.com", "to": "bob@example.com", "template": "sdk-receipt"}
        | {"t:version": "v1", "h:X-Mailgun-Variables": json.dumps({"name": "Bob", "plan": 1})},
    )
    stored = message(server, by_header.json()["id"])
    assert (stored["subject"], stored["html"]) == ("Receipt for Bob", "<p>v1 Bob</p>")
    both = mg.messages.create(
        domain="example.com",
        data={"from": "shop@example.com", "to": "cy@example.com", "template": "sdk-receipt"}
        | {"h:X-Mailgun-Variables": json.dumps({"name": "header"})}
        | {"t:variables": json.dumps({"name": "Cy", "plan": 3}), "t:text": "yes"},
    )
    stored = message(server, both.json()["id"])
    assert stored["subject"] == "Receipt for Cy" and "<i>other plan</i>" in stored["html"]
    # t:text=yes: a text part too, from the rendered HTML (blocks on lines, no tags).
    assert stored["text"].startswith("Cy\nother plan") and "<" not in stored["text"]


async def test_the_api_as_mailgun_answers_it(client: Client) -> None:
    base = "/v3/example.com/templates"
    made = await client.post(
        base, data={"name": "Welcome.Mail", "template": "Hi {{x}}"}, headers=AUTH
    )
    body = await made.json()
    assert made.status == 200 and body["template"]["version"]["tag"] == "initial"
    assert body["template"]["version"]["active"] is True
    again = await client.post(base, data={"name": "welcome.mail"}, headers=AUTH)
    assert again.status == 409 and "already exists" in (await again.json())["message"]
    for bad, why in (
        ({"name": "bad name"}, "alphanumeric"),
        ({}, "name parameter is missing"),
        ({"name": "x", "template": "{{#if a}}open"}, "template is not valid"),
        ({"name": "y", "template": "x" * (100 * 1024 + 1)}, "100 KB limit"),
        ({"name": "z", "template": "t", "headers": '{"X-Other": "v"}'}, "not allowed"),
        ({"name": "w", "template": "t", "engine": "mustache"}, "handlebars"),
    ):
        resp = await client.post(base, data=bad, headers=AUTH)
        assert resp.status == 400 and why in (await resp.json())["message"], bad
    one = f"{base}/welcome.mail"
    got = await (await client.get(one, headers=AUTH)).json()
    assert "version" not in got["template"]
    assert (await client.get(f"{base}/nope", headers=AUTH)).status == 404

    versions = f"{one}/versions"
    made_v2 = await client.post(versions, data={"template": "v2", "tag": "V2"}, headers=AUTH)
    assert (await made_v2.json())["template"]["version"]["active"] is False  # not asked for
    updated = await client.put(
        f"{versions}/v2", data={"active": "yes", "comment": "c"}, headers=AUTH
    )
    assert (await updated.json())["message"] == "version has been updated"
    active = await (await client.get(f"{one}?active=yes", headers=AUTH)).json()
    assert active["template"]["version"]["tag"] == "v2"
    copied = await client.put(f"{versions}/v2/copy/v3", headers=AUTH)
    assert (await copied.json())["message"] == "version has been copied"
    tags = await (await client.get(versions, headers=AUTH)).json()
    assert [v["tag"] for v in tags["template"]["versions"]] == ["initial", "v2", "v3"]
    refused = await client.delete(f"{versions}/v2", headers=AUTH)
    assert refused.status == 400  # the active one
    deleted = await client.delete(f"{versions}/initial", headers=AUTH)
    assert (await deleted.json())["message"] == "version has been deleted"
    gone = await client.delete(one, headers=AUTH)
    assert (await gone.json())["message"] == "template has been deleted"
    cleared = await client.delete(base, headers=AUTH)
    assert (await cleared.json())["message"] == "templates have been deleted"


async def test_limits_and_pages(client: Client) -> None:
    base = "/v3/example.com/templates"
    for n in range(MAX_TEMPLATES):
        assert (await client.post(base, data={"name": f"t{n:03d}"}, headers=AUTH)).status == 200
    over = await client.post(base, data={"name": "one-more"}, headers=AUTH)
    assert over.status == 400 and "at most 100" in (await over.json())["message"]
    first = await (await client.get(f"{base}?limit=30", headers=AUTH)).json()
    assert [t["name"] for t in first["items"]][:2] == ["t000", "t001"] and len(first["items"]) == 30
    nxt = first["paging"]["next"].split("/v3/", 1)[1]
    second = await (await client.get(f"/v3/{nxt}", headers=AUTH)).json()
    assert second["items"][0]["name"] == "t030"
    last = await (await client.get(f"{base}?page=last&limit=10", headers=AUTH)).json()
    assert last["items"][-1]["name"] == "t099"
    versions = f"{base}/t000/versions"
    for n in range(MAX_VERSIONS):
        resp = await client.post(versions, data={"template": "x", "tag": f"v{n}"}, headers=AUTH)
        assert resp.status == 200
    over = await client.post(versions, data={"template": "x", "tag": "v99"}, headers=AUTH)
    assert over.status == 400 and "at most 40" in (await over.json())["message"]


async def test_an_unknown_template_is_accepted_and_not_delivered(client: Client) -> None:
    # Mailgun answers 200 and does not deliver (documented in docs/fidelity.md).
    send = {"from": "a@example.com", "to": "b@example.com", "template": "missing"}
    resp = await client.post("/v3/example.com/messages", data=send, headers=AUTH)
    assert resp.status == 200
    events = await (await client.get("/v3/example.com/events", headers=AUTH)).json()
    kinds = sorted(e["event"] for e in events["items"])
    assert kinds == ["accepted", "failed"]
    failed = next(e for e in events["items"] if e["event"] == "failed")
    assert failed["severity"] == "permanent" and failed["delivery-status"]["code"] == 605
    assert failed["delivery-status"]["message"] == "template 'missing' not found"


async def test_strict_templates_answers_400(
    aiohttp_client: Callable[..., Any],
) -> None:
    client = await aiohttp_client(create_app(Config(strict_templates=True)))
    send = {"from": "a@example.com", "to": "b@example.com", "template": "missing"}
    resp = await client.post("/v3/example.com/messages", data=send, headers=AUTH)
    assert resp.status == 400
    assert (await resp.json()) == {"message": "template 'missing' not found"}


async def test_hostile_templates_are_refused_or_stopped(client: Client) -> None:
    base = "/v3/example.com/templates"
    deep = "{{#if a}}" * 500 + "x" + "{{/if}}" * 500
    resp = await client.post(base, data={"name": "deep", "template": deep}, headers=AUTH)
    assert resp.status == 400 and "template" in (await resp.json())["message"]
    # Three nested loops over 400 items: 64 million rows; stopped, recorded, not delivered.
    loops = "{{#each a}}{{#each ../a}}{{#each ../../a}}0123456789{{/each}}{{/each}}{{/each}}"
    assert (await client.post(base, data={"name": "loops", "template": loops}, headers=AUTH)).ok
    started = time.monotonic()
    send = {"from": "a@example.com", "to": "b@example.com", "template": "loops"}
    send["t:variables"] = json.dumps({"a": list(range(400))})
    resp = await client.post("/v3/example.com/messages", data=send, headers=AUTH)
    assert resp.status == 200 and time.monotonic() - started < 30
    events = await (await client.get("/v3/example.com/events?event=failed", headers=AUTH)).json()
    [failed] = events["items"]
    assert (
        "was stopped" in failed["delivery-status"]["message"]
        or "over" in failed["delivery-status"]["message"]
    )
    # Helper abuse: equal with one argument, a partial that does not exist. Stored (they
    # compile), and each send is recorded as failed, not answered with a 500.
    for n, source in enumerate(("{{#equal a}}x{{/equal}}", "{{> nowhere}}")):
        made = await client.post(base, data={"name": f"abuse{n}", "template": source}, headers=AUTH)
        assert made.status in (200, 400), await made.text()
        if made.status == 400:
            continue
        abuse = {"from": "a@example.com", "to": f"abuse{n}@example.com", "template": f"abuse{n}"}
        resp = await client.post("/v3/example.com/messages", data=abuse, headers=AUTH)
        assert resp.status == 200
        query = f"/v3/example.com/events?event=failed&recipient=abuse{n}@example.com"
        found = await (await client.get(query, headers=AUTH)).json()
        assert len(found["items"]) == 1, source
    # The renderer comes back for the next send.
    assert (await client.post(base, data={"name": "ok", "template": "Hi {{n}}"}, headers=AUTH)).ok
    fine = {"from": "a@example.com", "to": "c@example.com", "template": "ok"}
    fine["t:variables"] = json.dumps({"n": "there"})
    sent = await (await client.post("/v3/example.com/messages", data=fine, headers=AUTH)).json()
    stored = await (
        await client.get(f"/mockgun/messages/{sent['id'].strip('<>')}", headers=AUTH)
    ).json()
    assert stored["html"] == "Hi there"


def _folder(root: Path) -> Path:
    folder = root / "templates"
    (folder / "receipt").mkdir(parents=True)
    (folder / "welcome.hbs").write_text(
        "---\nSubject: Welcome, {{name}}\nFrom: Shop <shop@example.com>\n---\n<p>Hi {{name}}</p>\n"
    )
    (folder / "receipt" / "v1.hbs").write_text("---\nactive: yes\n---\nv1 {{n}}")
    (folder / "receipt" / "v2.hbs").write_text("v2 {{n}}")
    return folder


def _send(server: MockgunProcess, **fields: str) -> dict[str, Any]:
    base = {"to": "ann@example.com"} | fields
    resp = requests.post(
        f"{server.base_url}/v3/example.com/messages",
        data=base,
        auth=("api", "k"),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return message(server, resp.json()["id"])


def test_templates_from_a_folder_render_and_reload(
    spawn: Callable[..., MockgunProcess], tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    server = spawn("--templates", str(folder))
    stored = _send(server, template="welcome", **{"t:variables": '{"name": "Ann"}'})
    assert (stored["subject"], stored["html"]) == ("Welcome, Ann", "<p>Hi Ann</p>\n")
    assert stored["from"] == "Shop <shop@example.com>"  # the template's From: the send had none
    assert _send(server, template="receipt", **{"v:n": "1"})["html"] == "v1 1"  # active: yes
    listed = requests.get(
        f"{server.base_url}/v3/example.com/templates",
        auth=("api", "k"),
        verify=str(server.ca_file),
        timeout=10,
    ).json()
    assert [t["name"] for t in listed["items"]] == ["receipt", "welcome"]
    # Folder templates change with their files, not through the API.
    refused = requests.post(
        f"{server.base_url}/v3/example.com/templates/receipt/versions",
        data={"template": "x", "tag": "v3"},
        auth=("api", "k"),
        verify=str(server.ca_file),
        timeout=10,
    )
    assert refused.status_code == 400 and "change its file" in refused.json()["message"]

    (folder / "welcome.hbs").write_text("<p>Hello again, {{name}}</p>")
    wait_for(
        lambda: (
            _send(server, template="welcome", **{"v:name": "Bo"})["html"]
            == "<p>Hello again, Bo</p>"
        ),
        what="the changed file to be reloaded",
    )
    (folder / "broken.hbs").write_text("line one\n{{#each x}}\nno end")
    reload = requests.post(
        f"{server.base_url}/mockgun/templates/reload", verify=str(server.ca_file), timeout=10
    )
    assert reload.status_code == 400
    assert reload.json()["message"].endswith("broken.hbs:2: template is not valid: unclosed block")
    (folder / "broken.hbs").unlink()
    reload = requests.post(
        f"{server.base_url}/mockgun/templates/reload", verify=str(server.ca_file), timeout=10
    )
    assert reload.json()["templates"] == 2


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("bad.hbs", "ok line\n{{#if a}}\nnever closed\n", "bad.hbs:2:"),
        ("bad.hbs", "---\nSubject: s\nX-Other: v\n---\nbody", "bad.hbs:3: unknown header"),
        ("Bad Name.hbs", "x", "Bad Name.hbs:0: template name can contain only"),
        ("bad.hbs", "one\ntwo {{}}\n", "bad.hbs:2:"),
    ],
)
def test_a_bad_template_file_stops_the_start_naming_file_and_line(
    tmp_path: Path, certs: CertPaths, name: str, content: str, where: str
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / name).write_text(content)
    serve = [sys.executable, "-m", "mockgun", "serve", "--port", "0", "--templates", str(folder)]
    serve += ["--certs-dir", str(certs.directory), "--handshake-log", str(tmp_path / "h.jsonl")]
    done = subprocess.run(
        serve,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "a template in --templates cannot be used:" in done.stderr and where in done.stderr
    assert "Traceback" not in done.stderr


async def test_mime_sends_name_their_template_in_headers(client: Client) -> None:
    """Laravel's and Symfony's Mailgun transports send MIME to messages.mime and name the
    template in ``X-Mailgun-Template-*`` headers of the message itself."""
    base = "/v3/example.com/templates"
    made = await client.post(
        base, data={"name": "laravel", "template": "<p>Hi {{who}}</p>"}, headers=AUTH
    )
    assert made.status == 200
    head = (
        "From: app@example.com\r\nTo: ann@example.com\r\nSubject: Welcome\r\n"
        "X-Mailgun-Template-Name: laravel\r\n"
        'X-Mailgun-Template-Variables: {"who": "Ann"}\r\nMIME-Version: 1.0\r\n'
    )
    html_upload = head + (
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        "--b\r\nContent-Type: text/html\r\n\r\n<p>placeholder</p>\r\n--b--\r\n"
    )
    text_upload = head + "Content-Type: text/plain\r\n\r\nonly text\r\n"
    bodies = {}
    for name, upload in (("html", html_upload), ("text", text_upload)):
        form = aiohttp.FormData({"to": "ann@example.com"})
        form.add_field("message", upload.encode(), filename="message.mime")
        resp = await client.post("/v3/example.com/messages.mime", data=form, headers=AUTH)
        assert resp.status == 200, await resp.text()
        message_id = (await resp.json())["id"].strip("<>")
        bodies[name] = await (await client.get(f"/mockgun/messages/{message_id}.eml")).text()
    assert "<p>Hi Ann</p>" in bodies["html"] and "placeholder" not in bodies["html"]
    assert "plain" in bodies["html"]  # the rest of the upload as sent
    # Mailgun documents that a text/plain-only body is not template-rendered.
    assert "only text" in bodies["text"] and "Hi Ann" not in bodies["text"]
