"""A minimal Django app that sends through django-anymail's Mailgun backend, as a user's would.

    python anymail_app.py API_URL API_KEY SCENARIO   (REQUESTS_CA_BUNDLE trusts mockgun)

Prints one JSON line: what anymail reported (status, message ids) or the error it raised.
"""

from __future__ import annotations

import json
import sys

import django
from django.conf import settings

api_url, api_key, scenario = sys.argv[1:4]
settings.configure(
    EMAIL_BACKEND="anymail.backends.mailgun.EmailBackend",
    ANYMAIL={"MAILGUN_API_URL": api_url, "MAILGUN_API_KEY": api_key},
    DEFAULT_FROM_EMAIL="Shop <shop@mg.example.com>",
)
django.setup()

from anymail.exceptions import AnymailAPIError  # noqa: E402 - after settings, as Django wants
from anymail.message import AnymailMessage  # noqa: E402

message = AnymailMessage(
    subject="Your receipt",
    body="Thanks!",
    to=["Ann <ann@example.com>", "bob@example.com"],
    cc=["cc@example.com"],
    bcc=["audit@example.com"],
    headers={"X-Order": "A-1001"},
)
message.attach_alternative("<p>Thanks!</p>", "text/html")
message.attach("receipt.pdf", b"%PDF-1.7 receipt", "application/pdf")
message.tags = ["receipts"]
message.metadata = {"order_id": "A-1001"}
message.track_clicks = True
if scenario == "batch":
    message.cc = message.bcc = []
    message.subject = "Hello %recipient.first%"  # Mailgun's own substitution syntax
    message.merge_data = {"ann@example.com": {"first": "Ann"}, "bob@example.com": {"first": "Bob"}}
    # Per-recipient metadata: anymail sends v:customer=%recipient.<key>% with the values in
    # recipient-variables, relying on Mailgun to fill them in per recipient.
    message.merge_metadata = {
        "ann@example.com": {"customer": "c-1"},
        "bob@example.com": {"customer": "c-2"},
    }
if scenario == "unknown-domain":
    message.from_email = "shop@not-configured.example"
try:
    message.send()
except AnymailAPIError as exc:
    print(
        json.dumps({"error": type(exc).__name__, "status_code": exc.status_code, "text": str(exc)})
    )
else:
    status = message.anymail_status
    recipients = {email: s.message_id for email, s in status.recipients.items()}
    print(json.dumps({"status": sorted(status.status or []), "recipients": recipients}))
