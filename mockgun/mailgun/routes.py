"""Mailgun's routes: a filter expression, a priority and actions, evaluated for inbound mail.

A route's expression is a Python-style call, or several joined with ``and``:
``match_recipient(regex)``, ``match_header(name, regex)``, ``catch_all()``. Mailgun parses
expressions with Python's own parser (its syntax errors read ``invalid syntax (<unknown>,
line 1)``), so this module does too, with :func:`ast.parse`, never ``eval``: a name or
construct outside that small grammar is refused. Patterns are kept exactly as written (the
parser would turn ``\\b`` into a backspace) and matched with Python's ``re`` from the
start of the value, case-insensitively (UNVERIFIED; see docs/fidelity.md).

Actions are ``forward(destination[, ...])`` (a URL or an address; several comma-separated in
one string), ``store([notify=URL])`` and ``stop()``. Captures of ``match_recipient``
(``\\1``, ``\\g<name>``) fill in forward destinations. Routes run lowest priority number
first, ties in creation order; every matching route runs unless one with ``stop()`` did;
``catch_all()`` matches only when no route before it did.

Matching user-written patterns can take exponential time: callers run :func:`evaluate` in a
worker process with a time limit (``mockgun.api.receiving``).
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import re
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clock import mailgun_date
from . import ids
from .errors import MailgunError, not_found

#: Mailgun: "The length of the Filter or Action fields cannot exceed 4k".
MAX_FIELD = 4096
#: What a page of ``GET /v3/routes`` holds at most (Mailgun's default and limit).
MAX_LIMIT = 1000
FILTERS = ("match_recipient", "match_header", "catch_all")


@dataclass(frozen=True)
class Filter:
    kind: str  # one of FILTERS
    pattern: re.Pattern[str] | None = None
    header: str | None = None


@dataclass(frozen=True)
class Action:
    kind: str  # "forward", "store" or "stop"
    #: forward(): each destination, a URL or an address, captures not yet filled in.
    destinations: tuple[str, ...] = ()
    #: store(): where the notification goes, if anywhere.
    notify: str | None = None


@dataclass
class Route:
    id: str
    priority: int
    description: str
    expression: str
    actions: tuple[str, ...]
    created_at: float
    filters: tuple[Filter, ...] = field(repr=False, default=())
    parsed_actions: tuple[Action, ...] = field(repr=False, default=())
    seq: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "priority": self.priority,
            "description": self.description,
            "expression": self.expression,
            "actions": list(self.actions),
            "created_at": mailgun_date(
                dt.datetime.fromtimestamp(self.created_at, dt.timezone.utc), "GMT"
            ),
        }

    @property
    def is_catch_all(self) -> bool:
        return any(f.kind == "catch_all" for f in self.filters)


def _syntax(exc: SyntaxError) -> MailgunError:
    return MailgunError(400, f"{exc.msg} (<unknown>, line {exc.lineno or 1})")


def _parse_call(text: str, what: str) -> list[ast.Call]:
    """The calls of ``text`` (joined by ``and``), or Mailgun's 400."""
    if len(text) > MAX_FIELD:
        raise MailgunError(400, f"The {what} cannot exceed 4k; add more routes instead")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes such as "\+" in a pattern
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _syntax(exc) from None
    except (ValueError, RecursionError, MemoryError):  # NUL bytes; absurd nesting
        raise MailgunError(400, f"invalid syntax in the {what}") from None
    body = tree.body
    parts = body.values if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And) else [body]
    calls = []
    for part in parts:
        if not (isinstance(part, ast.Call) and isinstance(part.func, ast.Name)):
            raise MailgunError(
                400, f"Invalid {what}: {ast.get_source_segment(text.strip(), part) or text!r}"
            )
        calls.append(part)
    return calls


