"""Faster paths give exactly what the plain ones gave: the store's and the event log's indexes
against a walk over everything (the code they replaced), on random contents, evictions and
queries; the C form decoder against the standard library's."""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mockgun.api import form
from mockgun.mailgun.errors import MailgunError
from mockgun.mailgun.eventlog import EventLog, EventQuery, StoredEvent, _matches
from mockgun.mailgun.options import SendOptions
from mockgun.mailgun.send import Mailbox, SendRequest
from mockgun.store import MessageStore, Query
from mockgun.tls.handshake_log import HandshakeLog

DOMAINS = ["a.com", "B.com"]
KINDS = ["accepted", "delivered", "stored"]


def scan_page(events: list[StoredEvent], domain: str, query: EventQuery) -> list[StoredEvent]:
    """The event log's paging as a plain walk over every event (mockgun's earlier code)."""

    def selected(event: StoredEvent) -> bool:
        if event.domain != domain.lower():
            return False
        ts = float(event.data.get("timestamp", 0))
        if query.begin is not None and (ts < query.begin if query.ascending else ts > query.begin):
            return False
        return all(_matches(event.data, n, v) for n, v in query.filters)

    chosen = [e for e in events if selected(e)]
    if not query.ascending:
        chosen.reverse()

    def after(e: StoredEvent) -> bool:
        return e.seq > query.seq if query.ascending else e.seq < query.seq

    if query.page == "first":
        return chosen[: query.limit]
    if query.page == "last":
        return chosen[-query.limit :] if query.limit else []
    if query.page == "after":
        return [e for e in chosen if after(e)][: query.limit]
    before = [e for e in chosen if e.seq != query.seq and not after(e)]
    return before[-query.limit :] if query.limit else []


events_strategy = st.lists(
    st.tuples(st.sampled_from(DOMAINS), st.sampled_from(KINDS), st.integers(0, 5), st.floats(0, 9)),
    max_size=60,
)
queries = st.builds(
    EventQuery,
    filters=st.one_of(
        st.just(()),
        st.sampled_from(KINDS).map(lambda k: (("event", k),)),
        st.just((("event", "accepted OR stored"),)),
        st.integers(0, 5).map(lambda m: (("message-id", f"m{m}"),)),
        st.integers(0, 5).map(lambda m: (("message-id", f"<M{m}>"),)),
    ),
    begin=st.one_of(st.none(), st.floats(0, 9)),
    ascending=st.booleans(),
    limit=st.integers(0, 7),
    page=st.sampled_from(["first", "last", "after", "before"]),
    seq=st.integers(0, 70),
)


@settings(max_examples=1500, deadline=None)
@given(
    added=events_strategy,
    cap=st.one_of(st.none(), st.integers(1, 30)),
    query=queries,
    domain=st.sampled_from(["a.com", "b.com"]),
)
def test_event_pages_match_a_full_scan(
    added: list[tuple[str, str, int, float]], cap: int | None, query: EventQuery, domain: str
) -> None:
    log = EventLog(cap)
    for dom, kind, message, ts in added:
        data: dict[str, Any] = {
            "event": kind,
            "timestamp": ts,
            "message": {"headers": {"message-id": f"{'m' if message % 2 else 'M'}{message}"}},
        }
        log.add(dom, [data])
    kept = list(log._events)
    assert log.page(domain, query) == scan_page(kept, domain, query)
    for message in range(6):
        for bare in (f"m{message}", f"M{message}"):
            expected = [e.data for e in kept if e.data["message"]["headers"]["message-id"] == bare]
            assert log.for_message(bare) == expected


def _send(domain: str, to: list[str], tags: list[str], subject: str) -> SendRequest:
    return SendRequest(
        domain=domain,
        endpoint="messages",
        sender="s@x.com",
        to=tuple(Mailbox("", a) for a in to),
        subject=subject,
        text="t",
        options=SendOptions(tags=tuple(tags)),
    )


