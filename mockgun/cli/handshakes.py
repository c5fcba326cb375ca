"""``mockgun handshakes [LOG]``: the report after a test run, and a CI gate that cannot pass by
accident: a missing, empty, unreadable, corrupt or cut-off log fails it, whatever else is
asked."""

from __future__ import annotations

import http.client
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import click

from ..config import DEFAULT
from ..tls.log_scan import LogProblem, parse_since, scan_log
from ..tls.report import build_report
from ..tls.report_formats import (
    FORMATS,
    failed_summary,
    insecure_summary,
    legacy_summary,
    render,
)
from .healthcheck import default_ca, own_connection


@click.command("handshakes")
@click.argument(
    "log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT.handshake_log,
    envvar="MOCKGUN_HANDSHAKE_LOG",
    required=False,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    envvar="MOCKGUN_REPORT_FORMAT",
    show_envvar=True,
    help="text (aligned, with advice), json, junit (one test case per client) or github "
    "(workflow annotations).",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--run",
    "run",
    default="latest",
    show_default=True,
    envvar="MOCKGUN_REPORT_RUN",
    show_envvar=True,
    help="Which server start to report on: its run id (every log line has one), or latest.",
)
@click.option("--all-runs", is_flag=True, help="Report on every run in the log together.")
@click.option(
    "--url",
    envvar="MOCKGUN_REPORT_URL",
    show_envvar=True,
    help="Read the log from a running mockgun instead (https://HOST:PORT), for CI jobs that "
    "cannot reach its files; reports on that server's run unless --run/--all-runs.",
)
@click.option(
    "--ca",
    type=click.Path(dir_okay=False, path_type=Path),
    default=default_ca,
    show_default="$MOCKGUN_CERTS_DIR/ca.pem",
    help="With --url: the CA file to verify the server with.",
)
@click.option(
    "--since",
    envvar="MOCKGUN_REPORT_SINCE",
    show_envvar=True,
    help="Only attempts since then: a duration (30s, 15m, 2h, 1d) or a time (2026-12-03T10:00Z).",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    envvar="MOCKGUN_ALLOW_EMPTY",
    show_envvar=True,
    help="A missing or empty log is a report of no attempts, not an error.",
)
@click.option(
    "--fail-on-legacy",
    is_flag=True,
    envvar="MOCKGUN_FAIL_ON_LEGACY",
    show_envvar=True,
    help="Exit 1, naming the clients, when any attempt offered at most TLS 1.1 or was refused.",
)
@click.option(
    "--fail-on-failed",
    is_flag=True,
    envvar="MOCKGUN_FAIL_ON_FAILED",
    show_envvar=True,
    help="Exit 1 when any attempt did not end in a TLS session (refused, failed, plain HTTP, "
    "timed out or closed), with what to do for each kind.",
)
@click.option(
    "--fail-on-insecure",
    is_flag=True,
    envvar="MOCKGUN_FAIL_ON_INSECURE",
    show_envvar=True,
    help="Exit 1, naming the clients, when any request arrived on the canary port "
    "(the client skipped certificate verification).",
)
def handshakes_command(
    log: Path,
    fmt: str,
    as_json: bool,
    run: str,
    all_runs: bool,
    url: str | None,
    ca: Path,
    since: str | None,
    allow_empty: bool,
    fail_on_legacy: bool,
    fail_on_failed: bool,
    fail_on_insecure: bool,
) -> None:
    """Summarise a handshake log (default ./mockgun-handshakes.jsonl, or MOCKGUN_HANDSHAKE_LOG).

    Totals by outcome, negotiated versions and ciphers, one row per distinct client
    (JA4 + SNI), every refused or failed attempt with the alert sent and its error, and what
    to do about each kind. Reads the latest run unless told otherwise. Health checks made by
    `mockgun healthcheck` are left out. Exits 1 when the log is missing, empty, unreadable,
    has lines that are not JSON, or ends in a cut-off line, and when a --fail-on-* finds
    something.
    """
    try:
        moment = parse_since(since) if since else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    evicted = 0
    if url is not None:
        log, server_run, evicted = _download(url, ca)
        run = server_run if run == "latest" else run
    try:
        scan, records = scan_log(log, run=None if all_runs else run, since=moment)
    except LogProblem as exc:
        if not allow_empty or "cannot read" in str(exc):
            raise click.ClickException(str(exc)) from None
        click.echo(f"no attempts: {exc}")
        return
    report = build_report(scan, records)
    click.echo(render(report, "json" if as_json else fmt))
    failures = [f"the log cannot be trusted: {problem}" for problem in scan.problems()]
    if evicted:
        failures.append(
            f"the log cannot be trusted: {url} kept only its newest lines in memory ({evicted} "
            "are missing); give it a --handshake-log file, or read that file instead"
        )
    if run != "latest" and not all_runs and report.attempts == 0 and not scan.problems():
        failures.append(
            f"no attempt of run {run} is in {log} (runs found: "
            f"{', '.join(scan.other_runs) or 'none'})"
        )
    if fail_on_legacy and report.legacy_found:
        failures.append(legacy_summary(report))
    if fail_on_failed and report.failed_found:
        failures.append(failed_summary(report))
    if fail_on_insecure and report.insecure:
        failures.append(insecure_summary(report))
    for failure in failures:
        click.echo(failure, err=True)
    if url is not None:
        log.unlink(missing_ok=True)
    if failures:
        sys.exit(1)


def _download(url: str, ca: Path) -> tuple[Path, str, int]:
    """The running server's log into a temporary file: (file, the server's run, lines it
    no longer holds). Streamed, so that a large log never sits in memory."""
    base = url.rstrip("/")
    fd, name = tempfile.mkstemp(prefix="mockgun-handshakes-", suffix=".jsonl")
    conn: http.client.HTTPSConnection | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            conn = own_connection(f"{base}/mockgun/handshakes/log", ca, timeout=30)
            conn.request("GET", f"{urlsplit(base).path}/mockgun/handshakes/log")
            resp = conn.getresponse()
            if resp.status != 200:
                raise ValueError(f"it answered {resp.status}")
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        run = resp.getheader("X-Mockgun-Run") or "latest"
        evicted = int(resp.getheader("X-Mockgun-Evicted") or 0)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        Path(name).unlink(missing_ok=True)
        raise click.ClickException(f"cannot read the handshake log from {url}: {exc}") from None
    finally:
        if conn is not None:
            conn.close()
    return Path(name), run, evicted
