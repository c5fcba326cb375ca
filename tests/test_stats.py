"""Mailgun's tags and stats, counted from mockgun's own events: totals equal the events of the
same window, with the failed.permanent breakdowns, per domain and per tag."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from support import AUTH, Client


async def _send(client: Client, to: str, tag: str | None = None) -> None:
    data = {"from": "shop@example.com", "to": to, "subject": "s", "text": "t"}
    if tag:
        data["o:tag"] = tag
    resp = await client.post("/v3/example.com/messages", data=data, headers=AUTH)
    assert resp.status == 200


async def test_stats_totals_equal_the_events_of_the_window(client: Client) -> None:
    await client.post("/v3/example.com/complaints", data={"address": "c@example.com"}, headers=AUTH)
    for to, tag in (
        ("a@example.com", "news"),
        ("b@example.com", "news"),
        ("bounce@example.com", None),
        ("c@example.com", "news"),  # suppressed: suppress-complaint
        ("opened@example.com", None),
    ):
        await _send(client, to, tag)
    events = await (await client.get("/v3/example.com/events?limit=300", headers=AUTH)).json()
    counted: Counter[str] = Counter()
    for e in events["items"]:
        key = e["event"]
        if key == "failed":
            key = f"failed.{e['severity']}.{e['reason']}"
        counted[key] += 1
    query = "event=accepted&event=delivered&event=failed&event=opened&duration=1d&resolution=day"
    answer = await (await client.get(f"/v3/example.com/stats/total?{query}", headers=AUTH)).json()
    assert answer["resolution"] == "day"
    totals: Counter[str] = Counter()
    for bucket in answer["stats"]:
        totals["accepted"] += bucket["accepted"]["total"]
        totals["delivered"] += bucket["delivered"]["total"]
        totals["opened"] += bucket["opened"]["total"]
        for reason, n in bucket["failed"]["permanent"].items():
            if reason != "total":
                totals[f"failed.permanent.{reason}"] += n
    assert totals["accepted"] == counted["accepted"] == 5
    assert totals["delivered"] == counted["delivered"]
    assert totals["opened"] == counted["opened"] == 1
    assert totals["failed.permanent.bounce"] == counted["failed.permanent.bounce"] == 1
    assert totals["failed.permanent.suppress-complaint"] == 1

    # Per tag: the tag is listed, and its stats count only its messages.
    tags = await (await client.get("/v3/example.com/tags", headers=AUTH)).json()
    assert [t["tag"] for t in tags["items"]] == ["news"]
    tagged = await (
        await client.get(f"/v3/example.com/tags/news/stats?{query}", headers=AUTH)
    ).json()
    assert sum(b["accepted"]["total"] for b in tagged["stats"]) == 3
    updated = await client.put("/v3/example.com/tags/news", data={"description": "d"}, headers=AUTH)
    assert (await updated.json())["message"] == "Tag updated"
    assert (await (await client.get("/v3/example.com/tags/news", headers=AUTH)).json())[
        "description"
    ] == "d"
    deleted = await client.delete("/v3/example.com/tags/news", headers=AUTH)
    assert (await deleted.json())["message"] == "Tag deleted"
    assert (await client.get("/v3/example.com/tags/news", headers=AUTH)).status == 404


async def test_stats_windows_and_bad_queries(client: Client) -> None:
    await _send(client, "a@example.com")
    now = int(time.time())
    hourly = await (
        await client.get(
            f"/v3/example.com/stats/total?event=accepted&start={now - 7200}&end={now}"
            "&resolution=hour",
            headers=AUTH,
        )
    ).json()
    assert (
        len(hourly["stats"]) in (3, 4) and sum(b["accepted"]["total"] for b in hourly["stats"]) == 1
    )
    for query, why in (
        ("", "Missing mandatory parameter: event"),
        ("?event=nope", "not a valid event"),
        ("?event=accepted&resolution=week", "resolution"),
        ("?event=accepted&duration=forever", "duration"),
        ("?event=accepted&start=yesterday", "start"),
    ):
        resp = await client.get(f"/v3/example.com/stats/total{query}", headers=AUTH)
        body: dict[str, Any] = await resp.json()
        assert resp.status == 400 and why in body["message"], query
