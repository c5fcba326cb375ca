"""Shared fixtures: real certificates, and `mockgun serve` as a process on an ephemeral port."""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import settings

from mockgun import Config, create_app
from mockgun.certs import CertPaths, ensure_certs

pytest_plugins = ["pytester"]

# HYPOTHESIS_PROFILE=long runs the property tests and fuzzers much longer than CI does.
settings.register_profile("long", max_examples=20_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DEADLINE = 15.0  # seconds a server gets to come up; generous for a loaded 2-core CI machine
_LISTENING = re.compile(r"listening on (https://\S+):(\d+) ")


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
        sys.executable, "-m", "mockgun", "serve",
        "--port", "0",
        "--certs-dir", str(certs_dir),
        "--handshake-log", str(log_path),
        "--handshake-timeout", "3",
        *args,
    ]  # fmt: skip
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


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
) -> TestClient[web.Request, web.Application]:
    """The app on its defaults, in process, for handler tests (aiohttp's test client)."""
    return await aiohttp_client(create_app(Config()))


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    """One CA and server certificate for the whole session, made by mockgun itself."""
    return ensure_certs(tmp_path_factory.mktemp("certs")).paths


@pytest.fixture(scope="session")
def mockgun_server(
    tmp_path_factory: pytest.TempPathFactory, certs: CertPaths
) -> Iterator[MockgunProcess]:
    """A server on its defaults (TLS 1.2-1.3, any key, any domain), shared by the session."""
    server = start_mockgun(tmp_path_factory.mktemp("server"), certs.directory)
    yield server
    assert server.stop() == 0


@pytest.fixture
def spawn(tmp_path: Path, certs: CertPaths) -> Iterator[Callable[..., MockgunProcess]]:
    """Start extra servers with particular options; they are stopped after the test."""
    started: list[MockgunProcess] = []

    def _spawn(*args: str, certs_dir: Path | None = None, **kw: Any) -> MockgunProcess:
        server = start_mockgun(tmp_path, certs_dir or certs.directory, *args, **kw)
        started.append(server)
        return server

    yield _spawn
    for server in started:
        server.stop()


NODE_DIR = Path(__file__).parent / "clients" / "node"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/clients/node/node_modules, installed with `npm ci` if missing; the tests that need
    it skip without Node.js and npm, unless CI is set (.ci/run installs them)."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        if os.environ.get("CI"):
            pytest.fail("Node.js and npm are missing: .ci/run installs them")
        pytest.skip("needs Node.js and npm")
    modules = NODE_DIR / "node_modules"
    if not (modules / ".package-lock.json").is_file():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300,
            capture_output=True,
        )  # fmt: skip
    return modules
