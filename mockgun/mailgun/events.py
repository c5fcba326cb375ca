"""The events a send produces: ``accepted`` per recipient, then what happens after.

Each accepted message gives one ``accepted`` event per recipient, followed (unless delivery
is off) by its outcome: ``delivered`` by default, and for a test-mode message a ``delivered``
with code 650 (Mailgun's documented test-mode answer), whatever the recipient. A
magic recipient picks another outcome with no setup — its local part (before any ``+``)
names it:

- ``bounce@...``: a permanent ``failed`` event (550, no delivery);
- ``tempfail@...``: two temporary ``failed`` events (421), then ``delivered`` on attempt 3;
- ``opened@...``, ``clicked@...``, ``unsubscribed@...``, ``complained@...``: delivered, then
  that event.

Tests can also add events to a stored message with
``POST /mockgun/events/{domain}/{event}/{message-id}``.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from . import ids
from .links import substitute
from .send import Mailbox, SendRequest
from .suppressions import DESCRIPTIONS

MAGIC_OUTCOMES = ("bounce", "tempfail", "opened", "clicked", "unsubscribed", "complained")
#: Events that can be added to a stored message through the inspection API.
ADDABLE = ("delivered", "failed", "opened", "clicked", "unsubscribed", "complained")


def event_id() -> str:
    return ids.token(16)


def for_send(
    request: SendRequest,
    *,
    message_id: str,
    storage_key: str,
    received_at: float,
    peer_ip: str | None,
    deliver: bool,
    storage_url: str | None = None,
    suppressed: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every event of one accepted send: ``accepted`` per recipient, then the outcomes
    (unless ``deliver`` is off or the send is in test mode). ``message_id`` is bare (no
    angle brackets); the message ``size`` is left None until the MIME message is built."""
    sender = _address_of(request.sender)
    headers = {
        "to": ", ".join(_format(b) for b in request.to),
        "message-id": message_id,
        "from": request.sender or "",
        "subject": request.subject or "",
    }
    message: dict[str, Any] = {
        "headers": headers,
        "attachments": [
            # Mailgun's events give the bare type: no "; charset=..." or "; name=...".
            {"filename": p.filename, "content-type": _bare_type(p.content_type), "size": p.size}
            for p in request.attachments
        ],
        "recipients": request.recipients,
        "size": None,
    }
    scheduled = request.options.deliverytime
    if scheduled is not None:
        message["scheduled-for"] = scheduled.timestamp()
    common: dict[str, Any] = {
        "message": message,
        "storage": {"key": storage_key, **({"url": storage_url} if storage_url else {})},
        "campaigns": [],
        "tags": list(request.options.tags),
        "user-variables": dict(request.options.variables),
    }
    testmode = request.options.testmode
    events = [
        {
            "event": "accepted",
            "id": event_id(),
            "timestamp": received_at,
            "log-level": "info",
            "method": "HTTP",
            "originating-ip": peer_ip,
            "envelope": {"sender": sender, "transport": "smtp", "targets": recipient},
            "flags": {"is-authenticated": True, "is-test-mode": testmode},
            **common,
            "user-variables": _user_variables(request, recipient),
            "recipient": recipient,
            "recipient-domain": recipient.rpartition("@")[2],
        }
        for recipient in request.recipients
    ]
    when = max(received_at + 0.001, scheduled.timestamp() if scheduled else 0)
    for accepted in list(events):
        reason = (suppressed or {}).get(str(accepted["recipient"]))
        if reason is not None and not testmode:
            events.append(suppressed_failure(accepted, when, reason))
        elif deliver:
            events.extend(
                [test_mode_delivery(accepted, when)]
                if testmode
                else after_acceptance(accepted, when)
            )
    return events


def suppressed_failure(accepted: dict[str, Any], when: float, reason: str) -> dict[str, Any]:
    """Mailgun's answer to a send to a suppressed address: ``failed``, permanent, code 605."""
    event = follow_up(accepted, "failed", when, severity="permanent")
    event["reason"] = reason
    event["delivery-status"].update(
        {"code": 605, "message": "", "description": DESCRIPTIONS[reason], "attempt-no": 1}
    )
    return event


def test_mode_delivery(accepted: dict[str, Any], when: float) -> dict[str, Any]:
    """Mailgun: "Sending in Test Mode will not actually deliver an email but will emit a
    `delivered` event with a 650 status code"."""
    event = follow_up(accepted, "delivered", when)
    event["flags"]["is-test-mode"] = True
    event["delivery-status"].update({"code": 650, "message": "OK", "description": "test mode"})
    return event


def _user_variables(request: SendRequest, recipient: str) -> dict[str, str]:
    """The ``v:`` values; in a batch, with the recipient's ``%recipient.x%`` filled in (what
    django-anymail relies on for per-recipient metadata in tracking webhooks)."""
    batch = request.options.recipient_variables
    if batch is None:
        return dict(request.options.variables)
    values = batch.get(recipient, {})
    return {k: substitute(v, values) or "" for k, v in request.options.variables.items()}


def _bare_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower() or "application/octet-stream"


def _format(box: Mailbox) -> str:
    return f"{box.name} <{box.address}>" if box.name else box.address


def _address_of(raw: str | None) -> str:
    text = (raw or "").strip()
    if not any(c in text for c in '<>"(),;:'):  # a bare address: nothing to parse
        return text
    return parseaddr(text)[1]


