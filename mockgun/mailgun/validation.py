"""Mailgun's address validation, with outcomes a test can choose.

A real syntax check, then deterministic answers instead of a lookup of the mailbox provider,
chosen like the magic recipients of a send (the local part before any ``+``, or the domain):

- ``undeliverable@...``: ``undeliverable``, ``mailbox_does_not_exist``, risk ``high``;
- ``unknown@...``: ``unknown``, ``no_data``, risk ``unknown``;
- ``catchall@...`` (or a domain starting with ``catchall.``): ``catch_all``, ``catch_all``;
- a disposable domain (mailinator.com, yopmail.com, ... see :data:`DISPOSABLE`):
  ``do_not_send``, ``mailbox_is_disposable_address``, ``is_disposable_address``;
- a role local part (admin, info, support, ... see :data:`ROLES`): ``deliverable`` with
  ``mailbox_is_role_address`` and ``is_role_address``, risk ``medium``;
- a common typo of a big provider's domain (gmial.com, hotmial.com, ... see :data:`TYPOS`):
  ``undeliverable``, ``no_mx``, and ``did_you_mean`` the corrected address;
- anything else that is well-formed: ``deliverable``, risk ``low``.
"""

from __future__ import annotations

import re
from typing import Any

MAX_ADDRESS = 512
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")

DISPOSABLE = frozenset(
    {
        "mailinator.com",
        "yopmail.com",
        "guerrillamail.com",
        "10minutemail.com",
        "tempmail.com",
        "trashmail.com",
        "sharklasers.com",
        "dispostable.com",
        "disposable.example",
    }
)
ROLES = frozenset(
    {
        "admin", "administrator", "abuse", "billing", "contact", "help", "hostmaster", "info",
        "marketing", "no-reply", "noreply", "office", "postmaster", "sales", "support",
        "webmaster",
    }
)  # fmt: skip
TYPOS = {
    "gmial.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gnail.com": "gmail.com",
    "hotmial.com": "hotmail.com",
    "hotmal.com": "hotmail.com",
    "yaho.com": "yahoo.com",
    "yahooo.com": "yahoo.com",
    "outlok.com": "outlook.com",
    "iclod.com": "icloud.com",
}


def well_formed(address: str) -> tuple[str, str] | None:
    """(local part, domain) of a syntactically valid address, else None."""
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or local.startswith(".") or ".." in local:
        return None
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
        return None
    return local, domain.lower()


def validate(address: str) -> dict[str, Any]:
    """The ``/v4/address/validate`` answer for ``address``."""
    out: dict[str, Any] = {
        "address": address,
        "did_you_mean": None,
        "engagement": None,
        "is_disposable_address": False,
        "is_role_address": False,
        "reason": [],
        "result": "deliverable",
        "risk": "low",
    }
    parts = well_formed(address)
    if parts is None:
        out.update(result="undeliverable", risk="high", reason=["failed custom grammar check"])
        return out
    local, domain = parts
    base = local.partition("+")[0].lower()
    if "+" in local:
        out["root_address"] = f"{local.partition('+')[0]}@{domain}"
    if base in ROLES:
        out.update(is_role_address=True, risk="medium", reason=["mailbox_is_role_address"])
    if domain in DISPOSABLE:
        out.update(
            is_disposable_address=True,
            result="do_not_send",
            risk="high",
            reason=["mailbox_is_disposable_address"],
        )
    elif domain in TYPOS:
        out.update(
            did_you_mean=f"{local}@{TYPOS[domain]}",
            result="undeliverable",
            risk="high",
            reason=["no_mx"],
        )
    elif base == "undeliverable":
        out.update(result="undeliverable", risk="high", reason=["mailbox_does_not_exist"])
    elif base == "unknown":
        out.update(result="unknown", risk="unknown", reason=["no_data"])
    elif base == "catchall" or domain.startswith("catchall."):
        out.update(result="catch_all", risk="medium", reason=["catch_all"])
    return out


def legacy(address: str) -> dict[str, Any]:
    """The older ``/v3/address/validate`` answer (what the legacy mailgun-js package reads)."""
    answer = validate(address)
    parts = well_formed(address)
    local, domain = parts if parts is not None else (None, None)
    return {
        "address": address,
        "did_you_mean": answer["did_you_mean"],
        "is_disposable_address": answer["is_disposable_address"],
        "is_role_address": answer["is_role_address"],
        "is_valid": parts is not None and answer["result"] != "undeliverable",
        "mailbox_verification": {"deliverable": "true", "undeliverable": "false"}.get(
            answer["result"], "unknown"
        ),
        "parts": {"display_name": None, "domain": domain, "local_part": local},
        "reason": None if parts is not None else "malformed address",
    }
