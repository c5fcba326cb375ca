"""Which client made an attempt, in words a user recognises ("curl 7", "Python requests",
"Java 17 JSSE"), for the report and the page.

Two sources, best first:

1. the ``User-Agent`` of the first request on a connection whose handshake succeeded (the
   handshake log carries it), read by :func:`label_from_user_agent`;
2. for refused clients, which never send a request, the JA4 fingerprint of their hello,
   looked up in a table mockgun ships (``client-fingerprints.json``), made by running the
   real TLS stacks (``scripts/fingerprints``; the tests rebuild it from the stacks on the
   machine and check it). A fingerprint names a TLS stack and its settings, not an app:
   every Python app on the same OpenSSL looks alike.

Anything else is ``unknown client``, said as such.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

UNKNOWN = "unknown client"

#: (pattern on the User-Agent, label; ``{1}`` is the first group). First match wins, so the
#: specific libraries come before the runtimes they are built on.
_AGENTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), label)
    for pattern, label in (
        (r"^mockgun-healthcheck", "mockgun healthcheck"),
        (r"\bdjango-anymail/", "django-anymail (Python requests)"),
        (r"\bmailgun-python/|\bmailgun/\d.*python", "Mailgun Python SDK"),
        (r"\bpython-requests/(\d+)", "Python requests {1}"),
        (r"\bpython-httpx/(\d+)", "Python httpx {1}"),
        (r"\baiohttp/(\d+)", "Python aiohttp {1}"),
        (r"\bpython-urllib3/(\d+)", "Python urllib3 {1}"),
        (r"\bPython-urllib/(\d+\.\d+)", "Python {1} urllib"),
        (r"\bcurl/(\d+)", "curl {1}"),
        (r"\bWget/(\d+)", "Wget {1}"),
        (r"\baxios/(\d+)", "Node.js axios {1} (mailgun.js)"),
        (r"\bnode-fetch/", "Node.js node-fetch"),
        (r"\bundici\b|^node$", "Node.js fetch"),
        (r"\bnodemailer", "Node.js nodemailer"),
        (r"\bokhttp/(\d+)", "Java OkHttp {1}"),
        (r"\bJava-http-client/(\d+)", "Java {1} HttpClient"),
        (r"\bJava/1\.(\d+)", "Java {1} HttpURLConnection"),
        (r"\bJava/(\d+)", "Java {1} HttpURLConnection"),
        (r"\bApache-HttpClient/(\d+)", "Java Apache HttpClient {1}"),
        (r"\bGo-http-client/", "Go net/http"),
        (r"\bGuzzleHttp/(\d+)", "PHP Guzzle {1}"),
        (r"\bFaraday v?(\d+)", "Ruby Faraday {1}"),
        (r"\brest-client/", "Ruby rest-client"),
        (r"^Ruby\b", "Ruby Net::HTTP"),
        (r"\bRestSharp/(\d+)", ".NET RestSharp {1}"),
        (r"\.NET|\bdotnet\b", ".NET"),
        (r"\bHeadlessChrome/(\d+)", "Headless Chrome {1}"),
        (r"\bEdg/(\d+)", "Edge {1}"),
        (r"\bChrome/(\d+)", "Chrome {1}"),
        (r"\bFirefox/(\d+)", "Firefox {1}"),
        (r"\bSafari/", "Safari"),
        (r"\bPostmanRuntime/", "Postman"),
        (r"\bInsomnia/", "Insomnia"),
        (r"\bhttpie/", "HTTPie"),
    )
)
_PRODUCT = re.compile(r"^([A-Za-z][\w.+-]{0,40})(?:/(\d+))?")


def label_from_user_agent(user_agent: str) -> str:
    """A short name for the client that sent ``user_agent``."""
    for pattern, label in _AGENTS:
        match = pattern.search(user_agent)
        if match is not None:
            return label.replace("{1}", match[1]) if match.groups() else label
    product = _PRODUCT.match(user_agent.strip())
    if product is None:
        return UNKNOWN
    return f"{product[1]} {product[2]}" if product[2] else product[1]


@functools.cache
def fingerprints() -> dict[str, str]:
    """The shipped table: JA4 -> what TLS stack (and settings) sends that hello."""
    text = resources.files(__package__).joinpath("client-fingerprints.json").read_text()
    table: dict[str, str] = json.loads(text)["ja4"]
    return table


def label_from_ja4(ja4: str | None) -> str | None:
    return fingerprints().get(ja4) if ja4 else None