def magic_outcome(recipient: str) -> str | None:
    local = recipient.partition("@")[0].partition("+")[0].lower()
    return local if local in MAGIC_OUTCOMES else None


def _status(
    recipient: str, code: int, message: str, attempt: int, description: str = ""
) -> dict[str, Any]:
    return {
        "tls": True,
        "mx-host": f"mx.{recipient.rpartition('@')[2]}",
        "code": code,
        "description": description,
        "session-seconds": 0.05,
        "utf8": True,
        "attempt-no": attempt,
        "message": message,
        "certificate-verified": True,
    }


def follow_up(accepted: dict[str, Any], kind: str, when: float, **extra: Any) -> dict[str, Any]:
    """An event about the same message and recipient as ``accepted``."""
    recipient = str(accepted["recipient"])
    event = {
        **{k: v for k, v in accepted.items() if k not in ("method", "originating-ip")},
        "event": kind,
        "id": event_id(),
        "timestamp": when,
        "log-level": "info",
        "flags": {
            "is-routed": False,
            "is-authenticated": True,
            "is-system-test": False,
            "is-test-mode": False,
        },
    }
    envelope = dict(event.get("envelope", {}))
    if kind in ("delivered", "failed"):
        envelope["sending-ip"] = "127.0.0.1"
        event["recipient-provider"] = "Other"
    event["envelope"] = envelope
    if kind == "delivered":
        event["delivery-status"] = _status(recipient, 250, "OK", extra.pop("attempt", 1))
    elif kind == "failed":
        permanent = extra.pop("severity", "permanent") == "permanent"
        attempt = extra.pop("attempt", 1)
        event.update(
            {
                "log-level": "error" if permanent else "warn",
                "severity": "permanent" if permanent else "temporary",
                "reason": "bounce" if permanent else "generic",
                "delivery-status": _status(
                    recipient,
                    550 if permanent else 421,
                    "5.1.1 The email account that you tried to reach does not exist."
                    if permanent
                    else "4.2.0 Temporary failure, try again later.",
                    attempt,
                    "mockgun: simulated " + ("bounce" if permanent else "temporary failure"),
                ),
            }
        )
        if not permanent:
            event["delivery-status"]["retry-seconds"] = 600
    elif kind == "clicked":
        event["url"] = extra.pop("url", "https://example.com/")
    if kind in ("opened", "clicked", "unsubscribed", "complained"):
        event["client-info"] = {
            "client-type": "browser",
            "client-os": "Linux",
            "device-type": "desktop",
            "client-name": "mockgun",
            "user-agent": "mockgun",
        }
        event["geolocation"] = {"country": "US", "region": "Unknown", "city": "Unknown"}
        event["ip"] = "127.0.0.1"
    event.update(extra)
    return event


def after_acceptance(accepted: dict[str, Any], when: float) -> list[dict[str, Any]]:
    """The events that follow ``accepted`` for its recipient, by default or by magic."""
    outcome = magic_outcome(str(accepted["recipient"]))
    if outcome == "bounce":
        return [follow_up(accepted, "failed", when, severity="permanent")]
    if outcome == "tempfail":
        return [
            follow_up(accepted, "failed", when, severity="temporary", attempt=1),
            follow_up(accepted, "failed", when + 0.001, severity="temporary", attempt=2),
            follow_up(accepted, "delivered", when + 0.002, attempt=3),
        ]
    events = [follow_up(accepted, "delivered", when)]
    if outcome is not None:
        events.append(follow_up(accepted, outcome, when + 0.001))
    return events


def not_rendered(produced: list[dict[str, Any]], when: float, why: str) -> list[dict[str, Any]]:
    """A permanent ``failed`` per recipient of a send whose template could not be rendered
    (an unknown template or version: Mailgun accepts such a send and does not deliver it)."""
    failed = []
    for accepted in (e for e in produced if e["event"] == "accepted"):
        event = follow_up(accepted, "failed", when, severity="permanent")
        event["reason"] = "generic"
        event["delivery-status"].update(
            {"code": 605, "message": why, "description": f"mockgun: not delivered: {why}"}
        )
        failed.append(event)
    return failed


def stored(
    request: SendRequest,
    *,
    message_id: str,
    storage_key: str,
    storage_url: str,
    received_at: float,
    recipient: str,
    size: int,
    route: dict[str, Any],
) -> dict[str, Any]:
    """The ``stored`` event of inbound mail kept by a route's ``store()``: what an app polls
    (``event=stored``) before fetching ``storage.url``."""
    return {
        "event": "stored",
        "id": event_id(),
        "timestamp": received_at,
        "log-level": "info",
        "envelope": {"sender": _address_of(request.sender), "targets": recipient},
        "flags": {"is-routed": True, "is-authenticated": False, "is-test-mode": False},
        "message": {
            "headers": {
                "to": recipient,
                "message-id": message_id,
                "from": request.sender or "",
                "subject": request.subject or "",
            },
            "attachments": [],
            "recipients": [recipient],
            "size": size,
        },
        "storage": {"key": storage_key, "url": storage_url},
        "routes": [route],
        "recipient": recipient,
        "recipient-domain": recipient.rpartition("@")[2],
        "campaigns": [],
        "tags": [],
        "user-variables": {},
    }
