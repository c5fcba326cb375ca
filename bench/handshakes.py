"""mockgun's listener vs a plain aiohttp ``TCPSite``: full handshakes/s and keep-alive requests/s.

Both servers run the same app with the same certificates and TLS policy; mockgun
also peeks at every ClientHello and writes a full handshake-log line. Rounds are
interleaved (A B, B A, ...) in one run, each load bounded in time, loopback only;
the result is the median of the per-round ratios mockgun / plain.

    python bench/handshakes.py [--rounds 7] [--seconds 3]

Needs ``openssl`` (s_time -new: one full handshake after another) and ``wrk``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mockgun.certs import ensure_certs

HERE = Path(__file__).resolve().parent
_LISTENING = re.compile(r"listening on https://127\.0\.0\.1:(\d+) ")


@dataclass
class Target:
    name: str
    proc: subprocess.Popen[str]
    port: int

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve_cmd(certs: Path, log: Path, *options: str) -> list[str]:
    """``mockgun serve`` on a free port with these certificates and log (benchmarks share it)."""
    base = [sys.executable, "-m", "mockgun", "serve", "--port", "0", "--certs-dir", str(certs)]
    return [*base, "--handshake-log", str(log), *options]


def start(name: str, cmd: list[str]) -> Target:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if match := _LISTENING.search(line):
            subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)  # drain
            return Target(name, proc, int(match.group(1)))
    proc.kill()
    raise SystemExit(f"{name} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def handshakes(port: int, version: str, seconds: int) -> tuple[float, int]:
    """Full new handshakes per second, and how many were made."""
    started = time.perf_counter()
    out = subprocess.run(
        [
            "openssl",
            "s_time",
            "-connect",
            f"127.0.0.1:{port}",
            "-new",
            f"-{version}",
            "-time",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    match = re.search(r"(\d+) connections in ([\d.]+)s", out)
    if not match:
        raise SystemExit(f"unexpected s_time output: {out[-500:]}")
    # s_time's own "real seconds" are whole seconds; time the run here instead.
    count = int(match.group(1))
    return count / (time.perf_counter() - started), count


@dataclass(frozen=True)
class WrkResult:
    rate: float  # requests per second
    total: int
    p99_ms: float  # the 99th percentile of latency


def run_wrk(port: int, connections: int, seconds: int, script: str = "post.lua") -> WrkResult:
    """Keep-alive requests made by ``script`` (a wrk script under bench/) for ``seconds``."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(HERE / script),
            f"https://127.0.0.1:{port}/v3/example.com/messages",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    if not match or not total or not p99 or "Non-2xx" in out:
        raise SystemExit(f"unexpected wrk output: {out[-800:]}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return WrkResult(float(match.group(1)), int(total.group(1)), float(p99.group(1)) * scale)


def requests(
    port: int, connections: int, seconds: int, script: str = "post.lua"
) -> tuple[float, int]:
    """Keep-alive requests per second, and how many were made (``script``: the wrk script
    under bench/ that makes each request)."""
    result = run_wrk(port, connections, seconds, script)
    return result.rate, result.total


def clear(port: int, ca: Path) -> None:
    ctx = ssl.create_default_context(cafile=str(ca))
    req = urllib.request.Request(f"https://127.0.0.1:{port}/mockgun/messages", method="DELETE")
    urllib.request.urlopen(req, context=ctx, timeout=10).read()  # noqa: S310 - loopback


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}, {openssl}"
    )


def run_pair(mockgun_loop: str, plain_loop: str, rounds: int, seconds: int, tmp: Path) -> None:
    certs = tmp / "certs"
    mockgun = start(
        f"mockgun ({mockgun_loop})",
        serve_cmd(certs, tmp / "bench-handshakes.jsonl", "--event-loop", mockgun_loop),
    )
    plain = start(
        f"plain TCPSite ({plain_loop})",
        [sys.executable, str(HERE / "plain_server.py"), str(certs), plain_loop],
    )
    metrics: dict[str, Callable[[int], tuple[float, int]]] = {
        "full handshakes TLS 1.2": lambda port: handshakes(port, "tls1_2", seconds),
        "full handshakes TLS 1.3": lambda port: handshakes(port, "tls1_3", seconds),
        "keep-alive POSTs, 16 conns": lambda port: requests(port, 16, seconds),
    }
    # Per metric and side: operations per second, and server CPU microseconds per operation.
    rate: dict[str, dict[str, list[float]]] = {m: {"a": [], "b": []} for m in metrics}
    cpu: dict[str, dict[str, list[float]]] = {m: {"a": [], "b": []} for m in metrics}
    try:
        for r in range(rounds):
            order = [("a", mockgun), ("b", plain)]
            if r % 2:
                order.reverse()  # A B, B A, ...: neither side always runs first
            for metric, measure in metrics.items():
                for key, target in order:
                    before = cpu_seconds(target.proc.pid)
                    per_second, count = measure(target.port)
                    used = cpu_seconds(target.proc.pid) - before
                    rate[metric][key].append(per_second)
                    cpu[metric][key].append(used / count * 1e6)
                    clear(target.port, certs / "ca.pem")
    finally:
        mockgun.stop()
        plain.stop()
    print(f"\n### {mockgun.name} vs {plain.name}, {rounds} rounds of {seconds}s\n")
    print(
        "| metric | mockgun /s | plain /s | throughput ratio, median (min-max) "
        "| server CPU us/op, mockgun / plain | CPU ratio, median |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for metric in metrics:
        a, b = rate[metric]["a"], rate[metric]["b"]
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        ca, cb = cpu[metric]["a"], cpu[metric]["b"]
        cpu_ratios = [x / y for x, y in zip(ca, cb, strict=True)]
        print(
            f"| {metric} | {statistics.median(a):.0f} | {statistics.median(b):.0f} | "
            f"**{statistics.median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f}) | "
            f"{statistics.median(ca):.0f} / {statistics.median(cb):.0f} | "
            f"{statistics.median(cpu_ratios):.2f}x |"
        )


def ceiling(rounds: int, seconds: int, tmp: Path) -> None:
    """``openssl s_server`` (C, one connection at a time): the most this machine does."""
    paths = ensure_certs(tmp / "certs").paths
    with socket.socket() as probe:  # a free port for s_server, which cannot pick its own
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            f"127.0.0.1:{port}",
            "-cert",
            str(paths.server_cert),
            "-key",
            str(paths.server_key),
            "-www",
            "-quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        print(f"\n### openssl s_server (C), the ceiling, {rounds} rounds of {seconds}s\n")
        print("| metric | s_server /s | server CPU us/op |")
        print("| --- | --- | --- |")
        for version in ("tls1_2", "tls1_3"):
            per_second, per_op = [], []
            for _ in range(rounds):
                before = cpu_seconds(server.pid)
                rate, count = handshakes(port, version, seconds)
                per_second.append(rate)
                per_op.append((cpu_seconds(server.pid) - before) / count * 1e6)
            print(
                f"| full handshakes {version.replace('tls1_', 'TLS 1.')} | "
                f"{statistics.median(per_second):.0f} | {statistics.median(per_op):.0f} |"
            )
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument(
        "--pairs",
        default="asyncio:asyncio,uvloop:uvloop,uvloop:asyncio",
        help="mockgun-loop:plain-loop pairs to compare",
    )
    args = parser.parse_args()
    for tool in ("openssl", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install {tool})")
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for pair in args.pairs.split(","):
            mockgun_loop, plain_loop = pair.split(":")
            run_pair(mockgun_loop, plain_loop, args.rounds, args.seconds, Path(tmp))
        ceiling(args.rounds, args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
