"""What one `mockgun healthcheck` costs, beside the least a Python health check can cost.

The container runs the check every few seconds, so its start-up time and memory are paid
again and again. Side by side, interleaved, against one running server:

- A: ``mockgun healthcheck`` (click, the CLI, verified TLS, JSON);
- B: a bare ``python -c`` that does the same request with ``http.client`` and ``ssl`` only.

Run: ``apt-get install -y time && python bench/healthcheck.py --rounds 15``. Prints medians of
wall time and peak RSS of each child process, and A/B ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from support import start_mockgun  # noqa: E402 - after the path the tests live on

BARE = """
import http.client, json, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
conn = http.client.HTTPSConnection("localhost", int(sys.argv[1]), timeout=5, context=ctx)
conn.request("GET", "/mockgun/health")
assert json.loads(conn.getresponse().read())["status"] == "ok"
"""


def run(cmd: list[str], env: dict[str, str], out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process, as GNU time sees them (the
    child's own ru_maxrss would count this interpreter: exec keeps the parent's high-water
    mark of a vfork-ed child)."""
    timed = ["/usr/bin/time", "-o", str(out), "-f", "%e %M", *cmd]
    subprocess.run(timed, env=env, stdout=subprocess.DEVNULL, check=True)
    wall, kib = out.read_text().split()[-2:]
    return float(wall), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_mockgun(Path(tmp), Path(tmp) / "certs")
        try:
            env = {
                **os.environ,
                "MOCKGUN_PORT": str(server.port),
                "MOCKGUN_CERTS_DIR": str(Path(tmp) / "certs"),
            }
            mockgun_bin = str(Path(sys.executable).parent / "mockgun")
            sides = {
                "A mockgun healthcheck": [mockgun_bin, "healthcheck"],
                "B bare http.client": [
                    sys.executable,
                    "-c",
                    BARE,
                    str(server.port),
                    str(server.ca_file),
                ],
            }
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
            for r in range(args.rounds):
                order = list(sides.items())
                if r % 2:
                    order.reverse()  # A B, B A, ...: neither side always runs first
                for name, cmd in order:
                    results[name].append(run(cmd, env, Path(tmp) / "time.out"))
        finally:
            server.stop()
    medians = {
        name: (statistics.median(w for w, _ in rs), statistics.median(m for _, m in rs))
        for name, rs in results.items()
    }
    for name, (wall, rss) in medians.items():
        print(f"{name:<24} {wall * 1000:7.1f} ms  {rss:6.1f} MiB")
    (a_wall, a_rss), (b_wall, b_rss) = medians.values()
    print(f"{'ratio A/B':<24} {a_wall / b_wall:7.2f}x    {a_rss / b_rss:6.2f}x")


if __name__ == "__main__":
    main()
