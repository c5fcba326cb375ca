"""An app that receives mail from Mailgun routes, as a Django user's would.

    python inbound_receiver.py SIGNING_KEY RECORD_FILE

Prints ``PORT <n>`` once it listens on 127.0.0.1 (an ephemeral port), then serves until
killed. Each request it answers becomes one JSON line in RECORD_FILE.

- ``/anymail/mailgun/inbound/`` (and ``.../inbound/mime``): django-anymail's own Mailgun
  inbound view, unchanged. It checks the signature with SIGNING_KEY (a wrong one gets 400)
  and parses the form (or ``body-mime``) into an ``AnymailInboundMessage``, which is
  recorded: what an app's inbound signal handler sees.
- ``/flaky/<n>/``: 500 for the first n POSTs, then 200; ``/reject/``: 406 (Mailgun: never
  retried); ``/notify/``: 200. These record the posted fields and whether the signature
  checks out, computed as Mailgun documents it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings
from django.urls import path

signing_key, record_file = sys.argv[1:3]
settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["anymail"],
    MIDDLEWARE=[],
    ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": signing_key, "WEBHOOK_SECRET": None},
    DATA_UPLOAD_MAX_MEMORY_SIZE=None,
    SILENCED_SYSTEM_CHECKS=["anymail.W002"],
)
django.setup()

from anymail.inbound import AnymailInboundMessage  # noqa: E402 - after settings, as Django wants
from anymail.signals import inbound  # noqa: E402
from anymail.webhooks.mailgun import MailgunInboundWebhookView  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402

_lock = threading.Lock()
_seen: dict[str, int] = {}


def record(entry: dict[str, Any]) -> None:
    with _lock, open(record_file, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def on_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    message: AnymailInboundMessage = event.message
    record(
        {
            "path": event.esp_event.path,
            "query": dict(event.esp_event.GET),
            "anymail": {
                "envelope_recipient": message.envelope_recipient,
                "envelope_sender": message.envelope_sender,
                "from": str(message.from_email),
                "to": [str(a) for a in message.to],
                "subject": message.subject,
                "text": message.text,
                "html": message.html,
                "stripped_text": message.stripped_text,
                "stripped_html": message.stripped_html,
                "attachments": [
                    {
                        "filename": a.get_filename(),
                        "content_type": a.get_content_type(),
                        "size": len(a.get_content_bytes()),
                    }
                    for a in message.attachments
                ],
                "inlines": {
                    cid: {"content_type": a.get_content_type(), "size": len(a.get_content_bytes())}
                    for cid, a in message.content_id_map.items()
                },
                "headers": {k: str(v) for k, v in message.items()},
            },
        }
    )


inbound.connect(on_inbound)


def _signed(request: HttpRequest) -> bool:
    timestamp = request.POST.get("timestamp", "")
    token = request.POST.get("token", "")
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, request.POST.get("signature", ""))


def scripted(request: HttpRequest, failures: int = 0, status: int = 200) -> HttpResponse:
    key = request.path
    with _lock:
        _seen[key] = _seen.get(key, 0) + 1
        count = _seen[key]
    answer = 500 if count <= failures else status
    record(
        {
            "path": request.path,
            "query": dict(request.GET),
            "status": answer,
            "signed": _signed(request),
            "fields": {k: request.POST.get(k) for k in request.POST},
            "files": {k: f.name for k, f in request.FILES.items()},
        }
    )
    return HttpResponse(status=answer)


inbound_view = MailgunInboundWebhookView.as_view()
urlpatterns = [
    path("anymail/mailgun/inbound/", inbound_view),
    path("anymail/mailgun/inbound/mime", inbound_view),
    path("flaky/<int:failures>/", scripted),
    path("reject/", scripted, {"status": 406}),
    path("notify/", scripted),
]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_Server, handler_class=_Quiet)
print(f"PORT {server.server_port}", flush=True)
server.serve_forever()
