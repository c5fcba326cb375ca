"""Every endpoint, Mailgun's and mockgun's own, fuzzed: whatever arrives (path values, query
strings, forms, multipart, JSON, raw bytes), the answer is Mailgun-shaped and never a 500.

The routes come from the app's router, so an endpoint added later is fuzzed too. A run in
CI makes a few hundred requests; `HYPOTHESIS_PROFILE=long` makes tens of thousands.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import AUTH, Client

from mockgun import Config, create_app

#: Served by the router but not fuzzed here: the live stream never ends by design (it has
#: its own tests), the page's static files take no input.
SKIPPED = {"/mockgun/stream"}


def _routes() -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for route in create_app().router.routes():
        resource = route.resource
        path = resource.canonical if resource is not None else ""
        if route.method in ("HEAD", "*") or path in SKIPPED or not path.startswith(("/v", "/m")):
            continue
        seen.setdefault((route.method, path), None)
    return list(seen)


ROUTES = _routes()
#: Per route: a quick pass in every run, a thorough one with HYPOTHESIS_PROFILE=long.
EXAMPLES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 25
words = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "example.com",
            "a@example.com",
            "-1",
            "0",
            "1",
            "301",
            "yes",
            "no",
            "delivered",
            "opened",
            "failed",
            "2026-01-01T00:00:00Z",
            "Mon, 01 Jan 2029 10:00:00 +0000",
            "[1,2]",
            "null",
            "{}",
            "%",
            "..",
            "\x00",
            "(" * 600,
            "[" * 1000,
            "{{#if a}}x{{else}}y{{/if}}",
            "{{#each a}}{{this}}{{/each}}",
            "{{#equal a}}{{/equal}}",
            "{{{{",
            "{{> partial}}",
            '{"Subject": "{{a}}"}',
            '{"a": [1, 2]}',
            "match_recipient('(?P<u>.*)@example.com')",
            "match_header('subject', '(a|aa)+$') and catch_all()",
            "catch_all()",
            "forward('http://127.0.0.1:9/in?u=\\g<u>')",
            "store(notify='http://127.0.0.1:9/n')",
            "stop()",
            "From: a@example.com\r\nTo: b@example.com\r\n\r\nhi",
            "sending",
            "domain",
        ]
    ),
)
names = st.one_of(
    words,
    st.sampled_from(
        [
            "to", "from", "subject", "text", "html", "id", "url", "limit", "skip", "page",
            "event", "recipient", "severity", "rule", "order", "since", "timeout", "q",
            "healthchecks", "buckets", "ascending", "begin", "end", "message",
            "name", "template", "tag", "active", "headers", "engine", "comment",
            "description", "t:variables", "t:version", "t:text",
            "address", "code", "error", "tags", "tag", "created_at", "domain", "reason",
            "members", "vars", "subscribed", "upsert", "access_level", "reply_preference",
            "skip", "resolution", "duration", "start",
        ]
    ),
)  # fmt: skip
pairs = st.lists(st.tuples(names, words), max_size=6)


@st.composite
def requests_for(draw: st.DrawFn, route: tuple[str, str]) -> dict[str, Any]:
    method, template = route
    path = re.sub(
        r"\{[^}]+\}",
        lambda _: draw(st.one_of(st.sampled_from(["example.com", "x", "0"]), words))[:300] or "x",
        template,
    )
    query = draw(pairs)
    # Past aiohttp's request-line limit (8 KiB) its protocol answers, before mockgun's code:
    # test_hostile shows the served protocol answering that in Mailgun's shape too.
    while query and len(urlencode(query)) + len(quote(path)) > 6000:
        query.pop()
    if template == "/mockgun/messages/wait":
        query = [(k, v) for k, v in query if k != "timeout"] + [("timeout", "0")]
    body_kind = draw(st.sampled_from(["none", "form", "multipart", "json", "raw"]))
    request: dict[str, Any] = {"method": method, "path": path, "params": query}
    fields = draw(pairs)
    if body_kind == "form":
        request["data"] = fields
    elif body_kind == "multipart":  # by hand: any bytes may go into names and values
        request["data"] = (
            b"".join(
                b'--XyZ\r\nContent-Disposition: form-data; name="'
                + name.encode("utf-8", "surrogatepass")
                + b'"\r\n\r\n'
                + value.encode("utf-8", "surrogatepass")
                + b"\r\n"
                for name, value in fields
            )
            + b"--XyZ--\r\n"
        )
        request["headers"] = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    elif body_kind == "json":
        request["data"] = json.dumps(draw(st.one_of(st.dictionaries(names, words), words)))
        request["headers"] = {"Content-Type": "application/json"}
    elif body_kind == "raw":
        request["data"] = draw(st.binary(max_size=200))
        request["headers"] = {"Content-Type": draw(st.sampled_from(["", "text/plain", "x/y"]))}
    return request


async def _answer_is_mailgun_shaped(client: Client, request: dict[str, Any]) -> None:
    headers = {**AUTH, **request.pop("headers", {})}
    path = request.pop("path")
    try:
        resp = await client.request(request.pop("method"), path, headers=headers, **request)
    except ValueError:  # a path aiohttp's own client refuses to send: nothing reached mockgun
        return
    text = await resp.text(errors="replace")
    assert resp.status < 500, (resp.status, path, text[:300])
    if resp.status == 401:
        assert text == "Forbidden"
    elif resp.status >= 400:
        assert set(json.loads(text)) == {"message"}, text[:300]


@pytest.fixture
async def fuzz_client(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    return await aiohttp_client(create_app(Config(max_message_size=64 * 1024)))


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_endpoint_answers_hostile_input_in_mailguns_shape(
    fuzz_client: Client, route: tuple[str, str], data: st.DataObject
) -> None:
    # A message to act on, so that lookups reach past "not found" now and then.
    await fuzz_client.post(
        "/v3/example.com/messages",
        data={"from": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"},
        headers=AUTH,
    )
    await _answer_is_mailgun_shaped(fuzz_client, data.draw(requests_for(route)))


def test_every_route_is_fuzzed() -> None:
    assert len(ROUTES) >= 30  # both surfaces, every method (HEAD aside)
    assert {p for _, p in ROUTES} >= {"/v3/{domain}/messages", "/mockgun/faults"}
