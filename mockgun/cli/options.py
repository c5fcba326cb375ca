"""Command-line options made from :mod:`mockgun.config`'s declarations, and their types.

A ``mockgun serve`` option is :func:`config_option` of a :class:`~mockgun.config.Config`
field: its flag, ``MOCKGUN_*`` twin, type, bounds, default and help all come from the
field's :class:`~mockgun.config.Setting`, so they are written once.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin
from urllib.parse import urlsplit

import click

from ..config import Config, Setting, settings
from ..faults import RuleError, parse_rule
from ..mailgun.webhooks import parse_webhook_option

F = TypeVar("F", bound=Callable[..., Any])
ENV_PREFIX = "MOCKGUN_"

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


def check_relay(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme != "smtp" or not parts.hostname or port == -1:
            raise click.BadParameter(
                f"{value!r}: expected smtp://HOST:PORT, e.g. smtp://mailpit:1025"
            )
    return value or None


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


def env_name(name: str, setting: Setting) -> str:
    return ENV_PREFIX + (setting.env or name.upper())


def _declaration(name: str, setting: Setting, hint: Any) -> list[str]:
    flag = setting.flag or "--" + name.replace("_", "-")
    if hint is bool:
        flag = f"{flag}/--no-{flag[2:]}"
    return [flag, name]


def _click_kwargs(name: str, default: Any, setting: Setting, hint: Any) -> dict[str, Any]:
    """Type, bounds, default and callbacks of one option, from the field's type and setting."""
    args = [a for a in get_args(hint) if a is not type(None)]
    optional = get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1
    kind = args[0] if optional else hint
    kw: dict[str, Any] = {
        "default": default,
        "show_default": default not in (None, (), frozenset()),
    }
    origin = get_origin(kind)
    if origin in (tuple, frozenset):
        kw.update(multiple=True, default=())
    elif origin is typing.Literal:
        kw["type"] = click.Choice(get_args(kind))
    elif kind is int:
        kw["type"] = click.IntRange(setting.low, setting.high)  # type: ignore[arg-type]
    elif kind is float:
        kw["type"] = click.FloatRange(setting.low, setting.high)
    elif kind is Path:
        kw["type"] = (
            click.Path(dir_okay=False, exists=True, path_type=Path)
            if setting.kind == "file"
            else click.Path(file_okay=False, path_type=Path)
        )
    if setting.kind == "size":
        kw.update(type=str, callback=parse_size, default=setting.shown_default)
    elif setting.kind == "webhook":
        kw["callback"] = check_webhooks
    elif setting.kind == "relay":
        kw["callback"] = check_relay
    elif setting.kind == "fault":
        kw.update(type=SemicolonSeparated(), callback=check_faults)
    return kw


def config_option(name: str) -> Callable[[F], F]:
    """The click option of :class:`Config` field ``name``, with its ``MOCKGUN_*`` twin."""
    hints = typing.get_type_hints(Config)
    for field_name, default, setting in settings():
        if field_name == name:
            hint = hints[name]
            kw = _click_kwargs(name, default, setting, hint)
            return click.option(
                *_declaration(name, setting, hint),
                envvar=env_name(name, setting),
                show_envvar=True,
                help=setting.help,
                **kw,
            )
    raise KeyError(name)


def config_options(func: F) -> F:
    """Every :class:`Config` setting as an option, in declaration order."""
    for name, _default, _setting in reversed(settings()):
        func = config_option(name)(func)
    return func


def markdown_table(command: click.Command) -> str:
    """The option table of ``command`` as docs/cli.md shows it (a test holds the two equal):
    ``python -c 'from mockgun.cli.options import *; from mockgun.cli.serve import *;
    print(markdown_table(serve_command))'`` prints it anew."""
    rows = ["| option | variable | default | meaning |", "| --- | --- | --- | --- |"]
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        flags = "/".join(param.opts + param.secondary_opts)
        default = param.show_default if isinstance(param.show_default, str) else param.default
        shown = "" if default in (None, (), "") or param.show_default is False else f"`{default}`"
        if param.is_flag and isinstance(param.default, bool) and param.secondary_opts:
            shown = f"`{param.opts[0] if param.default else param.secondary_opts[0]}`"
        rows.append(f"| `{flags}` | `{param.envvar}` | {shown} | {param.help} |")
    return "\n".join(rows)
