"""Fixtures: real certificates, `mockgun serve` as a process on an ephemeral port, the app in
process, and the Node clients. Helpers the tests import live in support.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from support import NODE_DIR, Client, MockgunProcess, assert_log_schema, start_mockgun

from mockgun import Config, create_app
from mockgun.certs import CertPaths, ensure_certs

pytest_plugins = ["pytester"]

# HYPOTHESIS_PROFILE=long runs the property tests and fuzzers much longer than CI does.
settings.register_profile("long", max_examples=20_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> Client:
    """The app on its defaults, in process, for handler tests (aiohttp's test client)."""
    return await aiohttp_client(create_app(Config()))


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    """One CA and server certificate for the whole session, made by mockgun itself."""
    return ensure_certs(tmp_path_factory.mktemp("certs")).paths


@pytest.fixture(scope="session")
def mockgun_process(
    tmp_path_factory: pytest.TempPathFactory, certs: CertPaths
) -> Iterator[MockgunProcess]:
    """A server on its defaults (TLS 1.2-1.3, any key, any domain), shared by the session."""
    server = start_mockgun(tmp_path_factory.mktemp("server"), certs.directory)
    yield server
    assert server.stop() == 0
    assert_log_schema(server.handshakes())  # every real line the session wrote


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
    for server in started:
        assert_log_schema(server.handshakes())


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
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            timeout=300,
            capture_output=True,
        )
    return modules
