"""The ``mockgun`` command. Each subcommand lives in its own module."""

from __future__ import annotations

from collections.abc import Sequence

import click

from .._version import __version__
from .certs import certs_command
from .handshakes import handshakes_command
from .healthcheck import healthcheck_command
from .serve import serve_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mockgun")
def cli() -> None:
    """A local Mailgun /v3 endpoint that accepts only TLS 1.2+ and logs every handshake.

    Every option has a MOCKGUN_* environment twin (shown in each command's --help).
    """


cli.add_command(serve_command)
cli.add_command(certs_command)
cli.add_command(handshakes_command)
cli.add_command(healthcheck_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status; tests call this directly."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="mockgun")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
