"""``mockgun handshakes [LOG]``: the report after a test run, and a CI gate on legacy TLS."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..config import DEFAULT
from ..tls.report import build_report, format_report, insecure_summary, legacy_summary, read_log


@click.command("handshakes")
@click.argument(
    "log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT.handshake_log,
    envvar="MOCKGUN_HANDSHAKE_LOG",
    required=False,
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--fail-on-legacy",
    is_flag=True,
    envvar="MOCKGUN_FAIL_ON_LEGACY",
    show_envvar=True,
    help="Exit 1, naming the clients, when any attempt offered at most TLS 1.1 or was refused.",
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
    log: Path, as_json: bool, fail_on_legacy: bool, fail_on_insecure: bool
) -> None:
    """Summarise a handshake log (default ./mockgun-handshakes.jsonl, or MOCKGUN_HANDSHAKE_LOG).

    Totals by outcome, negotiated versions and ciphers, one row per distinct client
    (JA4 + SNI), and every refused or failed attempt with its error. Health checks made
    by `mockgun healthcheck` are left out.
    """
    try:
        contents = read_log(log)
    except OSError as exc:
        raise click.ClickException(f"cannot read {log}: {exc.strerror or exc}") from exc
    report = build_report(contents, str(log))
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        click.echo(format_report(report))
    failed = False
    if fail_on_legacy and report.legacy_found:
        click.echo(legacy_summary(report), err=True)
        failed = True
    if fail_on_insecure and report.insecure:
        click.echo(insecure_summary(report), err=True)
        failed = True
    if failed:
        sys.exit(1)