def _literal(source: str, node: ast.expr, where: str) -> str:
    """A string argument exactly as written between its quotes (escapes kept, but for an
    escaped quote), so that regex escapes reach ``re`` untouched."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        raise MailgunError(400, f"{where} takes quoted strings")
    segment = ast.get_source_segment(source, node) or ""
    prefix = len(segment) - len(segment.lstrip("rRuUbBfF"))
    body = segment[prefix:]
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    inner = body[len(quote) : len(body) - len(quote)]
    if "r" in segment[:prefix].lower():
        return inner
    return inner.replace("\\" + quote[0], quote[0])


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except (re.error, OverflowError, RecursionError) as exc:
        raise MailgunError(400, f"Invalid regular expression in {where}: {exc}") from None


def parse_expression(expression: str) -> tuple[Filter, ...]:
    source = expression.strip()
    if not source:
        raise MailgunError(400, "Expression is missing")
    filters = []
    for call in _parse_call(expression, "expression"):
        name = call.func.id if isinstance(call.func, ast.Name) else ""
        if call.keywords:
            raise MailgunError(400, f"{name}() takes no keyword arguments")
        args = [_literal(source, a, f"{name}()") for a in call.args]
        if name == "match_recipient" and len(args) == 1:
            filters.append(Filter("match_recipient", _compile(args[0], "match_recipient()")))
        elif name == "match_header" and len(args) == 2:
            if not args[0].strip():
                raise MailgunError(400, "match_header() needs a header name")
            pattern = _compile(args[1], "match_header()")
            filters.append(Filter("match_header", pattern, args[0].strip()))
        elif name in ("catch_all", "catchall") and not args:
            filters.append(Filter("catch_all"))
        elif name in FILTERS or name == "catchall":
            raise MailgunError(400, f"{name}() takes {_ARITY[name]}")
        else:
            raise MailgunError(
                400,
                f"'{name}' is not a route filter: use match_recipient(), match_header() "
                "or catch_all()",
            )
    return tuple(filters)


_ARITY = {
    "match_recipient": "one pattern",
    "match_header": "a header name and a pattern",
    "catch_all": "no arguments",
    "catchall": "no arguments",
}


def parse_action(text: str) -> Action:
    source = text.strip()
    if not source:
        raise MailgunError(400, "Invalid action: it is empty")
    calls = _parse_call(text, "action")
    if len(calls) != 1:
        raise MailgunError(400, f"Invalid action: {source}")
    call = calls[0]
    name = call.func.id if isinstance(call.func, ast.Name) else ""
    if name == "forward" and call.args and not call.keywords:
        destinations = [
            d.strip()
            for arg in call.args
            for d in _literal(source, arg, "forward()").split(",")
            if d.strip()
        ]
        if not destinations:
            raise MailgunError(400, "forward() needs a URL or an email address")
        for destination in destinations:
            if not (destination.lower().startswith(("http://", "https://")) or "@" in destination):
                raise MailgunError(
                    400, f"forward() destination is not a URL or an address: {destination}"
                )
        return Action("forward", tuple(destinations))
    if name == "store" and not call.args:
        notify = None
        for keyword in call.keywords:
            if keyword.arg != "notify":
                raise MailgunError(400, "store() takes only notify=URL")
            notify = _literal(source, keyword.value, "store()").strip()
            if not notify.lower().startswith(("http://", "https://")):
                raise MailgunError(400, f"store() notify is not a URL: {notify}")
        return Action("store", notify=notify)
    if name == "stop" and not call.args and not call.keywords:
        return Action("stop")
    raise MailgunError(400, f"Invalid action: {source}; use forward(), store() or stop()")


def parse_priority(value: str | None, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise MailgunError(400, "priority must be an integer") from None


class RouteBook:
    """The account's routes (Mailgun's routes are per account, not per domain)."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._routes)

    def ordered(self) -> list[Route]:
        """Evaluation order: lowest priority number first, then the oldest."""
        return sorted(self._routes.values(), key=lambda r: (r.priority, r.seq))

    def get(self, route_id: str) -> Route:
        route = self._routes.get(route_id)
        if route is None:
            raise not_found("Route")
        return route

    def create(
        self, *, priority: int, description: str, expression: str, actions: Sequence[str]
    ) -> Route:
        filters = parse_expression(expression)
        parsed = _parse_actions(actions)
        route = Route(
            id=ids.hex_token(12),
            priority=priority,
            description=description,
            expression=expression.strip(),
            actions=tuple(a.strip() for a in actions),
            created_at=time.time(),
            filters=filters,
            parsed_actions=parsed,
            seq=next(self._seq),
        )
        self._routes[route.id] = route
        return route

    def update(
        self,
        route_id: str,
        *,
        priority: int | None = None,
        description: str | None = None,
        expression: str | None = None,
        actions: Sequence[str] | None = None,
    ) -> Route:
        """Only the fields given change (Mailgun's PUT)."""
        route = self.get(route_id)
        filters = parse_expression(expression) if expression is not None else route.filters
        parsed = _parse_actions(actions) if actions else route.parsed_actions
        if expression is not None:
            route.expression, route.filters = expression.strip(), filters
        if actions:
            route.actions, route.parsed_actions = tuple(a.strip() for a in actions), parsed
        if priority is not None:
            route.priority = priority
        if description is not None:
            route.description = description
        return route

    def remove(self, route_id: str) -> Route:
        route = self.get(route_id)
        del self._routes[route_id]
        return route

    def clear(self) -> int:
        count = len(self._routes)
        self._routes.clear()
        return count


