"""The handshake report: what a handshake log says about the clients that connected.

Totals are kept one record at a time (:class:`Tally`), so a log of any size is read in
bounded memory (:mod:`.log_scan` streams it); mockgun's own health checks are left out.
How a report is printed (text, JSON, JUnit, GitHub annotations) is :mod:`.report_formats`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clock import rfc3339
from .clients import UNKNOWN, label_from_ja4, label_from_user_agent
from .log_scan import LogScan

if TYPE_CHECKING:
    from .handshake_log import HandshakeLog

#: A log line as read back: from a file it may be any JSON object (the report must cope
#: with lines another version, or a hand, wrote); from memory, a :class:`HandshakeRecord`.
Record = Mapping[str, Any]

LEGACY_VERSIONS = frozenset({"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"})
#: Distinct client names a row keeps (a JA4 is one TLS stack: a handful at most).
_MAX_AGENTS = 8
_VERSION_ORDER = ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]


def is_legacy(record: Record) -> bool:
    """An attempt that offered at most TLS 1.1, or that mockgun refused for its versions."""
    return (
        record.get("outcome") == "rejected" or record.get("client_max_version") in LEGACY_VERSIONS
    )


def negotiated_json(negotiated: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
    """Successful handshakes by version and cipher, the most common first."""
    return [{"tls_version": v, "cipher": c, "count": n} for (v, c), n in negotiated.most_common()]


def _version_key(name: str) -> int:
    return _VERSION_ORDER.index(name) if name in _VERSION_ORDER else -1


@dataclass
class ClientRow:
    """One distinct client: a JA4 fingerprint and the server name it asked for."""

    ja4: str
    sni: str | None
    offered: set[str] = field(default_factory=set)
    got: set[str] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)
    count: int = 0
    first: str = ""
    last: str = ""
    legacy: bool = False
    #: Clients named by the User-Agent of their requests (see :mod:`.clients`).
    agents: Counter[str] = field(default_factory=Counter)

    @property
    def client(self) -> str:
        """What this client most likely is: by its requests' User-Agent, else by its JA4
        in the shipped fingerprint table, else ``unknown client``."""
        if self.agents:
            return self.agents.most_common(1)[0][0]
        return label_from_ja4(self.ja4) or UNKNOWN

    def add(self, record: Record) -> None:
        self.count += 1
        agent = record.get("user_agent")
        if agent:
            name = label_from_user_agent(str(agent))
            if len(self.agents) < _MAX_AGENTS or name in self.agents:
                self.agents[name] += 1
        self.offered.update(record.get("client_versions") or [])
        if record.get("client_max_version"):
            self.offered.add(record["client_max_version"])
        if record.get("tls_version"):
            self.got.add(record["tls_version"])
        self.outcomes[str(record.get("outcome"))] += 1
        ts = str(record.get("ts", ""))
        self.first = min(self.first, ts) if self.first else ts
        self.last = max(self.last, ts)
        self.legacy = self.legacy or is_legacy(record)

    def as_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "ja4": self.ja4,
            "sni": self.sni,
            "offered": sorted(self.offered, key=_version_key, reverse=True),
            "got": sorted(self.got, key=_version_key, reverse=True),
            "outcomes": dict(self.outcomes),
            "count": self.count,
            "first": self.first,
            "last": self.last,
            "legacy": self.legacy,
        }


@dataclass
class Report:
    scan: LogScan
    attempts: int
    healthchecks_left_out: int
    outcomes: Counter[str]
    negotiated: Counter[tuple[str, str]]
    clients: list[ClientRow]
    #: Refused and failed attempts, the first :data:`MAX_KEPT` of them.
    failures: list[Record]
    failures_omitted: int = 0
    #: Successful attempts that are near misses (a ``warning``).
    warned: list[Record] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.scan.source

    @property
    def failed_found(self) -> bool:
        """Any attempt that did not end in a session (health checks aside)."""
        return bool(self.failures)

    @property
    def legacy_clients(self) -> list[ClientRow]:
        return [c for c in self.clients if c.legacy]

    @property
    def legacy_without_hello(self) -> list[Record]:
        return [r for r in self.failures if is_legacy(r) and not r.get("ja4")]

    @property
    def insecure(self) -> list[Record]:
        """Requests that arrived on the canary port: clients that skip certificate checks."""
        return [r for r in self.failures if r.get("outcome") == "insecure"]

    @property
    def legacy_found(self) -> bool:
        return bool(self.legacy_clients or self.legacy_without_hello)

    def as_json(self) -> dict[str, Any]:
        return {
            "log": self.source,
            **self.scan.as_json(),
            "attempts": self.attempts,
            "healthchecks_left_out": self.healthchecks_left_out,
            "outcomes": dict(self.outcomes),
            "negotiated": negotiated_json(self.negotiated),
            "clients": [c.as_json() for c in self.clients],
            "failures": self.failures,
            "failures_omitted": self.failures_omitted,
            "near_misses": self.warned,
            "legacy_found": self.legacy_found,
            "insecure_found": bool(self.insecure),
            "insecure": self.insecure,
            "legacy_clients": [c.as_json() for c in self.legacy_clients],
        }


#: Failed attempts a report keeps whole (the rest are counted): memory stays bounded.
MAX_KEPT = 1_000

#: Bucket widths for the timeline, in seconds: the narrowest that fits is used.
_BUCKET_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
#: Time slots a Tally keeps for the timeline before it coarsens them, and the resolutions it
#: coarsens through (each a multiple of the one before, and a bucket width above).
MAX_SLOTS = 10_000
_RESOLUTIONS = (1, 10, 60, 600, 3600, 86400)


def _category(record: Record) -> str:
    """What the timeline counts a record as: its negotiated version, ``refused`` (too old)
    or ``failed`` (every other failed attempt)."""
    outcome = record.get("outcome")
    if outcome == "ok":
        return str(record.get("tls_version") or "unknown")
    return "refused" if outcome == "rejected" else "failed"


@dataclass
class Tally:
    """Running totals over handshake records, added one at a time: the report is built from
    one, and the web page keeps one that it tops up with new records when it asks."""

    #: Keep every failed record (the report lists them); the page's tally does not.
    keep_failures: bool = True
    outcomes: Counter[str] = field(default_factory=Counter)
    negotiated: Counter[tuple[str, str]] = field(default_factory=Counter)
    clients: dict[tuple[str, str | None], ClientRow] = field(default_factory=dict)
    failures: list[Record] = field(default_factory=list)
    failures_omitted: int = 0
    #: Successful attempts with a ``warning`` (near misses), the first :data:`MAX_KEPT`.
    warned: list[Record] = field(default_factory=list)
    healthchecks: int = 0
    #: Legacy attempts with no ClientHello to fingerprint (so in no client row).
    legacy_without_hello: int = 0
    #: Attempts by timeline category per time slot (its start, Unix time) of ``resolution``
    #: seconds: one second at first, coarser once a long run fills :data:`MAX_SLOTS` slots.
    slots: dict[int, Counter[str]] = field(default_factory=dict)
    resolution: int = 1
    _second: tuple[str, int | None] = ("", None)

    def add(self, record: Record) -> None:
        if record.get("healthcheck"):
            self.healthchecks += 1
            return
        outcome = str(record.get("outcome"))
        self.outcomes[outcome] += 1
        if outcome == "ok":
            self.negotiated[(str(record.get("tls_version")), str(record.get("cipher")))] += 1
            if record.get("warning") and self.keep_failures and len(self.warned) < MAX_KEPT:
                self.warned.append(record)
        elif self.keep_failures:
            if len(self.failures) < MAX_KEPT:
                self.failures.append(record)
            else:
                self.failures_omitted += 1
        if not record.get("ja4"):
            self.legacy_without_hello += is_legacy(record)
        else:
            sni = record.get("client_sni") or record.get("sni")
            key = (str(record["ja4"]), sni)
            row = self.clients.get(key)
            if row is None:
                row = self.clients[key] = ClientRow(ja4=key[0], sni=sni)
            row.add(record)
        epoch = self._epoch(str(record.get("ts", ""))[:19])
        if epoch is not None:
            slot = epoch - epoch % self.resolution
            self.slots.setdefault(slot, Counter())[_category(record)] += 1
            if len(self.slots) > MAX_SLOTS:
                self._coarsen()

    def _coarsen(self) -> None:
        """Merge the slots into the next coarser resolution, so memory stays bounded however
        long mockgun runs (each resolution is a multiple of the one before)."""
        self.resolution = next((r for r in _RESOLUTIONS if r > self.resolution), 10**9)
        merged: dict[int, Counter[str]] = {}
        for slot, counts in self.slots.items():
            merged.setdefault(slot - slot % self.resolution, Counter()).update(counts)
        self.slots = merged

    def _epoch(self, second: str) -> int | None:
        # Records come in time order, many to a second: parse each second once.
        if second != self._second[0]:
            try:
                moment = dt.datetime.fromisoformat(second).replace(tzinfo=dt.timezone.utc)
                self._second = (second, int(moment.timestamp()))
            except ValueError:
                self._second = (second, None)
        return self._second[1]

    def client_rows(self) -> list[ClientRow]:
        return sorted(self.clients.values(), key=lambda c: c.first)

    @property
    def legacy_found(self) -> bool:
        """The report's rule (:attr:`Report.legacy_found`), from the totals alone."""
        return bool(self.legacy_without_hello) or any(c.legacy for c in self.clients.values())

    def timeline(self, *, buckets: int = 60) -> dict[str, Any]:
        """Attempts over time in at most ``buckets`` equal buckets of a round width."""
        stamped = self.slots.items()
        if not stamped:
            return {"bucket_seconds": self.resolution, "series": [], "buckets": []}
        first = min(t for t, _ in stamped)
        last = max(t for t, _ in stamped)
        widths = [w for w in _BUCKET_WIDTHS if w % self.resolution == 0] or [self.resolution]
        width = next((w for w in widths if last // w - first // w < buckets), widths[-1])
        start = first // width * width
        totals: list[Counter[str]] = [Counter() for _ in range((last - start) // width + 1)]
        found: set[str] = set()
        for moment_s, counts in stamped:
            totals[(moment_s - start) // width].update(counts)
            found.update(counts)
        versions = sorted(found - {"refused", "failed"}, key=_version_key, reverse=True)
        return {
            "bucket_seconds": width,
            "series": versions + [c for c in ("refused", "failed") if c in found],
            "buckets": [
                {"start": rfc3339(start + i * width), "counts": dict(c)}
                for i, c in enumerate(totals)
            ],
        }


def build_report(scan: LogScan, records: Iterable[Record]) -> Report:
    """Count ``records`` (read once, one at a time) into a report."""
    tally = Tally()
    for record in records:
        tally.add(record)
    return Report(
        scan=scan,
        attempts=sum(tally.outcomes.values()),
        healthchecks_left_out=tally.healthchecks,
        outcomes=tally.outcomes,
        negotiated=tally.negotiated,
        clients=tally.client_rows(),
        failures=tally.failures,
        failures_omitted=tally.failures_omitted,
        warned=tally.warned,
    )


class LiveSummary:
    """The totals behind ``/mockgun/handshakes/report``, topped up with the records written
    since the last request: each record is counted once, and only while someone asks (the
    handshake path pays nothing for it). Records the in-memory copy evicted before they
    were counted are counted as ``missed``."""

    def __init__(self) -> None:
        self.tally = Tally(keep_failures=False)
        self.counted = 0
        self.missed = 0

    def catch_up(self, log: HandshakeLog) -> Tally:
        written = log.evicted + len(log.records)
        new = written - self.counted
        if new > 0:
            held = min(new, len(log.records))
            self.missed += new - held
            for kept in itertools.islice(log.records, len(log.records) - held, None):
                self.tally.add(kept.record())
            self.counted = written
        return self.tally
