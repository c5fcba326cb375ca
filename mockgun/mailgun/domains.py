"""The account's domains: the ``--domain`` ones (active from the start), the ones created
through the API (``unverified`` until ``PUT .../verify``), their DNS records, tracking
settings and SMTP credentials.

Which domains may be used: with ``--domain`` given, those and the created ones; without it,
any domain (mockgun's default, so that a first send needs no set-up), except one deleted
through the API. A created domain refuses sends until it is verified, as Mailgun's do.

Verification succeeds unless the test said it must not: a domain under ``.invalid`` (a name
DNS can never answer for, RFC 2606) never verifies, and ``PUT /mockgun/domains/{name}`` with
``verifiable=false`` makes any other domain fail it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..clock import mailgun_date
from .errors import MailgunError, not_found

SPAM_ACTIONS = ("disabled", "block", "tag")
WEB_SCHEMES = ("http", "https")
#: Mailgun: "A password for the SMTP credentials. (Length Min 5, Max 32)".
PASSWORD_LENGTH = (5, 32)
_NAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]"
)
_LOGIN = re.compile(r"[^\s@<>\"]{1,64}")

_HTML_FOOTER = '\n<br>\n<p><a href="%unsubscribe_url%">unsubscribe</a></p>\n'
_TEXT_FOOTER = "\n\nTo unsubscribe click: <%unsubscribe_url%>\n\n"


def _date(ts: float) -> str:
    return mailgun_date(dt.datetime.fromtimestamp(ts, dt.timezone.utc), "GMT")


def _digest(password: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + password.encode()).digest()


@dataclass
class Credential:
    login: str
    salt: bytes = field(repr=False)
    digest: bytes = field(repr=False)
    created_at: float

    def checks(self, password: str) -> bool:
        return hmac.compare_digest(_digest(password, self.salt), self.digest)

    def as_json(self) -> dict[str, Any]:
        return {
            "created_at": _date(self.created_at),
            "login": self.login,
            "mailbox": self.login,
            "size_bytes": 0,
        }


def _credential(login: str, password: str) -> Credential:
    low, high = PASSWORD_LENGTH
    if not low <= len(password) <= high:
        raise MailgunError(400, f"Password length must be between {low} and {high} characters")
    salt = secrets.token_bytes(16)
    return Credential(login, salt, _digest(password, salt), time.time())


@dataclass
class Domain:
    name: str
    state: str  # "active" or "unverified"
    created_at: float
    spam_action: str = "disabled"
    wildcard: bool = False
    web_scheme: str = "https"
    web_prefix: str = "email"
    verifiable: bool = True
    tracking: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "click": {"active": False},
            "open": {"active": False},
            "unsubscribe": {
                "active": False,
                "html_footer": _HTML_FOOTER,
                "text_footer": _TEXT_FOOTER,
            },
        }
    )
    credentials: dict[str, Credential] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "created_at": _date(self.created_at),
            "id": hashlib.sha1(self.name.encode()).hexdigest()[:24],  # noqa: S324 - an id
            "is_disabled": False,
            "name": self.name,
            "require_tls": False,
            "skip_verification": False,
            "smtp_login": f"postmaster@{self.name}",
            "spam_action": self.spam_action,
            "state": self.state,
            "type": "custom",
            "web_prefix": self.web_prefix,
            "web_scheme": self.web_scheme,
            "wildcard": self.wildcard,
        }

    def records(self) -> dict[str, list[dict[str, Any]]]:
        """Mailgun's DNS records for the domain; ``valid`` once verified."""
        valid = "valid" if self.state == "active" else "unknown"
        return {
            "receiving_dns_records": [
                {"cached": [], "priority": "10", "record_type": "MX", "valid": valid, "value": mx}
                for mx in ("mxa.mailgun.org", "mxb.mailgun.org")
            ],
            "sending_dns_records": [
                {
                    "cached": [],
                    "name": self.name,
                    "record_type": "TXT",
                    "valid": valid,
                    "value": "v=spf1 include:mailgun.org ~all",
                },
                {
                    "cached": [],
                    "name": f"k1._domainkey.{self.name}",
                    "record_type": "TXT",
                    "valid": valid,
                    "value": "k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC" + "A" * 48,
                },
                {
                    "cached": [],
                    "name": f"{self.web_prefix}.{self.name}",
                    "record_type": "CNAME",
                    "valid": valid,
                    "value": "mailgun.org",
                },
            ],
        }

    def full_login(self, login: str) -> str:
        """``alice`` and ``alice@domain`` name the same credential."""
        return login if "@" in login else f"{login}@{self.name}"


def flag(value: str | None, name: str) -> bool | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip().lower()
    if text in ("yes", "true", "1"):
        return True
    if text in ("no", "false", "0"):
        return False
    raise MailgunError(400, f"'{name}' must be yes or no (true or false)")


