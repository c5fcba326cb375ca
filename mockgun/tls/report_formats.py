"""A report, printed: ``text`` (aligned columns, advice per failure class), ``json``,
``junit`` (one test case per client, the XML CI systems render; written with junitparser)
and ``github`` (workflow annotations), plus the lines each gate prints when it fails."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .advice import ADVICE, TITLES, failure_class
from .report import ClientRow, Report

FORMATS = ("text", "json", "junit", "github")


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.as_json(), indent=2)
    if fmt == "junit":
        return junit(report)
    if fmt == "github":
        return github(report)
    return text(report)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: str = "  "
) -> list[str]:
    """Columns as wide as their widest cell, two spaces apart: nothing runs together."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        (indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip()
        for row in cells
    ]


def _versions(names: Sequence[str]) -> str:
    return " ".join(names) or "-"


def client_label(row: ClientRow) -> str:
    """``curl 7 (JA4 t13d..., SNI localhost)``: who, then how to find it in the log."""
    where = f"JA4 {row.ja4}" + (f", SNI {row.sni}" if row.sni else "")
    return f"{row.client} ({where})"


def failure_classes(report: Report) -> Counter[str]:
    """Refused and failed attempts, and near misses, by kind."""
    records = [*report.failures, *report.warned]
    return Counter(c for r in records if (c := failure_class(r)) is not None)


def text(report: Report, *, max_failures: int = 50) -> str:
    scan = report.scan
    head = f"mockgun handshake report: {report.source}"
    if scan.run:
        head += f", run {scan.run}"
    notes = [f"{report.attempts} attempt{'' if report.attempts == 1 else 's'}"]
    if report.healthchecks_left_out:
        notes.append(f"{report.healthchecks_left_out} health checks left out")
    if scan.other_runs:
        notes.append(
            f"{sum(scan.other_runs.values())} lines of {len(scan.other_runs)} other run(s) "
            "left out (--all-runs reads them)"
        )
    if scan.before_since:
        notes.append(f"{scan.before_since} lines before --since left out")
    out = [head, "; ".join(notes), "", "Outcomes"]
    out += (
        table(["outcome", "count"], report.outcomes.most_common())
        if report.outcomes
        else ["  none"]
    )
    out += ["", "Negotiated"]
    negotiated = [(v, c, n) for (v, c), n in report.negotiated.most_common()]
    out += table(["version", "cipher", "count"], negotiated) if negotiated else ["  none"]
    out += ["", "Clients"]
    if report.clients:
        rows = []
        for c in report.clients:
            data = c.as_json()
            rows.append(
                [
                    c.client,
                    c.ja4,
                    c.sni or "-",
                    _versions(data["offered"]),
                    _versions(data["got"]),
                    c.count,
                    f"{c.first} / {c.last}",
                    "LEGACY" if c.legacy else "",
                ]
            )
        out += table(["client", "JA4", "SNI", "offered", "got", "count", "first / last", ""], rows)
    else:
        out.append("  none")
    out += ["", "Refused and failed attempts"]
    if report.failures:
        rows = [
            [
                r.get("ts", "?"),
                r.get("peer", "?"),
                r.get("outcome", "?"),
                r.get("alert_sent") or "-",
                r.get("error", ""),
            ]
            for r in report.failures[:max_failures]
        ]
        out += table(["when", "peer", "outcome", "alert sent", "why"], rows)
        more = len(report.failures) - max_failures + report.failures_omitted
        if more > 0:
            out.append(f"  ... and {more} more (--format json lists {len(report.failures)})")
    else:
        out.append("  none")
    if report.warned:
        out += ["", "Near misses (the handshake succeeded, but the client will not be happy)"]
        rows = [[r.get("ts", "?"), r.get("peer", "?"), r.get("warning", "")] for r in report.warned]
        out += table(["when", "peer", "why"], rows[:max_failures])
    kinds = failure_classes(report)
    if kinds:
        out += ["", "What to do"]
        for name, count in kinds.most_common():
            out.append(f"  {TITLES[name]} ({count}): {ADVICE[name]}")
    return "\n".join(out)