@settings(max_examples=800, deadline=None)
@given(
    sends=st.lists(
        st.tuples(
            st.sampled_from(DOMAINS),
            st.lists(
                st.sampled_from(["ann@x.com", "Bob@x.com", "cy@y.org"]), min_size=1, max_size=2
            ),
            st.lists(st.sampled_from(["t1", "T2"]), max_size=2, unique=True),
            st.sampled_from(["hello", "order 42", "Hello again"]),
        ),
        max_size=40,
    ),
    cap=st.one_of(st.none(), st.integers(1, 25)),
    query=st.builds(
        Query,
        domain=st.one_of(st.none(), st.sampled_from(["a.com", "b.com", "c.com"])),
        to=st.one_of(st.none(), st.sampled_from(["ann@x.com", "bob@x.com", "zed@x.com"])),
        tag=st.one_of(st.none(), st.sampled_from(["t1", "t2"])),
        subject=st.one_of(st.none(), st.sampled_from(["hello", "42"])),
        query=st.one_of(st.none(), st.sampled_from(["x.com", "again"])),
    ),
    since_index=st.one_of(st.none(), st.integers(0, 40)),
    newest_first=st.booleans(),
    limit=st.one_of(st.none(), st.integers(0, 5)),
)
def test_message_pages_match_a_full_scan(
    sends: list[tuple[str, list[str], list[str], str]],
    cap: int | None,
    query: Query,
    since_index: int | None,
    newest_first: bool,
    limit: int | None,
) -> None:
    store = MessageStore(max_messages=cap)
    stored = [store.add(_send(*send)) for send in sends]
    kept = list(store._messages.values())
    since = None
    if since_index is not None and stored:
        since = stored[min(since_index, len(stored) - 1)].bare_id
    query = dataclasses.replace(query, since=since)
    ids = [m.bare_id for m in kept]
    try:
        items, total = store.page(query, newest_first=newest_first, limit=limit)
    except ValueError:  # an evicted id, which is no RFC 3339 time either
        assert since is not None and since not in ids
        return
    # The plain scan: every kept message in order, after `since`.
    after = kept[ids.index(since) + 1 :] if since in ids else kept
    expected = [m for m in after if m.matches(**query.filters())]
    assert total == len(expected)
    ordered = expected[::-1] if newest_first else expected
    assert items == (ordered if limit is None else ordered[:limit])
    assert store.domains() == sorted({m.domain.lower() for m in kept})


def _stdlib_decode(raw: bytes) -> str | None:
    try:
        return urllib.parse.unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=60),
        st.text(max_size=40).map(lambda t: urllib.parse.quote_plus(t).encode()),
        st.lists(
            st.sampled_from([b"%", b"2", b"5", b"e", b"C3", b"A9", b"ff", b"+", b"a", b"\xc3"])
        ).map(b"".join),
    )
)
def test_the_fast_form_decoder_agrees_with_the_standard_library(raw: bytes) -> None:
    """What form.py decodes with yarl's C unquoter is what urllib decodes, or the same 400."""
    assert form._c_unquote is not None  # the fast path is the one under test
    bad_escape = form._BAD_ESCAPE.search(raw) is not None
    expected = None if bad_escape else _stdlib_decode(raw)
    try:
        assert form._decode_qs(bytearray(raw)) == expected  # what the reader hands it
    except MailgunError as exc:
        assert expected is None and exc.status == 400
        assert ("invalid URL escape" in exc.message) == bad_escape


@settings(max_examples=500, deadline=None)
@given(
    written=st.lists(
        st.tuples(st.sampled_from(["ok", "rejected", "failed"]), st.booleans()), max_size=50
    ),
    memory=st.integers(1, 30),
    outcomes=st.lists(st.sampled_from(["ok", "rejected", "failed", "insecure"]), max_size=3),
    newest_first=st.booleans(),
    limit=st.one_of(st.none(), st.integers(0, 6)),
    since=st.one_of(st.none(), st.integers(0, 50).map(str)),
)
def test_handshake_selection_matches_a_full_scan(
    written: list[tuple[str, bool]],
    memory: int,
    outcomes: list[str],
    newest_first: bool,
    limit: int | None,
    since: str | None,
) -> None:
    log = HandshakeLog.in_memory(memory)
    for conn_id, (outcome, healthcheck) in enumerate(written, start=1):
        record: Any = {"conn_id": conn_id, "ts": "2026-12-03T00:00:00.000Z", "outcome": outcome}
        if healthcheck:
            record["healthcheck"] = True
        log.write(record)
    kept = list(reversed(log.records)) if newest_first else list(log.records)
    expected = [
        k.record()
        for k in kept
        if (not outcomes or k.outcome in outcomes) and (since is None or k.conn_id > int(since))
    ]
    got = log.select(outcomes=outcomes, since=since, limit=limit, newest_first=newest_first)
    assert got == (expected if limit is None else expected[:limit])
