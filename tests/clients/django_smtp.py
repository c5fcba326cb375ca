"""Django's own SMTP email backend (not anymail), as a Django app sends through Mailgun's SMTP.

    python django_smtp.py HOST PORT USER PASSWORD   (SSL_CERT_FILE trusts mockgun's CA)

Prints one JSON line: how many messages Django says it sent, or the error it raised.
"""

from __future__ import annotations

import json
import sys

import django
from django.conf import settings

host, port, user, password = sys.argv[1:5]
settings.configure(
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST=host,
    EMAIL_PORT=int(port),
    EMAIL_HOST_USER=user,
    EMAIL_HOST_PASSWORD=password,
    EMAIL_USE_TLS=True,  # STARTTLS, as Mailgun's docs tell Django users on port 587
    EMAIL_TIMEOUT=10,
)
django.setup()

from django.core.mail import EmailMessage  # noqa: E402 - after settings, as Django wants

message = EmailMessage(
    subject="Welcome aboard",
    body="Hello from Django.",
    from_email="Shop <shop@example.com>",
    to=["ann@example.com"],
    headers={"X-Mailgun-Tag": "welcome"},
)
message.attach("terms.pdf", b"%PDF-1.7 terms", "application/pdf")
try:
    sent = message.send()
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "text": str(exc)}))
else:
    print(json.dumps({"sent": sent}))
