"""SMTP door throughput beside the HTTPS API: messages/s over one kept session and with a new
session (a new TLS handshake) per message.

    python bench/smtp.py [--rounds 3] [--seconds 3]

One ``mockgun serve --smtp-port 0``; one client (Python's smtplib and http.client, which are
what many apps use), sequential, interleaved rounds, the store cleared after each. The same
small message each time: SMTP over STARTTLS with AUTH, against ``POST /v3/{domain}/messages``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import re
import smtplib
import ssl
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from handshakes import clear, machine, serve_cmd, start

MESSAGE = b"From: shop@example.com\r\nTo: ann@example.com\r\nSubject: bench\r\n\r\nhello\r\n"
FORM = urllib.parse.urlencode(
    {"from": "shop@example.com", "to": "ann@example.com", "subject": "bench", "text": "hello"}
)
AUTH = "Basic " + base64.b64encode(b"api:key-bench").decode()


def rate(seconds: float, one: Callable[[], None]) -> float:
    done, began = 0, time.monotonic()
    while time.monotonic() - began < seconds:
        one()
        done += 1
    return done / (time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        cmd = serve_cmd(certs, Path(tmp) / "log.jsonl", "--smtp-port", "0")
        server = start("mockgun", cmd)
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        try:
            smtp_port = _smtp_port(server.port, ctx)
            kept = smtplib.SMTP("localhost", smtp_port, timeout=10)
            kept.starttls(context=ctx)
            kept.login("postmaster@example.com", "pw")
            https = http.client.HTTPSConnection("localhost", server.port, context=ctx, timeout=10)

            def smtp_kept() -> None:
                kept.sendmail("shop@example.com", ["ann@example.com"], MESSAGE)

            def smtp_new() -> None:
                with smtplib.SMTP("localhost", smtp_port, timeout=10) as smtp:
                    smtp.starttls(context=ctx)
                    smtp.login("postmaster@example.com", "pw")
                    smtp.sendmail("shop@example.com", ["ann@example.com"], MESSAGE)

            def api(connection: http.client.HTTPSConnection) -> None:
                connection.request(
                    "POST",
                    "/v3/example.com/messages",
                    body=FORM,
                    headers={
                        "Authorization": AUTH,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
                connection.getresponse().read()

            def api_new() -> None:
                connection = http.client.HTTPSConnection(
                    "localhost", server.port, context=ctx, timeout=10
                )
                api(connection)
                connection.close()

            kinds: dict[str, Callable[[], None]] = {
                "smtp, kept session": smtp_kept,
                "https, kept connection": lambda: api(https),
                "smtp, new STARTTLS session each": smtp_new,
                "https, new connection each": api_new,
            }
            rates: dict[str, list[float]] = {k: [] for k in kinds}
            for r in range(args.rounds):
                for name in list(kinds) if r % 2 == 0 else list(reversed(kinds)):
                    rates[name].append(rate(args.seconds, kinds[name]))
                    clear(server.port, certs / "ca.pem")
            kept.quit()
        finally:
            server.stop()
    print(f"\n### messages/s, one sequential client, {args.rounds} rounds of {args.seconds:g}s\n")
    print("| how | messages/s (median) | min-max |")
    print("| --- | --- | --- |")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f}-{max(values):.0f} |")
    kept_ratio = statistics.median(rates["smtp, kept session"]) / statistics.median(
        rates["https, kept connection"]
    )
    new_ratio = statistics.median(rates["smtp, new STARTTLS session each"]) / statistics.median(
        rates["https, new connection each"]
    )
    print(f"\nSMTP / HTTPS: **{kept_ratio:.2f}x** kept, **{new_ratio:.2f}x** new each time.")


def _smtp_port(port: int, ctx: ssl.SSLContext) -> int:
    connection = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    connection.request("GET", "/mockgun/health")
    body = connection.getresponse().read().decode()
    found = re.search(r'"starttls": (\d+)', body)
    if found is None:
        raise SystemExit("the server reports no SMTP port in /mockgun/health")
    return int(found.group(1))


if __name__ == "__main__":
    main()
