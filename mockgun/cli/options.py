"""Option types and helpers shared by the subcommands."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config import DEFAULT_CERTS_DIR

F = TypeVar("F", bound=Callable[..., Any])

_SIZE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$")
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def parse_size(_ctx: click.Context | None, _param: click.Parameter | None, value: Any) -> int:
    """``26214400``, ``25MB``, ``25MiB``, ``512k``: suffixes count in powers of 1024."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise click.BadParameter(f"{value!r} is not a size such as 26214400, 25MB or 512KiB")
    number, unit = match.groups()
    size = int(float(number) * _UNITS[(unit or "")[:1].lower()])
    if size <= 0:
        raise click.BadParameter("the size must be positive")
    return size


def env_option(*decls: str, env: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option with its ``MOCKGUN_<env>`` twin, shown in ``--help``."""
    return click.option(*decls, envvar=f"MOCKGUN_{env}", show_envvar=True, **kwargs)


def split_names(values: Iterable[str]) -> tuple[str, ...]:
    """Flatten repeated options whose values may also be comma- or space-separated."""
    return tuple(n for v in values for n in re.split(r"[,\s]+", v) if n)


def certs_dir_option(func: F) -> F:
    return click.option(
        "--certs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_CERTS_DIR,
        show_default=True,
        envvar="MOCKGUN_CERTS_DIR",
        show_envvar=True,
        help="Where ca.pem, server.pem and server.key live (created when missing).",
    )(func)


def hostname_option(func: F) -> F:
    return click.option(
        "--hostname",
        "hostnames",
        multiple=True,
        envvar="MOCKGUN_HOSTNAME",
        show_envvar=True,
        help="Extra name the server certificate must cover, besides localhost, 127.0.0.1 "
        "and ::1. Repeatable; the variable takes a space- or comma-separated list.",
    )(func)
