"""The real TLS stacks of this machine, each run against mockgun in the settings that matter
(its defaults, and capped at TLS 1.1 / 1.0 as a legacy app would be), to learn the JA4 each
one sends: the table behind ``mockgun/tls/client-fingerprints.json``.

``python tests/clients/stacks.py --write`` rebuilds the table (``scripts/fingerprints``);
``tests/test_client_names.py`` runs the same stacks and checks the shipped table names them.
A stack missing here is left out (its rows of the table stay as they are).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TABLE = ROOT / "mockgun" / "tls" / "client-fingerprints.json"
LEGACY_SECURITY = "jdk.tls.disabledAlgorithms=SSLv3, RC4\n"


@dataclass(frozen=True)
class Stack:
    label: str
    #: Runs one attempt against (port, CA file, scratch dir).
    run: Callable[[int, str, Path], object]
    needs: str = ""


def _quiet(args: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(
        args,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _version(args: list[str], pattern: str) -> str:
    exe = shutil.which(args[0])
    if exe is None:
        return "?"
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    match = re.search(pattern, done.stdout + done.stderr)
    return match[1] if match else "?"


def _python(maximum: ssl.TLSVersion | None) -> Callable[[int, str, Path], object]:
    def run(port: int, ca: str, _: Path) -> None:
        ctx = ssl.create_default_context(cafile=ca)
        if maximum is not None:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = maximum
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # else OpenSSL 3 offers no TLS 1.0/1.1
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
            contextlib.suppress(ssl.SSLError),
        ):
            ctx.wrap_socket(sock, server_hostname="localhost").close()

    return run


def _curl(*args: str) -> Callable[[int, str, Path], object]:
    def run(port: int, ca: str, _: Path) -> None:
        _quiet(["curl", "-s", "--cacert", ca, *args, f"https://localhost:{port}/mockgun/health"])

    return run


def _s_client(*args: str) -> Callable[[int, str, Path], object]:
    def run(port: int, ca: str, _: Path) -> None:
        _quiet(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca, *args])

    return run


def _java(protocol: str) -> Callable[[int, str, Path], object]:
    def run(port: int, _ca: str, tmp: Path) -> None:
        security = tmp / "legacy.security"
        security.write_text(LEGACY_SECURITY)
        probe = HERE / "java" / "TlsProbe.java"
        args = [f"-Djava.security.properties={security}", str(probe)]
        _quiet(["java", *args, "127.0.0.1", str(port), protocol])

    return run


def _gnutls(priority: str) -> Callable[[int, str, Path], object]:
    def run(port: int, ca: str, _: Path) -> None:
        args = ["--port", str(port), "--x509cafile", ca, "--priority", priority, "localhost"]
        _quiet(["gnutls-cli", *args])

    return run


def _go(maximum: str) -> Callable[[int, str, Path], object]:
    def run(port: int, ca: str, tmp: Path) -> None:
        binary = tmp / "tlsprobe"
        if not binary.exists():
            env = {"GOCACHE": str(tmp / "gocache"), "HOME": str(tmp)}
            subprocess.run(
                ["go", "build", "-o", str(binary), str(HERE / "go" / "tlsprobe.go")],
                check=True,
                env={**os.environ, **env},
                timeout=300,
            )
        _quiet([str(binary), "-addr", f"127.0.0.1:{port}", "-max", maximum, "-ca", ca])

    return run


def _node(options: str) -> Callable[[int, str, Path], object]:
    def run(port: int, ca: str, _: Path) -> None:
        script = (
            "const tls=require('tls');const s=tls.connect({host:'127.0.0.1',port:"
            f"{port},servername:'localhost',ca:require('fs').readFileSync('{ca}'),{options}}},"
            "()=>s.end());s.on('error',()=>{});"
        )
        _quiet(["node", "-e", script])

    return run


def stacks() -> list[Stack]:
    openssl = _version(["openssl", "version"], r"OpenSSL (\d+\.\d+)")
    py = f"Python {sys.version_info.major}.{sys.version_info.minor} ssl / OpenSSL {openssl}"
    curl = _version(["curl", "--version"], r"curl (\d+\.\d+)")
    java = _version(["java", "-version"], r'version "(\d+)')
    gnutls = _version(["gnutls-cli", "--version"], r"gnutls-cli (\d+\.\d+)")
    go = _version(["go", "version"], r"go(\d+\.\d+)")
    node = _version(["node", "--version"], r"v(\d+)")
    t11 = ssl.TLSVersion.TLSv1_1
    return [
        Stack(py, _python(None)),
        Stack(f"{py}, capped at TLS 1.1", _python(t11)),
        Stack(f"{py}, TLS 1.0 only", _python(ssl.TLSVersion.TLSv1)),
        Stack(f"curl {curl} / OpenSSL {openssl}", _curl(), "curl"),
        Stack(
            f"curl {curl} / OpenSSL {openssl}, capped at TLS 1.1",
            _curl("--tlsv1.0", "--tls-max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0"),
            "curl",
        ),
        Stack(f"openssl s_client {openssl}", _s_client(), "openssl"),
        Stack(
            f"openssl s_client {openssl}, TLS 1.1",
            _s_client("-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"),
            "openssl",
        ),
        Stack(f"Java {java} JSSE", _java("TLSv1.3"), "java"),
        Stack(f"Java {java} JSSE, TLS 1.2 only", _java("TLSv1.2"), "java"),
        Stack(f"Java {java} JSSE, TLS 1.1", _java("TLSv1.1"), "java"),
        Stack(f"Java {java} JSSE, TLS 1.0", _java("TLSv1"), "java"),
        Stack(f"GnuTLS {gnutls}", _gnutls("NORMAL"), "gnutls-cli"),
        Stack(f"GnuTLS {gnutls}, TLS 1.1", _gnutls("NORMAL:-VERS-ALL:+VERS-TLS1.1"), "gnutls-cli"),
        Stack(f"Go {go} crypto/tls", _go("1.3"), "go"),
        Stack(f"Go {go} crypto/tls, capped at TLS 1.1", _go("1.1"), "go"),
        Stack(f"Node.js {node} tls", _node(""), "node"),
        Stack(
            f"Node.js {node} tls, capped at TLS 1.1",
            _node("minVersion:'TLSv1',maxVersion:'TLSv1.1',ciphers:'DEFAULT:@SECLEVEL=0'"),
            "node",
        ),
    ]


def collect(only_available: bool = True) -> dict[str, str]:
    """JA4 -> label for every stack this machine has (labels joined when two stacks send the
    same hello)."""
    from mockgun import serve_in_thread  # noqa: PLC0415 - tests import this module too

    found: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread() as server:
        for stack in stacks():
            if only_available and stack.needs and shutil.which(stack.needs) is None:
                continue
            before = len(server.handshakes())
            stack.run(server.port, server.ca_file, Path(tmp))
            lines = _wait_for_more(server, before)
            for line in lines:
                ja4 = line.get("ja4")
                if ja4 and stack.label not in found.setdefault(ja4, []):
                    found[ja4].append(stack.label)
    return {ja4: " or ".join(labels) for ja4, labels in found.items()}


def _wait_for_more(server: Any, before: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        lines = server.handshakes()
        if len(lines) > before:
            return list(lines[before:])
        time.sleep(0.05)  # polling the server's own record of handshakes, with a deadline
    return []


def write(table: dict[str, str]) -> None:
    merged = {**json.loads(TABLE.read_text())["ja4"], **table} if TABLE.exists() else table
    TABLE.write_text(
        json.dumps(
            {
                "about": "JA4 -> the TLS stack that sends that hello; made by "
                "scripts/fingerprints from the real stacks (tests/clients/stacks.py)",
                "ja4": dict(sorted(merged.items())),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    result = collect()
    for ja4, label in sorted(result.items(), key=lambda kv: kv[1]):
        print(f"{ja4}  {label}")
    if "--write" in sys.argv:
        write(result)
        print(f"wrote {TABLE}")
