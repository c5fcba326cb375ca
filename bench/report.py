"""The handshake report on a large log: time and peak memory, against parsing alone.

Writes logs of realistic lines (a mix of clients, outcomes and a few refusals, like a long CI
run) at several sizes, then for each size runs, as separate processes:

- ``mockgun handshakes --format json --fail-on-legacy`` (the report and its gate);
- the baseline: a loop that only ``json.loads`` every line (the floor for any reader that
  looks at each record).

It prints seconds and peak RSS for both, and the ratios. Memory should not grow with the log:
the report streams it and keeps totals (and at most 1,000 failed attempts whole).

Run: ``python bench/report.py`` (sizes 100k, 300k, 1M lines; ``--sizes`` to change).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIENTS = [
    ("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6", "TLSv1.3", "TLS_AES_256_GCM_SHA384", "curl/7.88.1"),
    (
        "t13d181100_85036bcba153_d41ae481755e",
        "TLSv1.3",
        "TLS_AES_256_GCM_SHA384",
        "python-requests/2.32",
    ),
    ("t12i530900_c9b42ce68566_1f7ae294493e", "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", "Java/17"),
]
LEGACY = "t11d090600_c491f621fb4c_195413a0cc0f"
BASELINE = "import json,sys\nfor line in open(sys.argv[1],'rb'):\n    json.loads(line)\n"


def write_log(path: Path, lines: int) -> None:
    rng = random.Random(7)  # noqa: S311 - a reproducible mix, not a secret
    run = "20261203T000000Z-abcdef"
    with path.open("w") as out:
        for n in range(1, lines + 1):
            hh, mm, ss = n // 3_600_000 % 24, n // 60_000 % 60, n // 1000 % 60
            ts = f"2026-12-03T{hh:02d}:{mm:02d}:{ss:02d}.{n % 1000:03d}Z"
            record: dict[str, object] = {
                "ts": ts,
                "conn_id": n,
                "peer": f"10.0.0.{n % 250}:{40000 + n % 20000}",
            }
            if rng.random() < 0.01:
                record.update(
                    outcome="rejected",
                    client_max_version="TLSv1.1",
                    client_versions=["TLSv1.1"],
                    client_ciphers=["ECDHE-RSA-AES128-SHA", "AES128-SHA"],
                    client_sni="legacy.test",
                    ja4=LEGACY,
                    error="client offered at most TLSv1.1; this endpoint requires TLS 1.2 or newer",
                    alert_sent="protocol_version",
                )
            else:
                ja4, version, cipher, agent = rng.choice(CLIENTS)
                record.update(
                    outcome="ok",
                    client_max_version=version,
                    client_versions=["TLSv1.3", "TLSv1.2"],
                    client_ciphers=["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] * 8,
                    client_groups=["x25519", "secp256r1"],
                    client_alpn=["http/1.1"],
                    client_sni="localhost",
                    ja3="0149f47eabf9a20d0893e2a44e5a6323",
                    ja4=ja4,
                    tls_version=version,
                    cipher=cipher,
                    sni="localhost",
                    alpn="http/1.1",
                    resumed=False,
                    user_agent=agent,
                )
            record.update(duration_ms=round(rng.random() * 5, 3), run=run)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def measure(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a command run in a process of its own."""
    probe = (
        "import resource,subprocess,sys,time\n"
        "t=time.perf_counter()\n"
        "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,300000,1000000")
    args = parser.parse_args()
    heads = ("lines", "report s", "parse s", "ratio", "report MiB", "parse MiB")
    print("  ".join(f"{h:>10}" for h in heads))
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            log = Path(tmp) / f"h{size}.jsonl"
            started = time.perf_counter()
            write_log(log, size)
            made = time.perf_counter() - started
            report_s, report_mib = measure(
                [
                    sys.executable,
                    "-m",
                    "mockgun",
                    "handshakes",
                    str(log),
                    "--format",
                    "json",
                    "--fail-on-legacy",
                ]
            )
            parse_s, parse_mib = measure([sys.executable, "-c", BASELINE, str(log)])
            cells = [str(size), f"{report_s:.2f}", f"{parse_s:.2f}", f"{report_s / parse_s:.2f}x"]
            cells += [f"{report_mib:.0f}", f"{parse_mib:.0f}"]
            log_mib = log.stat().st_size / 2**20
            print(
                "  ".join(f"{c:>10}" for c in cells),
                f"({log_mib:.0f} MiB log, made in {made:.1f}s)",
            )


if __name__ == "__main__":
    main()
