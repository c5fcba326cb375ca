"""Request parameters: the few shapes mockgun's endpoints take, each refused the same way.

Every helper raises :class:`MailgunError` (400) naming the parameter; ``label`` is how the
message names it (Mailgun's own endpoints quote it: ``'limit' must be ...``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from ..mailgun.errors import MailgunError
from .keys import DOMAINS

_TRUE = ("1", "true", "yes", "include")
_FALSE = ("0", "false", "no", "exclude")


def int_param(
    request: web.Request,
    name: str,
    default: int,
    *,
    low: int = 0,
    high: int | None = None,
    label: str | None = None,
) -> int:
    """A whole number from ``low`` (to ``high``); ``default`` when absent."""
    value = optional_int(request, name, low=low, high=high, label=label)
    return default if value is None else value


def optional_int(
    request: web.Request,
    name: str,
    *,
    low: int = 0,
    high: int | None = None,
    label: str | None = None,
) -> int | None:
    """A whole number from ``low`` (to ``high``), or None when absent."""
    text = request.query.get(name)
    if text is None:
        return None
    label = label or name
    try:
        value = int(text)
    except ValueError:
        raise MailgunError(400, f"{label} must be a whole number") from None
    if high is not None and not low <= value <= high:
        raise MailgunError(400, f"{label} must be between {low} and {high}")
    if value < low:
        raise MailgunError(400, f"{label} must not be negative" if low == 0 else f"{label} < {low}")
    return value


def flag_param(request: web.Request, name: str, default: bool) -> bool:
    """``1``/``true``/``yes``/``include`` or ``0``/``false``/``no``/``exclude``."""
    text = request.query.get(name)
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise MailgunError(400, f"{name} must be 1 or 0")


def choice_param(request: web.Request, name: str, choices: Sequence[str]) -> str:
    """One of ``choices`` (the first when absent)."""
    value = request.query.get(name, choices[0])
    if value not in choices:
        raise MailgunError(400, f"{name} must be {' or '.join(choices)}")
    return value


def float_param(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    """A number of seconds (or the like) from ``low`` to ``high``."""
    try:
        value = float(request.query.get(name, default))
        if not low <= value <= high:
            raise ValueError
    except ValueError:
        raise MailgunError(
            400, f"{name} must be a number of seconds from {low:g} to {high:g}"
        ) from None
    return value


def sending_domain(request: web.Request) -> str:
    """The ``{domain}`` of a ``/v3/{domain}/...`` path: Mailgun's 404 for one the account
    does not have (not in ``--domain``, or deleted through the API)."""
    domain = request.match_info["domain"]
    if not request.app[DOMAINS].allows(domain):
        raise MailgunError(404, f"Domain not found: {domain}")
    return domain
