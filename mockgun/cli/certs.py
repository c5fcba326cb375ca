"""``mockgun certs``: create or refresh the development certificates without serving."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import split_names
from .options import config_option

if TYPE_CHECKING:  # cryptography (40 ms) loads only when certificates are made or read
    from ..certs import CertResult


def describe_certs(result: CertResult) -> str:
    paths = result.paths
    ca = paths.ca_cert.resolve()
    return "\n".join(
        [
            f"certificates {result.action} in {paths.directory.resolve()} ({result.reason})",
            f"  names covered   {', '.join(result.hostnames)}",
            f"  server uses     {paths.server_cert.resolve()} + {paths.server_key.resolve()}",
            f"                  {paths.rsa_cert.resolve()} + {paths.rsa_key.resolve()} (RSA)",
            f"  clients trust   {ca}",
            "",
            "Point clients at the CA:",
            *trust_lines(ca),
        ]
    )


def trust_lines(ca: Path) -> list[str]:
    return [
        f"  export SSL_CERT_FILE={ca}        # OpenSSL-based clients, curl, Python ssl",
        f"  export REQUESTS_CA_BUNDLE={ca}   # requests: official SDK, django-anymail",
        f"  export NODE_EXTRA_CA_CERTS={ca}  # Node: mailgun.js, nodemailer",
    ]


@click.command("certs")
@config_option("certs_dir")
@config_option("hostnames")
@click.option(
    "--force",
    is_flag=True,
    envvar="MOCKGUN_FORCE",
    show_envvar=True,
    help="Make a new CA and server certificate even if the current ones are fine.",
)
def certs_command(certs_dir: Path, hostnames: tuple[str, ...], force: bool) -> None:
    """Create (or reuse, or reissue) the CA and server certificate, and say where they are."""
    from ..certs import ensure_certs  # noqa: PLC0415 - see TYPE_CHECKING above

    result = ensure_certs(certs_dir, split_names(hostnames), force=force)
    click.echo(describe_certs(result))
