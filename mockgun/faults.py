"""Fault rules: make chosen requests fail the way production sometimes does.

A rule matches sends by domain, recipient, sender and endpoint, optionally only for the
next N matching requests or for a percentage of them (seeded, so runs repeat), and then
answers with a Mailgun-shaped error, waits before answering, drops the connection, or
stalls. Rules come from ``--fault``, from ``/mockgun/faults`` at run time, and from
magic recipients that need no setup (``fault-429@...``).

The rule syntax is words separated by spaces::

    429 to=*@example.com times=2 retry-after=3
    503 domain=example.com percent=50 seed=7
    delay=2.5 from=alerts@example.com
    drop endpoint=messages.mime
    stall times=1
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import random
import re
from dataclasses import dataclass, field
from typing import Any

from .clock import now_rfc3339

#: The statuses a rule may answer with, and Mailgun's text for each.
STATUS_MESSAGES = {
    400: "Bad Request",
    401: "Forbidden",
    402: "Request failed: account limits reached",
    403: "Rejected: the domain is not allowed to send",
    404: "Not Found",
    413: "request size exceeds the limit",
    429: "Domain {domain} is not allowed to send: request limit exceeded, "
    "try again after {retry_after} seconds",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
ACTIONS = ("status", "delay", "drop", "stall")
ENDPOINTS = ("messages", "messages.mime", "smtp", "any")
_MATCH_KEYS = {
    "domain": "domain",
    "to": "recipient",
    "recipient": "recipient",
    "from": "sender",
    "sender": "sender",
    "endpoint": "endpoint",
}
#: How every magic recipient's local part starts (``fault-503@``, ``fault-drop@``, ...).
MAGIC_PREFIX = "fault-"
_MAGIC = re.compile(
    rf"^{MAGIC_PREFIX}(?:(\d{{3}})|delay-(\d+(?:\.\d+)?)|(drop)|(stall))(?:[+.].*)?$"
)


class RuleError(ValueError):
    """A rule that does not parse; the message says what is wrong."""


@dataclass
class FaultTarget:
    """What a rule can match on: one send."""

    endpoint: str
    domain: str
    recipients: list[str] = field(default_factory=list)
    sender: str = ""


@dataclass
class FaultRule:
    action: str = "status"
    status: int = 500
    delay: float = 0.0
    retry_after: int = 1
    domain: str | None = None
    recipient: str | None = None
    sender: str | None = None
    endpoint: str = "any"
    times: int | None = None
    percent: float | None = None
    seed: int | None = None
    #: ``rule-N`` once a :class:`FaultBook` holds it (``magic`` for magic recipients).
    id: str = ""
    hits: int = 0
    source: str = ""

    @functools.cached_property
    def _random(self) -> random.Random:
        # Made on first draw, so that a seed parsed after construction counts.
        return random.Random(self.seed)  # noqa: S311 - test chaos, not secrets

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, request: FaultTarget) -> bool:
        if self.exhausted:
            return False
        if self.endpoint != "any" and self.endpoint != request.endpoint:
            return False
        if self.domain is not None and not _glob(self.domain, request.domain):
            return False
        if self.sender is not None and not _glob(self.sender, request.sender):
            return False
        if self.recipient is not None and not any(
            _glob(self.recipient, r) for r in request.recipients
        ):
            return False
        # Drawn only for requests that match otherwise, so that a seed gives the same run.
        return self.percent is None or self._random.random() * 100 < self.percent

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.source or describe(self),
            "action": self.action,
            "status": self.status if self.action == "status" else None,
            "delay": self.delay if self.action == "delay" else None,
            "domain": self.domain,
            "recipient": self.recipient,
            "sender": self.sender,
            "endpoint": self.endpoint,
            "times": self.times,
            "percent": self.percent,
            "seed": self.seed,
            "hits": self.hits,
        }


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def describe(rule: FaultRule) -> str:
    words = [str(rule.status) if rule.action == "status" else rule.action]
    if rule.action == "delay":
        words = [f"delay={rule.delay:g}"]
    for key in ("domain", "recipient", "sender"):
        if (value := getattr(rule, key)) is not None:
            words.append(f"{key}={value}")
    if rule.endpoint != "any":
        words.append(f"endpoint={rule.endpoint}")
    for key in ("times", "percent", "seed"):
        if (value := getattr(rule, key)) is not None:
            words.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(words)


def parse_rule(text: str) -> FaultRule:
    """Parse the readable syntax (see the module docstring); raises RuleError."""
    rule = FaultRule(source=text.strip())
    action_given = False
    for word in text.split():
        key, sep, value = word.partition("=")
        key = key.lower()
        try:
            if not sep and key.isdigit():
                rule.action, rule.status = "status", _status(int(key))
            elif not sep and key in ("drop", "stall"):
                rule.action = key
            elif key == "status":
                rule.action, rule.status = "status", _status(int(value))
            elif key == "delay":
                rule.action, rule.delay = "delay", _seconds(value)
            elif key in _MATCH_KEYS:
                if _MATCH_KEYS[key] == "endpoint" and value not in ENDPOINTS:
                    raise RuleError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
                setattr(rule, _MATCH_KEYS[key], value)
                continue
            elif key == "times":
                rule.times = _positive(int(value), key)
                continue
            elif key == "percent":
                rule.percent = float(value)
                if not 0 <= rule.percent <= 100:
                    raise RuleError("percent must be between 0 and 100")
                continue
            elif key == "seed":
                rule.seed = int(value)
                continue
            elif key in ("retry-after", "retry_after"):
                rule.retry_after = _positive(int(value), key)
                continue
            else:
                raise RuleError(f"unknown word {word!r}")
        except ValueError as exc:
            if isinstance(exc, RuleError):
                raise
            raise RuleError(f"{word!r} is not a valid {key}") from None
        if action_given:
            raise RuleError("a rule has one action: a status, delay=..., drop or stall")
        action_given = True
    if not action_given:
        raise RuleError(
            "a rule needs an action: a status (429, 503, ...), delay=..., drop or stall"
        )
    return rule


def _status(code: int) -> int:
    if code not in STATUS_MESSAGES:
        raise RuleError(f"status {code} is not one of {', '.join(map(str, STATUS_MESSAGES))}")
    return code


def _seconds(value: str) -> float:
    seconds = float(value.removesuffix("s"))
    if not 0 <= seconds <= 600:
        raise RuleError("delay must be between 0 and 600 seconds")
    return seconds


def _positive(value: int, name: str) -> int:
    if value < 1:
        raise RuleError(f"{name} must be at least 1")
    return value


def magic_rule(recipient: str) -> FaultRule | None:
    """The rule a magic recipient names: ``fault-503@``, ``fault-delay-2@``, ``fault-drop@``,
    ``fault-stall@`` (anything may follow after ``+`` or ``.``: ``fault-429+retry@``)."""
    local = recipient.partition("@")[0].lower()
    match = _MAGIC.match(local)
    if not match:
        return None
    status, delay, drop, _stall = match.groups()
    if status:
        if int(status) not in STATUS_MESSAGES:
            return None
        return FaultRule(
            action="status", status=int(status), source=f"magic {recipient}", id="magic"
        )
    if delay:
        return FaultRule(
            action="delay", delay=min(float(delay), 600), source=f"magic {recipient}", id="magic"
        )
    return FaultRule(action="drop" if drop else "stall", source=f"magic {recipient}", id="magic")


class FaultBook:
    """The rules in force, and a record of every response they produced."""

    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self.rules: list[FaultRule] = []
        self.injected: list[dict[str, Any]] = []
        self._ids = itertools.count(1)  # each server numbers its own rules
        for rule in rules or []:
            self.add(rule)

    def add(self, rule: FaultRule) -> FaultRule:
        if not rule.id:
            rule.id = f"rule-{next(self._ids)}"
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def clear(self) -> int:
        count = len(self.rules)
        self.rules.clear()
        return count

    def may_apply(self, recipient_fields: list[str]) -> bool:
        """Whether a rule or a magic recipient could apply to a send with these raw
        to/cc/bcc values; when not, the send need not have its addresses parsed for
        :meth:`pick` (the common case)."""
        return bool(self.rules) or any(MAGIC_PREFIX in v.lower() for v in recipient_fields)

    def pick(self, request: FaultTarget) -> FaultRule | None:
        """The first rule (configured rules first, then magic recipients) for ``request``."""
        for rule in self.rules:
            if rule.matches(request):
                rule.hits += 1
                return rule
        for recipient in request.recipients:
            magic = magic_rule(recipient)
            if magic is not None:
                return magic
        return None

    def trigger(self, request: FaultTarget) -> FaultRule | None:
        """The rule that applies to ``request`` (see :meth:`pick`), recorded as injected now."""
        rule = self.pick(request)
        if rule is not None:
            self.record(rule, request, now_rfc3339())
        return rule

    def record(self, rule: FaultRule, request: FaultTarget, ts: str) -> dict[str, Any]:
        entry = {
            "ts": ts,
            "rule_id": rule.id,
            "rule": rule.source or describe(rule),
            "action": rule.action,
            "status": rule.status if rule.action == "status" else None,
            "endpoint": request.endpoint,
            "domain": request.domain,
            "recipients": request.recipients,
            "sender": request.sender,
        }
        self.injected.append(entry)
        return entry