def _parse_actions(actions: Sequence[str]) -> tuple[Action, ...]:
    if not [a for a in actions if a.strip()]:
        raise MailgunError(400, "'action' parameter is missing")
    if sum(len(a) for a in actions) > MAX_FIELD:
        raise MailgunError(400, "The actions cannot exceed 4k; add more routes instead")
    return tuple(parse_action(a) for a in actions if a.strip())


@dataclass(frozen=True)
class Match:
    """One route that matched one recipient, its forward destinations filled in."""

    route_id: str
    priority: int
    expression: str
    actions: tuple[str, ...]
    forward_urls: tuple[str, ...] = ()
    forward_addresses: tuple[str, ...] = ()
    store: bool = False
    notify: str | None = None
    stop: bool = False


def _expand(template: str, found: re.Match[str] | None) -> str:
    if found is None or "\\" not in template:
        return template
    try:
        return found.expand(template)
    except (re.error, IndexError):  # \3 with two groups: left as written
        return template


def _matches(
    route: Route, recipient: str, headers: Sequence[tuple[str, str]]
) -> tuple[bool, re.Match[str] | None]:
    captured: re.Match[str] | None = None
    for flt in route.filters:
        if flt.kind == "match_recipient":
            assert flt.pattern is not None
            found = flt.pattern.match(recipient)
            if found is None:
                return False, None
            captured = captured or found
        elif flt.kind == "match_header":
            assert flt.pattern is not None and flt.header is not None
            wanted = flt.header.lower()
            pattern = flt.pattern
            if not any(n.lower() == wanted and pattern.match(v) for n, v in headers):
                return False, None
    return True, captured


def evaluate(
    routes: Iterable[Route], recipient: str, headers: Sequence[tuple[str, str]]
) -> list[Match]:
    """The routes that fire for ``recipient``, in order, until a ``stop()``."""
    fired: list[Match] = []
    for route in routes:
        if route.is_catch_all and fired:
            continue
        ok, found = _matches(route, recipient, headers)
        if not ok:
            continue
        urls: list[str] = []
        addresses: list[str] = []
        store = stop = False
        notify = None
        for action in route.parsed_actions:
            if action.kind == "forward":
                for destination in action.destinations:
                    filled = _expand(destination, found)
                    (urls if filled.lower().startswith("http") else addresses).append(filled)
            elif action.kind == "store":
                store, notify = True, action.notify or notify
            else:
                stop = True
        fired.append(
            Match(
                route.id,
                route.priority,
                route.expression,
                route.actions,
                tuple(urls),
                tuple(addresses),
                store,
                notify,
                stop,
            )
        )
        if stop:
            break
    return fired
