"""The routes API's answers and how routes are evaluated: Mailgun's order, stop(), catch_all(),
captures; bad expressions refused with a 400 that says why (and never evaluated as code)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import AUTH, Client

from mockgun.mailgun.errors import MailgunError
from mockgun.mailgun.routes import RouteBook, evaluate, parse_action, parse_expression


async def create(client: Client, expression: str, *actions: str, **more: str) -> Any:
    form = [("expression", expression), *(("action", a) for a in actions), *more.items()]
    resp = await client.post("/v3/routes", data=form, headers=AUTH)
    return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("expression", "actions", "message"),
    [
        ("", ["stop()"], "Expression is missing"),
        ("match_recipient('.*')", [], "'action' parameter is missing"),
        ("match_recipient('.*'", ["stop()"], "'(' was never closed (<unknown>, line 1)"),
        ("match_recipient(", ["stop()"], "'(' was never closed (<unknown>, line 1)"),
        ("__import__('os').system('true')", ["stop()"], "Invalid expression: "),
        ("open('/etc/passwd')", ["stop()"], "'open' is not a route filter"),
        ("match_recipient('(')", ["stop()"], "Invalid regular expression in match_recipient()"),
        ("match_header('subject')", ["stop()"], "match_header() takes a header name and"),
        ("match_recipient('a') or catch_all()", ["stop()"], "Invalid expression: "),
        ("match_recipient(x)", ["stop()"], "match_recipient() takes quoted strings"),
        ("catch_all()", ["forward('ftp://x')"], "forward() destination is not a URL"),
        ("catch_all()", ["store(notify='nope')"], "store() notify is not a URL"),
        ("catch_all()", ["drop()"], "Invalid action: drop(); use forward(), store() or stop()"),
        ("match_recipient('" + "a" * 5000 + "')", ["stop()"], "The expression cannot exceed 4k"),
    ],
)
async def test_bad_routes_get_a_400_saying_why(
    client: Client, expression: str, actions: list[str], message: str
) -> None:
    status, body = await create(client, expression, *actions)
    assert status == 400
    assert body["message"].startswith(message), body


async def test_crud_and_paging(client: Client) -> None:
    status, made = await create(
        client, 'match_header("subject", ".*support")', "stop()", priority="2", description="d"
    )
    assert status == 200 and made["message"] == "Route has been created"
    route = made["route"]
    assert route["actions"] == ["stop()"] and route["priority"] == 2
    assert route["created_at"].endswith(" GMT") and len(route["id"]) == 24
    for n in range(3):
        await create(client, f"match_recipient('r{n}@x.com')", "store()", priority="1")
    listed = await (await client.get("/v3/routes?skip=1&limit=2", headers=AUTH)).json()
    assert listed["total_count"] == 4
    assert [r["expression"] for r in listed["items"]] == [
        "match_recipient('r1@x.com')",
        "match_recipient('r2@x.com')",
    ]
    put = await client.put(f"/v3/routes/{route['id']}", data={"priority": "0"}, headers=AUTH)
    updated = await put.json()
    assert updated["message"] == "Route has been updated" and updated["priority"] == 0
    assert updated["expression"] == 'match_header("subject", ".*support")'  # unchanged
    gone = await client.delete(f"/v3/routes/{route['id']}", headers=AUTH)
    assert await gone.json() == {"id": route["id"], "message": "Route has been deleted"}
    missing = await client.get(f"/v3/routes/{route['id']}", headers=AUTH)
    assert (missing.status, await missing.json()) == (404, {"message": "Route not found"})
    nothing = await client.get("/v3/routes/match?address=nobody@y.org", headers=AUTH)
    assert (nothing.status, await nothing.json()) == (404, {"message": "Route not found"})


def _book(*routes: tuple[int, str, list[str]]) -> RouteBook:
    book = RouteBook()
    for priority, expression, actions in routes:
        book.create(priority=priority, description="", expression=expression, actions=actions)
    return book


def test_order_stop_catch_all_and_captures() -> None:
    book = _book(
        (10, "catch_all()", ["store()"]),
        (5, r"match_recipient('^(?P<user>[^@]+)@app\.com$')", [r"forward('http://h/\g<user>')"]),
        (1, r"match_recipient('^vip-(\w+)@app\.com$')", [r"forward('http://h/vip/\1')", "stop()"]),
        (5, "match_recipient('.*@app.com') and match_header('X-Spam', 'yes')", ["stop()"]),
    )
    headers = [("Subject", "hi"), ("X-Spam", "no")]
    vip = evaluate(book.ordered(), "vip-ann@app.com", headers)
    assert [m.forward_urls for m in vip] == [("http://h/vip/ann",)]  # stop(): nothing after
    plain = evaluate(book.ordered(), "Bob@APP.com", headers)
    assert [m.forward_urls for m in plain] == [("http://h/Bob",)]  # catch_all: one matched
    spam = evaluate(book.ordered(), "bob@app.com", [("X-Spam", "YES")])
    assert [m.stop for m in spam] == [False, True]  # both priority 5, oldest first
    other = evaluate(book.ordered(), "x@elsewhere.org", headers)
    assert [(m.store, m.priority) for m in other] == [(True, 10)]


def test_patterns_are_kept_as_written() -> None:
    """Python's parser would turn "\\b" into a backspace; the pattern must reach re intact."""
    (flt,) = parse_expression(r"match_recipient('^\bsupport\+(.*)@x\.com$')")
    assert flt.pattern is not None
    assert flt.pattern.pattern == r"^\bsupport\+(.*)@x\.com$"
    assert flt.pattern.match("support+42@x.com")
    assert parse_action('forward("http://h/?a=\\1")').destinations == ("http://h/?a=\\1",)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    expression=st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda f, a: f"{f}({a})",
            st.sampled_from(["match_recipient", "match_header", "catch_all", "stop", "x"]),
            st.text(max_size=30),
        ),
    ),
    action=st.text(max_size=60),
    recipient=st.text(max_size=40),
)
def test_any_text_is_a_route_or_a_400(expression: str, action: str, recipient: str) -> None:
    book = RouteBook()
    try:
        book.create(priority=0, description="", expression=expression, actions=[action])
    except MailgunError as exc:
        assert exc.status == 400 and exc.message
        return
    evaluate(book.ordered(), recipient, [("Subject", recipient)])  # never raises
