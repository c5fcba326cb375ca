"""An example app: send one message through the Mailgun API at $MAILGUN_BASE_URL.

Standard library only; it trusts mockgun's CA through SSL_CERT_FILE, as most apps can.
"""

import base64
import json
import os
import ssl
import sys
import urllib.parse
import urllib.request

base_url = os.environ["MAILGUN_BASE_URL"]
token = base64.b64encode(f"api:{os.environ['MAILGUN_API_KEY']}".encode()).decode()
form = urllib.parse.urlencode(
    {
        "from": "App <app@example.com>",
        "to": "someone@example.com",
        "subject": "Hello from the app container",
        "text": "Sent through the mockgun sidecar over verified TLS.",
    }
).encode()
request = urllib.request.Request(
    f"{base_url}/v3/example.com/messages",
    data=form,
    headers={"Authorization": f"Basic {token}"},
)
context = ssl.create_default_context()  # honours SSL_CERT_FILE
context.minimum_version = ssl.TLSVersion.TLSv1_2
with urllib.request.urlopen(request, context=context, timeout=10) as response:  # noqa: S310
    body = json.load(response)
if body.get("message") != "Queued. Thank you.":
    sys.exit(f"unexpected answer: {body}")
print(f"sent {body['id']}")
