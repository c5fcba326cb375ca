"""``mockgun serve``: run the endpoint until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import stat
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import collector
from .._version import __version__
from ..config import Config
from ..log import to_stderr
from ..mailgun.template_files import TemplateFileError
from ..tls.policy import version_label
from .certs import trust_lines
from .options import config_options

if TYPE_CHECKING:  # the server (aiohttp and the whole app) is imported only to serve
    from ..server import Server


@click.command("serve")
@config_options
def serve_command(**params: Any) -> None:
    """Serve Mailgun's API over TLS 1.2+ (certificates are made on first start)."""
    config = Config.from_settings(params)
    try:
        run_with_loop(_run(config), config.event_loop)
    except TemplateFileError as exc:
        raise click.ClickException(f"a template in --templates cannot be used: {exc}") from exc
    except OSError as exc:
        raise click.ClickException(start_error(config, exc)) from exc


def start_error(config: Config, exc: OSError) -> str:
    """What failed at start, named: the file or folder (with its owner and mode, and the
    fix), or else the address."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return f"cannot serve on {config.host}:{config.port}: {reason}"
    path = Path(os.fsdecode(exc.filename))
    folder = path if path.is_dir() else path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        info = folder.stat()
        owner = f"{folder} is owned by uid {info.st_uid} with mode {stat.S_IMODE(info.st_mode):o}"
    except OSError:
        owner = f"{folder} cannot be read"
    uid = os.getuid()
    return (
        f"cannot write {path}: {reason} ({owner}; mockgun runs as uid {uid}). "
        f"Make it writable for uid {uid} (e.g. chown -R {uid} {folder}), mount it read-write, "
        "or choose another folder (--certs-dir, --handshake-log)"
    )


def run_with_loop(main: Coroutine[Any, Any, None], choice: str) -> None:
    """Run ``main`` on uvloop when asked for (or, with ``auto``, when installed)."""
    if choice != "asyncio":
        try:
            import uvloop  # noqa: PLC0415 - optional, and only when serving
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


#: glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _steady_malloc() -> None:
    """Keep glibc's heap from growing without bound under connection churn.

    Under a soak of mixed traffic (bench/soak.py) the server's RSS grew about 1 MB/s for as
    long as it ran, while its Python objects stayed flat: glibc raises its mmap threshold
    as large buffers (TLS, uvloop's) come and go, and the heap fragments. Fixed thresholds
    (what MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ set) keep it flat. Other C
    libraries: nothing to do.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 64 * 1024)
    mallopt(_M_TRIM_THRESHOLD, 128 * 1024)


async def _run(config: Config) -> None:
    from ..server import serve  # noqa: PLC0415 - see TYPE_CHECKING above

    to_stderr()
    _steady_malloc()
    # A server that keeps messages and events holds many small objects: keep them out of the
    # collector's way rather than collecting less often (see mockgun/collector.py).
    collector.install()
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
    canary = []
    if server.canary_port is not None:
        canary.append(
            f"  canary        https://{server.host_for_urls}:{server.canary_port} "
            "(a certificate no client should accept)"
        )
    if server.smtp_port is not None:
        where = f"{server.host_for_urls}:{server.smtp_port}"
        canary.append(f"  smtp          {where} (STARTTLS required, then AUTH)")
    if server.smtps_port is not None:
        canary.append(f"  smtps         {server.host_for_urls}:{server.smtps_port} (implicit TLS)")
    hooks = server.webhooks
    urls = sum(len(u) for u in hooks.everywhere.values())
    configured = f"; {urls} URL(s) configured" if urls else ""
    # A key the user chose is a secret of theirs: never printed. A random one must be, or
    # nobody could check the signatures.
    signing = "the configured key" if config.webhook_signing_key else hooks.signing_key
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
            f"  webhooks      signed with {signing}{configured}",
            "",
            f"Base URL: {server.base_url} (official SDKs, mailgun.js, mailgun-go) or "
            f"{server.api_url} (django-anymail MAILGUN_API_URL)",
            "Trust the CA in your app's environment:",
            *trust_lines(server.ca_file),
            "",
        ]
    )