class DomainBook:
    def __init__(self, seeded: Iterable[str] = (), *, started: float | None = None) -> None:
        started = time.time() if started is None else started
        self._domains: dict[str, Domain] = {
            n.lower(): Domain(n.lower(), "active", started) for n in seeded
        }
        #: Without --domain, any domain may be used (and is shown once it has sent).
        self.open = not self._domains
        self._deleted: set[str] = set()

    def reseed(self, names: Iterable[str], *, started: float | None = None) -> None:
        """This start's ``--domain`` list, over a book restored from ``--data-dir``: those
        domains are active, and without any, every domain may be used again."""
        seeded = [n.lower() for n in names]
        self.open = not seeded
        for name in seeded:
            domain = self._domains.get(name)
            if domain is None:
                self._domains[name] = Domain(name, "active", started or time.time())
            else:
                domain.state = "active"
            self._deleted.discard(name)

    def get(self, name: str) -> Domain | None:
        return self._domains.get(name.lower())

    def allows(self, name: str) -> bool:
        key = name.lower()
        return key in self._domains or (self.open and key not in self._deleted)

    def require(self, name: str) -> Domain:
        """The domain (one that open mode allows is made on the spot, active), or a 404."""
        key = name.lower()
        domain = self._domains.get(key)
        if domain is None and self.allows(key):
            return Domain(key, "active", time.time())
        if domain is None:
            raise MailgunError(404, f"Domain not found: {name}")
        return domain

    def sending_refusal(self, name: str) -> str | None:
        """Mailgun's reason a send for ``name`` is refused: an unverified domain."""
        domain = self._domains.get(name.lower())
        if domain is not None and domain.state != "active":
            return (
                f"Domain {domain.name} is not allowed to send: The domain is unverified and "
                "requires DNS configuration. Log in to your control panel to view required "
                "DNS records."
            )
        return None

    def names(self, seen: Iterable[str] = ()) -> list[str]:
        """Known domains; in open mode also those that have sent (``seen``)."""
        names = set(self._domains)
        if self.open:
            names.update(n.lower() for n in seen if n.lower() not in self._deleted)
        return sorted(names)

    def create(
        self,
        name: str,
        *,
        smtp_password: str | None = None,
        spam_action: str | None = None,
        wildcard: bool | None = None,
        web_scheme: str | None = None,
        web_prefix: str | None = None,
    ) -> Domain:
        key = name.strip().lower()
        if not key:
            raise MailgunError(400, "'name' parameter is missing")
        if not _NAME.fullmatch(key):
            raise MailgunError(400, f"'{name[:255]}' is not a valid domain name")
        if key in self._domains:
            raise MailgunError(400, "This domain name is already taken")
        domain = Domain(key, "unverified", time.time())
        self._update(domain, spam_action, wildcard, web_scheme, web_prefix)
        if smtp_password:
            domain.credentials[f"postmaster@{key}"] = _credential(
                f"postmaster@{key}", smtp_password
            )
        domain.verifiable = not key.endswith(".invalid")
        self._domains[key] = domain
        self._deleted.discard(key)
        return domain

    def update(
        self,
        name: str,
        *,
        spam_action: str | None = None,
        wildcard: bool | None = None,
        web_scheme: str | None = None,
        web_prefix: str | None = None,
    ) -> Domain:
        domain = self._owned(name)
        self._update(domain, spam_action, wildcard, web_scheme, web_prefix)
        return domain

    @staticmethod
    def _update(
        domain: Domain,
        spam_action: str | None,
        wildcard: bool | None,
        web_scheme: str | None,
        web_prefix: str | None,
    ) -> None:
        if spam_action is not None:
            if spam_action not in SPAM_ACTIONS:
                raise MailgunError(400, "'spam_action' must be disabled, block or tag")
            domain.spam_action = spam_action
        if web_scheme is not None:
            if web_scheme not in WEB_SCHEMES:
                raise MailgunError(400, "'web_scheme' must be http or https")
            domain.web_scheme = web_scheme
        if web_prefix is not None:
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", web_prefix.lower()):
                raise MailgunError(400, "'web_prefix' is not a valid DNS label")
            domain.web_prefix = web_prefix.lower()
        if wildcard is not None:
            domain.wildcard = wildcard

    def _owned(self, name: str) -> Domain:
        """A domain this book holds; one open mode merely allows is adopted (as active)."""
        key = name.lower()
        if key not in self._domains:
            self._domains[key] = self.require(key)
        return self._domains[key]

    def remove(self, name: str) -> None:
        key = name.lower()
        if key not in self._domains and not self.allows(key):
            raise MailgunError(404, f"Domain not found: {name}")
        self._domains.pop(key, None)
        self._deleted.add(key)

    def verify(self, name: str) -> Domain:
        domain = self._owned(name)
        domain.state = "active" if domain.verifiable else "unverified"
        return domain

    def set_verifiable(self, name: str, verifiable: bool) -> Domain:
        domain = self._owned(name)
        domain.verifiable = verifiable
        return domain

    # --- SMTP credentials -----------------------------------------------------------------

    def add_credential(self, name: str, login: str, password: str) -> Credential:
        domain = self._owned(name)
        if not login.strip():
            raise MailgunError(400, "'login' parameter is missing")
        full = domain.full_login(login.strip().lower())
        local, _, at = full.partition("@")
        if at != domain.name or not _LOGIN.fullmatch(local):
            raise MailgunError(400, f"'{login[:100]}' is not a valid login for {domain.name}")
        if full in domain.credentials:
            raise MailgunError(409, f"Credentials for {full} already exist")
        credential = _credential(full, password)
        domain.credentials[full] = credential
        return credential

    def change_password(self, name: str, login: str, password: str) -> None:
        domain = self._owned(name)
        full = domain.full_login(login.lower())
        if full not in domain.credentials:
            raise not_found("Credentials")
        domain.credentials[full] = _credential(full, password)

    def remove_credential(self, name: str, login: str) -> str:
        domain = self._owned(name)
        full = domain.full_login(login.lower())
        if domain.credentials.pop(full, None) is None:
            raise not_found("Credentials")
        return full

    def check_login(self, login: str, password: str) -> bool:
        """Whether an SMTP login (``user@domain``) and password are a domain's credentials."""
        domain = self._domains.get(login.rpartition("@")[2].lower())
        credential = domain.credentials.get(login.lower()) if domain is not None else None
        return credential is not None and credential.checks(password)
