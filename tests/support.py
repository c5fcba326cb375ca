"""What the tests share besides fixtures: starting `mockgun serve` as a process, polling with a
deadline, reading the handshake log, and HTTP helpers. Test modules import it as ``support``;
``conftest.py`` holds only fixtures."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestClient

from mockgun.cli import main

#: aiohttp's in-process test client for mockgun's app.
Client = TestClient[web.Request, web.Application]
NODE_DIR = Path(__file__).parent / "clients" / "node"

DEADLINE = 15.0  # seconds a server gets to come up; generous for a loaded 2-core CI machine
_LISTENING = re.compile(r"listening on (https://\S+):(\d+) ")


ROOT = Path(__file__).resolve().parent.parent
#: The published contract of a handshake-log line.
LOG_SCHEMA = json.loads((ROOT / "docs" / "handshake-log.schema.json").read_text())
_LOG_VALIDATOR = jsonschema.Draft202012Validator(LOG_SCHEMA)


def assert_log_schema(lines: list[dict[str, Any]]) -> None:
    """Every line is valid against docs/handshake-log.schema.json (all errors named)."""
    problems = [
        f"line {n}: {error.message} ({line})"
        for n, line in enumerate(lines, start=1)
        for error in _LOG_VALIDATOR.iter_errors(line)
    ]
    assert not problems, "\n".join(problems[:20])


def require_tool(name: str) -> str:
    """The path of a client program the test runs: skipped where it is missing, unless CI is
    set (.ci/run installs every one)."""
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return exe


def wait_for(predicate: Callable[[], Any], *, timeout: float = DEADLINE, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.01)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The finished lines of a handshake log. A reader can catch a line while its write(2) is
    still copying it in; like `mockgun handshakes`, skip a last line without its newline."""
    if not path.exists():
        return []
    *complete, _partial = path.read_bytes().split(b"\n")
    return [json.loads(line) for line in complete if line]


@dataclass
class MockgunProcess:
    """``python -m mockgun serve`` running in a child process."""

    proc: subprocess.Popen[str]
    base_url: str
    port: int
    ca_file: Path
    log_path: Path
    stdout_lines: list[str] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)

    def handshakes(self) -> list[dict[str, Any]]:
        return read_jsonl(self.log_path)

    def wait_handshakes(self, count: int) -> list[dict[str, Any]]:
        """The first ``count`` handshake lines, once the server has written them."""
        lines = wait_for(
            lambda: (h := self.handshakes()) and len(h) >= count and h,
            what=f"{count} handshake log lines",
        )
        return list(lines)

    def line_for(self, sock_name: tuple[str, int]) -> dict[str, Any]:
        """The log line of the connection a client socket named ``sock_name`` made: the newest
        line for that address and port from the last two minutes (a session's shared server
        sees thousands of connections, and the kernel reuses client ports)."""
        peer = f"{sock_name[0]}:{sock_name[1]}"

        def recent(line: dict[str, Any]) -> bool:
            started = dt.datetime.fromisoformat(str(line["ts"]).replace("Z", "+00:00"))
            return time.time() - started.timestamp() < 120

        def find() -> dict[str, Any] | None:
            mine = [h for h in self.handshakes() if h["peer"] == peer and recent(h)]
            return mine[-1] if mine else None

        found: dict[str, Any] = wait_for(find, what=f"the log line of {peer}")
        return found

    def curl(self, path: str, *args: str) -> str:
        """``curl PATH`` against this server (trusting its CA); its output."""
        exe = require_tool("curl")
        done = subprocess.run(
            [exe, "-sS", "--cacert", str(self.ca_file), *args, f"{self.base_url}{path}"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done.stdout

    def client_context(self, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if version is not None:
            ctx.minimum_version = ctx.maximum_version = version
        return ctx

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def _drain(stream: Any, sink: list[str]) -> None:
    for line in stream:
        sink.append(line)


def start_mockgun(
    tmp_path: Path,
    certs_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    **popen_kwargs: Any,
) -> MockgunProcess:
    log_path = tmp_path / f"handshakes-{time.monotonic_ns()}.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "mockgun",
        "serve",
        "--port",
        "0",
        "--certs-dir",
        str(certs_dir),
        "--handshake-log",
        str(log_path),
        "--handshake-timeout",
        "3",
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **popen_kwargs,
    )
    assert proc.stdout is not None and proc.stderr is not None
    stdout: list[str] = []
    stderr: list[str] = []
    threading.Thread(target=_drain, args=(proc.stderr, stderr), daemon=True).start()
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + DEADLINE
    match = None
    while match is None:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"mockgun did not start: {''.join(stdout)}{''.join(stderr)}")
        if selector.select(timeout=0.1):
            line = proc.stdout.readline()
            stdout.append(line)
            match = _LISTENING.search(line)
    selector.close()
    threading.Thread(target=_drain, args=(proc.stdout, stdout), daemon=True).start()
    return MockgunProcess(
        proc=proc,
        base_url=f"{match.group(1)}:{match.group(2)}",
        port=int(match.group(2)),
        ca_file=certs_dir / "ca.pem",
        log_path=log_path,
        stdout_lines=stdout,
        stderr_lines=stderr,
    )


def basic(user: str, password: str) -> dict[str, str]:
    """An ``Authorization`` header for HTTP Basic auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic("api", "key-test")


def inspect_json(base_url: str, ca_file: Path, path: str, key: str) -> Any:
    """GET an inspection endpoint of a server started with ``--api-key key``, as JSON."""
    resp = requests.get(f"{base_url}{path}", auth=("api", key), verify=str(ca_file), timeout=10)
    resp.raise_for_status()
    return resp.json()


def tls_attempt(server: MockgunProcess, version: ssl.TLSVersion, sni: str = "localhost") -> None:
    """One handshake at exactly ``version`` (a legacy one really offered, and refused)."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    ctx.minimum_version = ctx.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that Python really offers TLS 1.0/1.1
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        try:
            ctx.wrap_socket(sock, server_hostname=sni).close()
        except ssl.SSLError:
            assert version < ssl.TLSVersion.TLSv1_2


def run_report(log: Path, *flags: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``mockgun handshakes LOG FLAGS...`` in process: (exit code, stdout, stderr)."""
    code = main(["handshakes", str(log), *flags])
    out, err = capsys.readouterr()
    return code, out, err


def run_node(node: str, server: MockgunProcess, script: str, *args: str) -> dict[str, Any]:
    """Run one of tests/clients/node's scripts against ``server``; its last line, as JSON."""
    out = subprocess.run(
        [node, str(NODE_DIR / script), server.base_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(server.ca_file)},
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))
