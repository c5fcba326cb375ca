"""``mockgun serve``: run the endpoint until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..config import (
    DEFAULT_HANDSHAKE_LOG,
    DEFAULT_HOST,
    DEFAULT_PORT,
    TLS_MAX_CHOICES,
    Config,
)
from ..faults import RuleError, parse_rule
from ..server import Server, serve
from ..tls.policy import version_label
from ..webhooks import parse_webhook_option
from .certs import trust_lines
from .options import certs_dir_option, env_option, hostname_option, parse_size, split_names


class SemicolonSeparated(click.types.StringParamType):
    """Rules contain spaces, so their environment variable separates them with ';'."""

    envvar_list_splitter = ";"


def check_webhooks(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    for text in value:
        try:
            parse_webhook_option(text)
        except ValueError as exc:
            raise click.BadParameter(f"{text!r}: {exc}") from None
    return value


def check_faults(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    rules = tuple(v.strip() for v in value if v.strip())
    for text in rules:
        try:
            parse_rule(text)
        except RuleError as exc:
            raise click.BadParameter(f"{text!r}: {exc}") from None
    return rules


@click.command("serve")
@env_option(
    "--host",
    env="HOST",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on. Use 0.0.0.0 only where other machines must reach it.",
)
@env_option(
    "--port",
    env="PORT",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port; 0 picks a free one (printed at start).",
)
@certs_dir_option
@hostname_option
@env_option(
    "--tls-max",
    env="TLS_MAX",
    type=click.Choice(TLS_MAX_CHOICES),
    default="1.3",
    show_default=True,
    help="Highest TLS version offered; 1.2 makes a TLS-1.2-only endpoint. "
    "The floor is always TLS 1.2.",
)
@env_option(
    "--handshake-log",
    env="HANDSHAKE_LOG",
    default=DEFAULT_HANDSHAKE_LOG,
    show_default=True,
    help="JSON-lines file that gets one line per TLS handshake; - for standard output.",
)
@env_option(
    "--handshake-timeout",
    env="HANDSHAKE_TIMEOUT",
    type=click.FloatRange(min=0.01),
    default=10.0,
    show_default=True,
    help="Seconds from accept to a finished handshake.",
)
@env_option(
    "--request-timeout",
    env="REQUEST_TIMEOUT",
    type=click.FloatRange(min=0.01),
    default=30.0,
    show_default=True,
    help="Seconds a client gets for the headers of its first request after the handshake, "
    "and for any request body (slower bodies get 408).",
)
@env_option(
    "--handshake-log-detail",
    env="HANDSHAKE_LOG_DETAIL",
    type=click.Choice(["full", "brief"]),
    default="full",
    show_default=True,
    help="full: every line carries the client's offer (ciphers, versions, ALPN, JA3); "
    "brief: successful handshakes keep only client_max_version, client_sni and ja4.",
)
@env_option(
    "--max-pending-handshakes",
    env="MAX_PENDING_HANDSHAKES",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    help="Connections allowed mid-handshake at once; more are closed and logged as overload.",
)
@env_option(
    "--api-key",
    env="API_KEY",
    default=None,
    help="Accept only api:<this key>. Unset: any key is accepted, but one must be sent.",
)
@env_option(
    "--domain",
    "domains",
    env="DOMAIN",
    multiple=True,
    help="Sending domain to accept (repeatable). Unset: every domain is accepted; set: "
    "others get Mailgun's 404 'Domain not found'.",
)
@env_option(
    "--max-message-size",
    env="MAX_MESSAGE_SIZE",
    type=str,
    callback=parse_size,
    default="25MiB",
    show_default=True,
    help="Largest request body accepted (bytes, or with a KiB/MiB suffix); larger ones get 413.",
)
@env_option(
    "--deliver/--no-deliver",
    env="DELIVER",
    default=True,
    show_default=True,
    help="Whether accepted messages get 'delivered' events (test-mode ones never do).",
)
@env_option(
    "--max-messages",
    env="MAX_MESSAGES",
    type=click.IntRange(min=1),
    default=None,
    help="Keep at most this many messages; older ones are evicted and counted. Default: all.",
)
@env_option(
    "--canary-port",
    env="CANARY_PORT",
    type=click.IntRange(0, 65535),
    default=None,
    help="Also listen here with a certificate no client should accept (another CA, host "
    "name canary.invalid): any request that arrives proves the client skips verification.",
)
@env_option(
    "--webhook",
    "webhooks",
    env="WEBHOOK",
    multiple=True,
    callback=check_webhooks,
    help="EVENT=URL: POST each EVENT (delivered, permanent_fail, opened, ...) to URL, signed "
    "as Mailgun does, for every domain (repeatable; space-separated in the variable).",
)
@env_option(
    "--webhook-signing-key",
    env="WEBHOOK_SIGNING_KEY",
    default=None,
    help="The key webhooks are signed with (HMAC-SHA256). Default: a random one, printed.",
)
@env_option(
    "--webhook-ca",
    env="WEBHOOK_CA",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A CA file to verify https webhook URLs with, besides the system's trust store.",
)
@env_option(
    "--fault",
    "faults",
    env="FAULT",
    type=SemicolonSeparated(),
    multiple=True,
    callback=check_faults,
    help="A fault rule, e.g. '429 to=*@example.com times=2' (repeatable; the variable takes "
    "rules separated by ';'). See the README's 'Faults' section.",
)
@env_option(
    "--max-events",
    env="MAX_EVENTS",
    type=click.IntRange(min=1),
    default=None,
    help="Keep at most this many events; older ones are evicted and counted in "
    "/mockgun/health. Default: all (events outlive evicted messages, as at Mailgun).",
)
@env_option(
    "--event-loop",
    env="EVENT_LOOP",
    type=click.Choice(["auto", "asyncio", "uvloop"]),
    default="auto",
    show_default=True,
    help="auto: uvloop when installed (pip install 'mockgun[uvloop]'), else asyncio.",
)
@env_option(
    "--shutdown-timeout",
    env="SHUTDOWN_TIMEOUT",
    type=click.FloatRange(min=0),
    default=1.5,
    show_default=True,
    help="Seconds in-flight requests get to finish after SIGTERM/SIGINT.",
)
def serve_command(
    host: str,
    port: int,
    certs_dir: Path,
    hostnames: tuple[str, ...],
    tls_max: str,
    handshake_log: str,
    handshake_timeout: float,
    request_timeout: float,
    handshake_log_detail: str,
    max_pending_handshakes: int,
    api_key: str | None,
    domains: tuple[str, ...],
    max_message_size: int,
    deliver: bool,
    max_messages: int | None,
    max_events: int | None,
    canary_port: int | None,
    webhooks: tuple[str, ...],
    webhook_signing_key: str | None,
    webhook_ca: Path | None,
    faults: tuple[str, ...],
    event_loop: str,
    shutdown_timeout: float,
) -> None:
    """Serve Mailgun's /v3 messages API over TLS 1.2+ (certificates are made on first start)."""
    config = Config(
        host=host,
        port=port,
        certs_dir=certs_dir,
        hostnames=split_names(hostnames),
        tls_max=tls_max,
        handshake_log=handshake_log,
        handshake_timeout=handshake_timeout,
        request_timeout=request_timeout,
        handshake_log_detail=handshake_log_detail,
        max_pending_handshakes=max_pending_handshakes,
        api_key=api_key or None,
        domains=frozenset(d.lower() for d in split_names(domains)),
        max_message_size=max_message_size,
        deliver=deliver,
        max_messages=max_messages,
        max_events=max_events,
        canary_port=canary_port,
        webhooks=webhooks,
        webhook_signing_key=webhook_signing_key,
        webhook_ca=webhook_ca,
        faults=faults,
        shutdown_timeout=shutdown_timeout,
    )
    try:
        run_with_loop(_run(config), event_loop)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc


def run_with_loop(main: Coroutine[Any, Any, None], choice: str) -> None:
    """Run ``main`` on uvloop when asked for (or, with ``auto``, when installed)."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                main.close()
                raise click.ClickException(
                    "uvloop is not installed: pip install 'mockgun[uvloop]'"
                ) from None
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


async def _run(config: Config) -> None:
    # A server that keeps every message and event holds many small objects: collect young
    # garbage less often, and never rescan what start-up created (measured: 15-20 % more
    # requests per second once thousands of messages are stored; see bench/README.md).
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(config) as server:
        click.echo(banner(server))
        sys.stdout.flush()
        await stop.wait()
        click.echo("mockgun: stopping (finishing in-flight requests)", err=True)
    click.echo(
        f"mockgun: stopped; {server.handshake_log.written} handshake lines written", err=True
    )


def banner(server: Server) -> str:
    config = server.config
    certs = server.certs
    key = "only the configured key (user api)" if config.api_key else "any key (user api)"
    domains = ", ".join(sorted(config.domains)) if config.domains else "any"
    tls = version_label(config.tls_max)
    canary = (
        [f"  canary        https://{server.host_for_urls}:{server.canary_port} "
         "(a certificate no client should accept)"]
        if server.canary_port is not None else []
    )  # fmt: skip
    hooks = server.webhooks
    webhook_lines = (
        [f"  webhooks      signed with {hooks.signing_key}"
         + (f"; {sum(len(u) for u in hooks.everywhere.values())} URL(s) configured"
            if hooks.everywhere else "")]
        if hooks is not None else []
    )  # fmt: skip
    return "\n".join(
        [
            f"mockgun {__version__} listening on {server.base_url} ({tls})",
            f"  certificates  {certs.action} in {certs.paths.directory.resolve()} "
            f"({', '.join(certs.hostnames)})",
            f"  trust this CA {server.ca_file}",
            f"  handshake log {server.handshake_log.name}",
            f"  API key       {key}; domains: {domains}",
            f"  web page      {server.base_url}/mockgun/"
            + (" (user api, the API key as password)" if server.config.api_key else ""),
            *canary,
            *webhook_lines,
            "",
            f"Base URL: {server.base_url} (official SDKs, mailgun.js, mailgun-go) or "
            f"{server.api_url} (django-anymail MAILGUN_API_URL)",
            "Trust the CA in your app's environment:",
            *trust_lines(server.ca_file),
            "",
        ]
    )