def junit(report: Report) -> str:
    """One test case per client; a legacy client, or one that never connected, fails."""
    from junitparser import Failure, TestCase, TestSuite  # noqa: PLC0415 - only here

    suite = TestSuite("mockgun handshakes")
    suite.hostname = "mockgun"
    for row in report.clients:
        data = row.as_json()
        case = TestCase(client_label(row), classname="mockgun.handshakes")
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(row.outcomes.items()))
        case.system_out = (
            f"offered {_versions(data['offered'])}; got {_versions(data['got'])}; "
            f"{row.count} attempt(s): {outcomes}; {row.first} / {row.last}"
        )
        if row.legacy:
            case.result = [Failure(f"legacy TLS: {ADVICE['legacy']}", "legacy")]
        elif not row.got:
            case.result = [Failure("no attempt of this client succeeded", "failed")]
        suite.add_testcase(case)
    # One <testsuite> as the root: the JUnit schema (junit-10.xsd) has no "skipped" on the
    # <testsuites> that junitparser would wrap it in.
    suite.update_statistics()  # type: ignore[no-untyped-call]
    body: bytes = suite.tostring()  # type: ignore[no-untyped-call]
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body.decode()


def _annotation(level: str, title: str, message: str) -> str:
    # Workflow commands: %, CR and LF must be escaped in the message, also , and : in properties.
    def esc(value: str, prop: bool = False) -> str:
        value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return value.replace(",", "%2C").replace(":", "%3A") if prop else value

    return f"::{level} title={esc(title, True)}::{esc(message)}"


def github(report: Report) -> str:
    """GitHub Actions annotations: an error per legacy client, a warning per other failure
    class, a notice with the totals."""
    lines = []
    for row in report.legacy_clients:
        data = row.as_json()
        lines.append(
            _annotation(
                "error",
                "mockgun: legacy TLS client",
                f"{client_label(row)} offered {_versions(data['offered'])} "
                f"({row.count} attempt(s)): {ADVICE['legacy']}",
            )
        )
    for name, count in failure_classes(report).most_common():
        if name != "legacy":
            lines.append(
                _annotation(
                    "warning", f"mockgun: {TITLES[name]}", f"{count} attempt(s): {ADVICE[name]}"
                )
            )
    totals = ", ".join(f"{k} {v}" for k, v in report.outcomes.most_common()) or "no attempts"
    lines.append(
        _annotation("notice", "mockgun handshakes", f"{report.attempts} attempt(s): {totals}")
    )
    return "\n".join(lines)


def legacy_summary(report: Report) -> str:
    """The lines ``--fail-on-legacy`` prints: which clients still try TLS 1.1 or older."""
    lines = ["legacy TLS: these clients offered at most TLS 1.1 or were refused:"]
    for c in report.legacy_clients:
        row = c.as_json()
        lines.append(
            f"  {client_label(c)}: offered {', '.join(row['offered']) or '?'}, "
            f"{c.count} attempt(s), last at {c.last}"
        )
    for record in report.legacy_without_hello:
        lines.append(f"  {record.get('peer')}: {record.get('error')}")
    lines.append(f"  what to do: {ADVICE['legacy']}")
    return "\n".join(lines)


def failed_summary(report: Report) -> str:
    """The lines ``--fail-on-failed`` prints: every class of failed attempt, with advice."""
    lines = ["failed handshakes:"]
    for name, count in failure_classes(report).most_common():
        lines.append(f"  {TITLES[name]} ({count}): {ADVICE[name]}")
    return "\n".join(lines)


def insecure_summary(report: Report) -> str:
    """The lines ``--fail-on-insecure`` prints: clients that do not verify certificates."""
    lines = ["insecure TLS: these clients accepted the canary's certificate and sent requests:"]
    seen: set[tuple[Any, ...]] = set()
    for record in report.insecure:
        key = (record.get("ja4"), record.get("sni"), record.get("user_agent"))
        if key not in seen:
            seen.add(key)
            lines.append(
                f"  JA4 {record.get('ja4') or '-'}, SNI {record.get('sni') or '-'}, "
                f"User-Agent {record.get('user_agent') or '-'}: "
                f"{record.get('method')} {record.get('path')} at {record.get('ts')}"
            )
    return "\n".join(lines)
