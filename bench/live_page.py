"""What an open web page costs: keep-alive sends per second with and without a page watching.

    python bench/live_page.py [--rounds 7] [--seconds 3] [--connections 16]

One mockgun; rounds alternate (page, none, none, page, ...). "A page" is what the web page
does, run in a thread of this process: it reads /mockgun/stream and, like app.js, refetches
the newest 200 messages at most every 150 ms while message updates arrive, and the newest
500 handshakes and the handshake summary at most every 400 ms while handshake updates do.
Reports medians and the median of per-round ratios (watched / unwatched).
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import statistics
import tempfile
import threading
import time
from pathlib import Path

from handshakes import clear, cpu_seconds, machine, requests, serve_cmd, start

#: What app.js fetches for each kind of update, and how often at most (seconds).
PAGE_FETCHES = {
    b"message": (0.15, ["/mockgun/messages?order=newest&limit=200"]),
    b"handshake": (
        0.4,
        ["/mockgun/handshakes?order=newest&limit=500&healthchecks=0", "/mockgun/handshakes/report"],
    ),
}


class Page(threading.Thread):
    """The web page's traffic: the live stream, and the refetches it triggers."""

    def __init__(self, port: int, ca: Path) -> None:
        super().__init__(daemon=True)
        self.port, self.ctx = port, ssl.create_default_context(cafile=str(ca))
        self.stop = threading.Event()
        self.updates = self.fetches = 0

    def _connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)

    def run(self) -> None:
        stream = self._connection()
        stream.request("GET", "/mockgun/stream")
        body = stream.getresponse()
        api = self._connection()
        last_fetch = dict.fromkeys(PAGE_FETCHES, 0.0)
        while not self.stop.is_set():
            line = body.readline()
            if not line:
                return
            if not line.startswith(b"event: "):
                continue
            self.updates += 1
            kind = line[len(b"event: ") :].strip()
            if kind not in PAGE_FETCHES:
                continue
            every, paths = PAGE_FETCHES[kind]
            if time.monotonic() - last_fetch[kind] >= every:
                last_fetch[kind] = time.monotonic()
                for path in paths:
                    api.request("GET", path)
                    api.getresponse().read()
                    self.fetches += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    rates: dict[str, list[float]] = {"page": [], "none": []}
    #: mockgun's own CPU time per send (microseconds): what the page costs the server,
    #: apart from the CPU the page itself (this process) takes on a shared machine.
    cpu: dict[str, list[float]] = {"page": [], "none": []}
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        mockgun = start(
            "mockgun",
            serve_cmd(certs, Path(tmp) / "log.jsonl"),
        )
        try:
            for r in range(args.rounds):
                for watched in (True, False) if r % 2 == 0 else (False, True):
                    page = Page(mockgun.port, certs / "ca.pem") if watched else None
                    if page is not None:
                        page.start()
                    before = cpu_seconds(mockgun.proc.pid)
                    rate, sent = requests(mockgun.port, args.connections, args.seconds)
                    cpu["page" if watched else "none"].append(
                        (cpu_seconds(mockgun.proc.pid) - before) / sent * 1e6
                    )
                    if page is not None:
                        page.stop.set()
                        print(
                            f"  round {r}: page saw {page.updates} updates, {page.fetches} fetches"
                        )
                    rates["page" if watched else "none"].append(rate)
                    clear(mockgun.port, certs / "ca.pem")
        finally:
            mockgun.stop()
    ratios = [a / b for a, b in zip(rates["page"], rates["none"], strict=True)]
    print(
        f"\n### sends/s with a live page open vs none, {args.connections} connections, "
        f"{args.rounds} rounds of {args.seconds}s\n"
    )
    cpu_ratios = [a / b for a, b in zip(cpu["page"], cpu["none"], strict=True)]
    print("| | page open | no page | ratio, median of rounds (min-max) |")
    print("| --- | --- | --- | --- |")
    print(
        f"| sends/s | {statistics.median(rates['page']):.0f} | "
        f"{statistics.median(rates['none']):.0f} | "
        f"**{statistics.median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f}) |"
    )
    print(
        f"| mockgun CPU per send | {statistics.median(cpu['page']):.0f} us | "
        f"{statistics.median(cpu['none']):.0f} us | "
        f"**{statistics.median(cpu_ratios):.2f}x** ({min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}) |"
    )


if __name__ == "__main__":
    main()
