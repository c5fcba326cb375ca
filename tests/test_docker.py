"""The container image and the compose example, built and run for real (pytest -m docker).

Skipped only when no Docker engine can be had and CI is not set; with CI=true they never skip.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import read_jsonl, wait_for

from mockgun._version import __version__

# Building the image (and a base image where no registry answers) takes minutes.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "python:3.12-slim"


def docker_binary() -> str | None:
    # Debian's docker.io client matches its engine; another client on PATH may be newer.
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Docker is needed in CI: {reason} (.ci/run installs and starts it)")
    pytest.skip(reason)


def run(*args: str, timeout: float = 600, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="session")
def docker() -> str:
    exe = docker_binary()
    if exe is None:
        unavailable("no docker client")
    assert exe is not None
    if run(exe, "info", timeout=30).returncode != 0:
        unavailable("no Docker engine answers")
    return exe


@pytest.fixture(scope="session")
def base_image(docker: str) -> str:
    base = os.environ.get("MOCKGUN_DOCKER_BASE", DEFAULT_BASE)
    if run(docker, "image", "inspect", base).returncode == 0:
        return base
    if run(docker, "pull", base).returncode == 0:
        return base
    local = "mockgun-local-base:bookworm"
    if shutil.which("debootstrap") and os.geteuid() == 0:
        result = run(
            "bash",
            str(ROOT / "docker" / "local-base.sh"),
            local,
            env={**os.environ, "DOCKER": docker},
        )
        if result.returncode == 0:
            return local
    unavailable(f"{base} cannot be pulled and no local base image can be made")
    return local


@pytest.fixture(scope="session")
def image(docker: str, base_image: str) -> Iterator[str]:
    tag = f"mockgun-test:{uuid.uuid4().hex[:8]}"
    cmd = [
        docker,
        "build",
        "-f",
        "docker/Dockerfile",
        "--build-arg",
        f"BASE_IMAGE={base_image}",
        "--build-arg",
        f"VERSION={__version__}",
        "-t",
        tag,
    ]
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if bundle.exists():  # lets pip in the build verify the index behind an intercepting proxy
        cmd += ["--secret", f"id=ca-bundle,src={bundle}"]
    result = run(*cmd, ".", cwd=ROOT, env={**os.environ, "DOCKER_BUILDKIT": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    size = int(run(docker, "image", "inspect", "-f", "{{.Size}}", tag).stdout.strip())
    label = '{{index .Config.Labels "org.opencontainers.image.version"}}'
    assert run(docker, "image", "inspect", "-f", label, tag).stdout.strip() == __version__
    print(f"\nimage {tag} built from {base_image}: {size / 1e6:.0f} MB")
    yield tag
    run(docker, "rmi", "-f", tag)


def plain_dir(path: Path) -> Path:
    """A folder as a user makes one: ``mkdir``, owned by whoever runs the tests, mode 755 (the
    container takes it over for its uid 10001 itself)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def handshake_lines(log: Path) -> list[dict[str, Any]]:
    return read_jsonl(log)


