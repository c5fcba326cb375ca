"""Mailgun's API keys beyond the account key: ``POST /v1/keys`` makes them.

Two kinds matter to an app. An account-level key (kind ``user``, any role but ``sending``)
works everywhere, as ``--api-key`` does. A domain sending key (kind ``domain``, role
``sending``) "only allow[s] sending messages via a POST call on /messages and
/messages.mime endpoints for the domain in which they are created"; everything else it
tries gets the same plain ``Forbidden`` as a wrong key (UNVERIFIED, see docs/fidelity.md).

Secrets are shown once, in the answer that creates them, and kept only as SHA-256 digests:
nothing here can print one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from ..clock import mailgun_date
from .errors import MailgunError, not_found

KINDS = ("user", "domain", "web")
ROLES = ("admin", "basic", "sending", "developer")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class ApiKey:
    id: str
    kind: str
    role: str
    domain_name: str | None
    description: str
    created_at: float
    expires_at: float | None
    hint: str  # the last characters, as Mailgun's dashboard shows them

    @property
    def sending_only(self) -> bool:
        return self.kind == "domain" or self.role == "sending"

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def allows(self, method: str, path: str) -> bool:
        """Whether this key may make the request (a sending key: only its domain's sends)."""
        if not self.sending_only:
            return True
        parts = path.split("/")
        return (
            method == "POST"
            and len(parts) == 4
            and parts[1] == "v3"
            and parts[2].lower() == (self.domain_name or "").lower()
            and parts[3] in ("messages", "messages.mime")
        )

    def as_json(self) -> dict[str, Any]:
        def date(ts: float | None) -> str | None:
            moment = None if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc)
            return None if moment is None else mailgun_date(moment, "GMT")

        return {
            "id": self.id,
            "description": self.description,
            "kind": self.kind,
            "role": self.role,
            "created_at": date(self.created_at),
            "updated_at": date(self.created_at),
            "expires_at": date(self.expires_at),
            "domain_name": self.domain_name,
            "requestor": None,
            "user_name": None,
            "is_disabled": False,
            "disabled_reason": None,
            "secret_hint": self.hint,
        }


class KeyRing:
    def __init__(self) -> None:
        self._by_digest: dict[str, ApiKey] = {}

    def create(
        self,
        *,
        role: str | None,
        kind: str | None,
        domain_name: str | None,
        description: str = "",
        expiration: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret (returned once, never kept)."""
        if not role:
            raise MailgunError(400, "'role' parameter is missing")
        if role not in ROLES:
            raise MailgunError(400, f"role must be one of: {', '.join(ROLES)}")
        kind = kind or "user"
        if kind not in KINDS:
            raise MailgunError(400, f"kind must be one of: {', '.join(KINDS)}")
        if kind == "domain" and not domain_name:
            raise MailgunError(400, "domain_name is required for keys of domain kind")
        if role == "sending" and kind != "domain":
            raise MailgunError(400, "keys with the sending role must be of domain kind")
        lifetime = None
        if expiration:
            try:
                lifetime = int(expiration)
            except ValueError:
                lifetime = 0
            if lifetime <= 0:
                raise MailgunError(400, "expiration must be a number of seconds above 0")
        # Mailgun's domain sending keys look like this: 32 hex, then 8 and 8.
        secret = f"{secrets.token_hex(16)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
        now = time.time()
        key = ApiKey(
            id=secrets.token_hex(12),
            kind=kind,
            role=role,
            domain_name=domain_name.lower() if domain_name else None,
            description=description,
            created_at=now,
            expires_at=now + lifetime if lifetime else None,
            hint=secret[-4:],
        )
        self._by_digest[_digest(secret)] = key
        return key, secret

    def find(self, secret: str) -> ApiKey | None:
        key = self._by_digest.get(_digest(secret))
        if key is not None and key.expired(time.time()):
            return None
        return key

    def items(self, *, domain_name: str | None = None, kind: str | None = None) -> list[ApiKey]:
        keys = sorted(self._by_digest.values(), key=lambda k: k.created_at)
        return [
            k
            for k in keys
            if (domain_name is None or (k.domain_name or "") == domain_name.lower())
            and (kind is None or k.kind == kind)
        ]

    def remove(self, key_id: str) -> None:
        for digest, key in list(self._by_digest.items()):
            if key.id == key_id:
                del self._by_digest[digest]
                return
        raise not_found("Key")

    def __bool__(self) -> bool:
        return bool(self._by_digest)
