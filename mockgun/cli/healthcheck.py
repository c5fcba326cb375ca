"""``mockgun healthcheck``: is mockgun up and serving TLS that verifies? For containers.

Its handshakes offer the ALPN protocol ``mockgun-healthcheck`` (before
``http/1.1``, which is what gets negotiated), so the handshake log marks them
and the report leaves them out.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from ..config import DEFAULT
from ..tls.policy import HEALTHCHECK_ALPN


def _default_url() -> str:
    port = os.environ.get("MOCKGUN_PORT", str(DEFAULT.port))
    return f"https://localhost:{port}/mockgun/health"


def default_ca() -> Path:
    return Path(os.environ.get("MOCKGUN_CERTS_DIR", str(DEFAULT.certs_dir))) / "ca.pem"


def own_connection(url: str, ca: Path, timeout: float) -> http.client.HTTPSConnection:
    """A verified TLS 1.2+ connection to mockgun, marked as its own (the report leaves these
    out). Raises ValueError, saying why, for a URL or CA file that cannot work."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{url} is not an https:// URL")
    try:
        ctx = ssl.create_default_context(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load the CA file {ca}: {exc}") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols([HEALTHCHECK_ALPN, "http/1.1"])
    return http.client.HTTPSConnection(
        parts.hostname, parts.port or 443, timeout=timeout, context=ctx
    )


def check(url: str, ca: Path, timeout: float) -> tuple[bool, str]:
    """One health check; returns (healthy, one line saying why)."""
    parts = urlsplit(url)
    try:
        conn = own_connection(url, ca, timeout)
    except ValueError as exc:
        return False, str(exc)
    try:
        conn.request("GET", parts.path or "/mockgun/health")
        resp = conn.getresponse()
        body = resp.read()
        sock = conn.sock
        version = sock.version() if isinstance(sock, ssl.SSLSocket) else "?"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{url}: {exc}"
    finally:
        conn.close()
    try:
        answer = json.loads(body)
        status, reason = answer.get("status"), answer.get("reason")
    except (ValueError, AttributeError):
        status = reason = None
    if resp.status != 200:
        return False, f"{url} answered {resp.status}" + (f": {reason}" if reason else "")
    if status != "ok":
        return False, f"{url} answered 200 but not with status ok"
    return True, f"{url} is healthy ({version}, certificate verified against {ca})"


@click.command("healthcheck")
@click.option(
    "--url",
    default=_default_url,
    show_default="https://localhost:$MOCKGUN_PORT/mockgun/health",
    envvar="MOCKGUN_HEALTHCHECK_URL",
    show_envvar=True,
    help="The health endpoint to call.",
)
@click.option(
    "--ca",
    type=click.Path(dir_okay=False, path_type=Path),
    default=default_ca,
    show_default="$MOCKGUN_CERTS_DIR/ca.pem",
    envvar="MOCKGUN_HEALTHCHECK_CA",
    show_envvar=True,
    help="CA file to verify the server certificate with.",
)
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds.")
def healthcheck_command(url: str, ca: Path, timeout: float) -> None:
    """Exit 0 if mockgun answers /mockgun/health over verified TLS, else 1; says why in one line."""
    healthy, line = check(url, ca, timeout)
    click.echo(("healthy: " if healthy else "unhealthy: ") + line)
    sys.exit(0 if healthy else 1)