def test_container_serves_tls12_refuses_tls10_and_stops_cleanly(
    docker: str, image: str, tmp_path: Path
) -> None:
    certs, logs = plain_dir(tmp_path / "certs"), plain_dir(tmp_path / "logs")
    templates = plain_dir(tmp_path / "templates")  # templates made in the dashboard, as files
    (templates / "welcome.hbs").write_text("---\nSubject: Hi {{name}}\n---\n<p>Hi {{name}}</p>")
    (templates / "welcome.hbs").chmod(0o644)
    name = f"mockgun-test-{uuid.uuid4().hex[:8]}"
    started = run(
        docker,
        "run",
        "-d",
        "--name",
        name,
        "-p",
        "127.0.0.1::8443",
        "-v",
        f"{certs}:/certs",
        "-v",
        f"{logs}:/logs",
        "-v",
        f"{templates}:/templates:ro",
        "-e",
        "MOCKGUN_TEMPLATES=/templates",
        "-e",
        "MOCKGUN_HOSTNAME=mockgun",
        image,
    )
    assert started.returncode == 0, started.stderr
    try:
        port = int(run(docker, "port", name, "8443").stdout.split(":")[-1])

        def healthy() -> bool:
            status = run(docker, "inspect", "-f", "{{.State.Health.Status}}", name).stdout
            return status.strip() == "healthy"

        wait_for(healthy, timeout=90, what="the container to be healthy")
        ca = certs / "ca.pem"
        assert (certs / "server.key").stat().st_mode & 0o777 == 0o600

        # A message from the host over TLS 1.2, verifying the CA from the volume.
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2

        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        conn.request(
            "POST",
            "/v3/example.com/messages",
            body="from=a%40example.com&to=b%40example.com&subject=hi&text=hello",
            headers={
                "Authorization": "Basic YXBpOmtleQ==",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        resp = conn.getresponse()
        assert (resp.status, json.loads(resp.read())["message"]) == (200, "Queued. Thank you.")
        assert conn.sock is not None and conn.sock.version() == "TLSv1.2"
        # A template from the mounted folder renders as it does outside the container.
        conn.request(
            "POST",
            "/v3/example.com/messages",
            body="from=a%40example.com&to=b%40example.com&template=welcome&v%3Aname=Ann",
            headers={
                "Authorization": "Basic YXBpOmtleQ==",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        sent = json.loads(conn.getresponse().read())["id"].strip("<>")
        conn.request("GET", f"/mockgun/messages/{sent}")
        rendered = json.loads(conn.getresponse().read())
        assert (rendered["subject"], rendered["html"]) == ("Hi Ann", "<p>Hi Ann</p>")
        # The web page is in the image (package data), on the same port and connection.
        for path, marker in (("/mockgun/", b"/mockgun/ui/app.js"), ("/mockgun/ui/app.js", b"")):
            conn.request("GET", path)
            page = conn.getresponse()
            assert page.status == 200 and marker in page.read()
        conn.close()
        # A browser tab left open (its live stream) must not hold up `docker stop`.
        watcher = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        watcher.request("GET", "/mockgun/stream")
        assert watcher.getresponse().readline().startswith(b"retry: ")

        # A TLS 1.0 client is refused with an alert, and the attempt is in the log on the host.
        legacy = ssl.create_default_context(cafile=str(ca))
        legacy.minimum_version = legacy.maximum_version = ssl.TLSVersion.TLSv1
        legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
            pytest.raises(ssl.SSLError, match="TLSV1_ALERT_PROTOCOL_VERSION"),
        ):
            legacy.wrap_socket(sock, server_hostname="mockgun")
        log = logs / "mockgun-handshakes.jsonl"
        rejected = wait_for(
            lambda: [x for x in handshake_lines(log) if x["outcome"] == "rejected"],
            what="the rejected line in the host's log",
        )
        assert rejected[0]["client_max_version"] == "TLSv1.0"

        # The GitHub Actions recipe's gate: the report inside the running container.
        inside = run(docker, "exec", name, "mockgun", "handshakes", "--fail-on-legacy")
        assert inside.returncode == 1 and "TLSv1.0" in inside.stdout, inside.stdout

        # docker stop: exit 0 within 2 s, with the log complete.
        before = time.monotonic()
        assert run(docker, "stop", "-t", "10", name).returncode == 0
        assert time.monotonic() - before < 2
        assert run(docker, "inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
        lines = handshake_lines(log)
        assert any(x.get("healthcheck") for x in lines)
        assert [
            x["tls_version"] for x in lines if x["outcome"] == "ok" and not x.get("healthcheck")
        ] == ["TLSv1.2", "TLSv1.2"]  # the sends (and page), the stream
        watcher.close()
        # One image, every command: the gate runs from it, against the log on the volume.
        gate = run(
            docker, "run", "--rm", "-v", f"{logs}:/logs", image, "handshakes", "--fail-on-legacy"
        )
        assert gate.returncode == 1, gate.stdout + gate.stderr
        assert "TLSv1.0" in gate.stdout
    finally:
        run(docker, "rm", "-f", "-v", name)


def test_a_read_only_certs_mount_fails_at_once_naming_it(
    docker: str, image: str, tmp_path: Path
) -> None:
    certs = plain_dir(tmp_path / "certs")
    started = time.monotonic()
    result = run(docker, "run", "--rm", "-v", f"{certs}:/certs:ro", image)
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    message = result.stderr
    assert "cannot write /certs/" in message and "Read-only file system" in message, message
    assert "/certs is owned by uid" in message and "mockgun runs as uid 10001" in message


def test_an_unwritable_log_folder_makes_the_container_unhealthy(
    docker: str, image: str, tmp_path: Path
) -> None:
    logs = plain_dir(tmp_path / "logs")
    name = f"mockgun-test-{uuid.uuid4().hex[:8]}"
    started = run(docker, "run", "-d", "--name", name, "-v", f"{logs}:/logs:ro", image)
    assert started.returncode == 0, started.stderr
    try:

        def answered() -> subprocess.CompletedProcess[str] | None:
            check = run(docker, "exec", name, "mockgun", "healthcheck")
            return check if "answered" in check.stdout else None

        # The container's own HEALTHCHECK command, asked directly (not 15 s apart).
        check = wait_for(answered, what="the server to answer its health check")
        assert check.returncode == 1
        assert "unhealthy" in check.stdout and "503" in check.stdout
        assert "the handshake log /logs/mockgun-handshakes.jsonl cannot be written" in check.stdout
    finally:
        run(docker, "rm", "-f", "-v", name)


def test_compose_example_app_sends_through_the_sidecar(
    docker: str, image: str, tmp_path: Path
) -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        unavailable("docker-compose is not installed")
    assert compose is not None
    logs = plain_dir(tmp_path / "logs")
    project = f"mockgun{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "MOCKGUN_IMAGE": image,
        "MOCKGUN_LOGS_DIR": str(logs),
        "MOCKGUN_HOST_PORT": "0",
    }
    base = [compose, "-f", str(ROOT / "docker" / "compose.yaml"), "-p", project]
    try:
        result = run(
            *base,
            "up",
            "--no-build",
            "--abort-on-container-exit",
            "--exit-code-from",
            "app",
            env=env,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "sent <" in result.stdout
        assert "mockgun handshake report:" in result.stdout  # the gate ran, and passed
        lines = handshake_lines(logs / "mockgun-handshakes.jsonl")
        app = [x for x in lines if not x.get("healthcheck")]
        assert [(x["outcome"], x["sni"]) for x in app] == [("ok", "mockgun")]
    finally:
        run(*base, "down", "-v", "--remove-orphans", env=env)
