"""Inspection latency at 1k, 10k and 100k stored messages and handshake records: each listing
and lookup should cost what it shows, not what is stored.

    python bench/scale.py [--sizes 1000,10000,100000] [--requests 30]

For each size, one mockgun on a background thread (``serve_in_thread``, real TLS on an
ephemeral port, nothing evicted) is filled directly on its event loop: messages through the
same path an API send takes (stored, ``accepted`` and ``delivered`` events; three domains,
twenty recipients, ten tags: every filter fills a page at every size), and as many handshake
records (1 % refused). Then a keep-alive HTTPS client asks each endpoint ``--requests``
times; the table gives the median latency per size and the ratio of the largest size to the
smallest (flat is 1.0x). Filling is not timed.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from handshakes import machine

from mockgun import Config, serve_in_thread
from mockgun.api.accept import accept_send
from mockgun.api.keys import HANDSHAKES
from mockgun.clock import now_rfc3339
from mockgun.embedded import ThreadedServer
from mockgun.mailgun.options import SendOptions
from mockgun.mailgun.send import Mailbox, SendRequest

ENDPOINTS = [
    ("messages, first page", "/mockgun/messages?limit=50"),
    ("messages, newest page (the web page)", "/mockgun/messages?limit=50&order=newest"),
    ("messages to one recipient", "/mockgun/messages?to=user7@example.com&limit=50"),
    ("messages with one tag", "/mockgun/messages?tag=t3&limit=50&order=newest"),
    ("one message's detail", "/mockgun/messages/{middle}"),
    ("events, one domain", "/v3/d0.example.com/events?limit=300"),
    ("events, one type", "/v3/d0.example.com/events?event=delivered&limit=300&ascending=yes"),
    ("events of one message", "/v3/d0.example.com/events?message-id={middle}"),
    ("handshakes, newest page", "/mockgun/handshakes?limit=50&order=newest"),
    ("handshakes, refused only", "/mockgun/handshakes?outcome=rejected&limit=50"),
    ("handshakes, a filter matching none", "/mockgun/handshakes?outcome=insecure&limit=50"),
]
CHUNK = 5000


def _send(i: int) -> SendRequest:
    return SendRequest(
        domain=f"d{i % 3}.example.com",
        endpoint="messages",
        sender="shop@example.com",
        to=(Mailbox("", f"user{i % 20}@example.com"),),
        subject=f"Order {i}",
        text="Thanks for your order.",
        options=SendOptions(tags=(f"t{i % 10}",)),
    )


def fill(server: ThreadedServer, size: int) -> str:
    """``size`` messages and handshake records; returns the bare id of the middle message."""
    app = server.server.app
    assert app is not None
    base = server.base_url
    middle = ""

    def messages(start: int, stop: int) -> str:
        ids = [accept_send(app, _send(i), base=base).bare_id for i in range(start, stop)]
        return ids[len(ids) // 2]

    def handshakes(start: int, stop: int) -> None:
        log = app[HANDSHAKES]
        for i in range(start, stop):
            record: Any = {
                "conn_id": 1_000_000 + i,
                "ts": now_rfc3339(),
                "outcome": "rejected" if i % 100 == 0 else "ok",
                "tls_version": "TLSv1.3",
                "cipher": "TLS_AES_256_GCM_SHA384",
                "client_ip": "127.0.0.1",
            }
            log.write(record)

    for start in range(0, size, CHUNK):
        stop = min(size, start + CHUNK)
        mid = server._call(functools.partial(messages, start, stop))
        if start <= size // 2 < stop:
            middle = mid
        server._call(functools.partial(handshakes, start, stop))
    return middle


def measure(server: ThreadedServer, middle: str, count: int) -> dict[str, float]:
    session = requests.Session()
    session.trust_env = False  # the server's own CA, whatever REQUESTS_CA_BUNDLE says
    session.verify = server.ca_file
    out = {}
    for name, path in ENDPOINTS:
        url = server.base_url + path.format(middle=middle)
        session.get(url, auth=("api", "k"), timeout=60).raise_for_status()  # warm (MIME built)
        times = []
        for _ in range(count):
            started = time.perf_counter()
            resp = session.get(url, auth=("api", "k"), timeout=60)
            times.append(time.perf_counter() - started)
            resp.raise_for_status()
        out[name] = statistics.median(times) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"Machine: {machine()}")
    results: dict[int, dict[str, float]] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            config = Config(
                port=0,
                certs_dir=Path(tmp) / "certs",
                handshake_log=str(Path(tmp) / "log.jsonl"),
                max_messages=0,
                max_events=0,
            )
            with serve_in_thread(config) as server:
                started = time.perf_counter()
                middle = fill(server, size)
                print(f"{size:,}: filled in {time.perf_counter() - started:.1f}s", flush=True)
                results[size] = measure(server, middle, args.requests)
    print(
        f"\n### median latency (ms) of {args.requests} requests, by messages and records stored\n"
    )
    head = " | ".join(f"{s:,}" for s in sizes)
    print(f"| endpoint | {head} | {sizes[-1]:,} / {sizes[0]:,} |")
    print("| --- |" + " --- |" * (len(sizes) + 1))
    for name, _ in ENDPOINTS:
        cells = " | ".join(f"{results[s][name]:.1f}" for s in sizes)
        ratio = results[sizes[-1]][name] / results[sizes[0]][name]
        print(f"| {name} | {cells} | **{ratio:.2f}x** |")


if __name__ == "__main__":
    main()
