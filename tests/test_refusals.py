"""Every refusal answered as a real server answers it: for each class of refused hello, TLS
stacks nobody here wrote (OpenSSL's s_client, Java's JSSE, GnuTLS, Go's crypto/tls) report the
same alert against mockgun as against a stock ``openssl s_server`` with the same policy.

Each client runs only where this machine has it (CI installs all four); a class a stack cannot
produce (Java and Go never send TLS_FALLBACK_SCSV) is not asked of it.
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import ROOT, MockgunProcess, require_tool

from mockgun.certs import CertPaths
from mockgun.tls.policy import CIPHER_PROFILES

CLIENTS = ROOT / "tests" / "clients"
LEGACY_PY = ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]


@dataclass(frozen=True)
class Endpoint:
    port: int
    ca_file: Path


@pytest.fixture(scope="module")
def stock(tmp_path_factory: pytest.TempPathFactory, certs: CertPaths) -> Iterator[Endpoint]:
    """``openssl s_server`` with mockgun's policy: TLS 1.2+, the modern suites, both keys."""
    proc = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-cert",
            str(certs.server_cert),
            "-key",
            str(certs.server_key),
            "-dcert",
            str(certs.rsa_cert),
            "-dkey",
            str(certs.rsa_key),
            "-min_protocol",
            "TLSv1.2",
            "-cipher",
            ":".join(CIPHER_PROFILES["modern"]),
            "-www",  # answers by itself: stdin stays unused
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path_factory.mktemp("stock"),
    )
    assert proc.stdout is not None
    port = 0
    for line in proc.stdout:  # s_server says where it listens before anything else
        if match := re.match(r"ACCEPT 127\.0\.0\.1:(\d+)", line):
            port = int(match[1])
            break
    assert port, "openssl s_server did not start"
    # Keep reading what it prints, so that a full pipe never stalls it.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    yield Endpoint(port, certs.ca_cert)
    proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def ours(mockgun_process: MockgunProcess) -> Endpoint:
    return Endpoint(mockgun_process.port, mockgun_process.ca_file)


def run(args: list[str], timeout: float = 60) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return done.stdout + done.stderr


def openssl_client(end: Endpoint, args: list[str]) -> str | None:
    out = run(["openssl", "s_client", "-connect", f"127.0.0.1:{end.port}", *args])
    match = re.search(r"SSL alert number (\d+)", out)
    return match[1] if match else None


def gnutls_client(end: Endpoint, priority: str) -> str | None:
    out = run(
        ["gnutls-cli", "--port", str(end.port), "--insecure", "--priority", priority, "127.0.0.1"]
    )
    match = re.search(r"Received alert \[(\d+)\]", out)
    return match[1] if match else None


@pytest.fixture(scope="module")
def java(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Endpoint, str, str], str]:
    require_tool("java")
    # Java disables TLS 1.0/1.1 in java.security; a legacy app's JVM (or an old one) does not.
    legacy = tmp_path_factory.mktemp("java") / "legacy.security"
    legacy.write_text("jdk.tls.disabledAlgorithms=SSLv3, RC4\n")

    def client(end: Endpoint, protocol: str, suite: str = "") -> str:
        out = run(
            [
                "java",
                f"-Djava.security.properties={legacy}",
                str(CLIENTS / "java" / "TlsProbe.java"),
                "127.0.0.1",
                str(end.port),
                protocol,
                *([suite] if suite else []),
            ]
        )
        return out.strip().splitlines()[-1]

    return client


@pytest.fixture(scope="module")
def go(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    require_tool("go")
    build = tmp_path_factory.mktemp("go")
    binary = build / "tlsprobe"
    env = {"GOCACHE": str(build / "cache"), "HOME": str(build), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["go", "build", "-o", str(binary), str(CLIENTS / "go" / "tlsprobe.go")],
        check=True,
        env=env,
        timeout=300,
    )

    def client(end: Endpoint, *args: str) -> str:
        return run([str(binary), "-addr", f"127.0.0.1:{end.port}", *args]).strip()

    return client


# (what the client does, s_client arguments, the alert number a stock server sends)
OPENSSL_CASES = [
    ("legacy", LEGACY_PY, "70"),
    ("no shared cipher", ["-tls1_2", "-cipher", "AES128-SHA"], "40"),
    ("fallback retry", ["-tls1_2", "-fallback_scsv"], "86"),
]


@pytest.mark.parametrize(
    ("case", "args", "alert"), OPENSSL_CASES, ids=[c[0] for c in OPENSSL_CASES]
)
def test_openssl_client(
    ours: Endpoint, stock: Endpoint, case: str, args: list[str], alert: str
) -> None:
    assert openssl_client(stock, args) == alert
    assert openssl_client(ours, args) == alert


GNUTLS_CASES = [
    ("legacy", "NORMAL:-VERS-ALL:+VERS-TLS1.1", "70"),
    ("no shared cipher", "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA", "40"),
    ("fallback retry", "NORMAL:-VERS-TLS1.3:%FALLBACK_SCSV", "86"),
]


@pytest.mark.parametrize(
    ("case", "priority", "alert"), GNUTLS_CASES, ids=[c[0] for c in GNUTLS_CASES]
)
def test_gnutls_client(
    ours: Endpoint, stock: Endpoint, case: str, priority: str, alert: str
) -> None:
    require_tool("gnutls-cli")
    assert gnutls_client(stock, priority) == alert
    assert gnutls_client(ours, priority) == alert


JAVA_CASES = [
    ("legacy", "TLSv1.1", "", "protocol_version"),
    ("no shared cipher", "TLSv1.2", "TLS_RSA_WITH_AES_128_CBC_SHA", "handshake_failure"),
]


@pytest.mark.parametrize(
    ("case", "protocol", "suite", "alert"), JAVA_CASES, ids=[c[0] for c in JAVA_CASES]
)
def test_java_client(
    ours: Endpoint,
    stock: Endpoint,
    java: Callable[[Endpoint, str, str], str],
    case: str,
    protocol: str,
    suite: str,
    alert: str,
) -> None:
    expected = f"error Received fatal alert: {alert}"
    assert java(stock, protocol, suite) == expected
    assert java(ours, protocol, suite) == expected


GO_CASES = [
    ("legacy", ["-max", "1.1"], "protocol version not supported"),
    ("no shared cipher", ["-max", "1.2", "-suite", "0x002f"], "handshake failure"),
]


@pytest.mark.parametrize(("case", "args", "alert"), GO_CASES, ids=[c[0] for c in GO_CASES])
def test_go_client(
    ours: Endpoint, stock: Endpoint, go: Callable[..., str], case: str, args: list[str], alert: str
) -> None:
    expected = f"error remote error: tls: {alert}"
    assert go(stock, *args) == expected
    assert go(ours, *args) == expected


def raw_answer(end: Endpoint, hello: bytes) -> bytes:
    """Send ``hello`` and read the server's answer until it closes."""
    with socket.create_connection(("127.0.0.1", end.port), timeout=10) as sock:
        sock.sendall(hello)
        got = b""
        while chunk := sock.recv(4096):
            got += chunk
        return got


def _modern_hello() -> bytes:
    """A real ClientHello from Python's ssl, captured through memory BIOs."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = ssl.create_default_context()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def _with_body_length(hello: bytes, delta: int) -> bytes:
    """The same record, with the hello's own length field off by ``delta``."""
    body_len = int.from_bytes(hello[6:9], "big") + delta
    return hello[:6] + body_len.to_bytes(3, "big") + hello[9:]


# An SSLv2-format CLIENT-HELLO offering up to TLS 1.0: three TLS suites, one SSLv2 kind.
_SPECS = bytes.fromhex("000035 00002f 000005 010080")
SSLV2_HELLO = (
    bytes([0x80, 9 + len(_SPECS) + 16, 0x01, 0x03, 0x01, 0, len(_SPECS), 0, 0, 0, 16])
    + _SPECS
    + b"A" * 16
)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: SSLV2_HELLO, id="SSLv2-format hello"),
        pytest.param(lambda: _with_body_length(_modern_hello(), -3), id="hello length too short"),
        pytest.param(lambda: b"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03", id="no random"),
        pytest.param(lambda: b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", id="a ServerHello first"),
    ],
)
def test_malformed_hellos_get_openssls_alert(
    ours: Endpoint, stock: Endpoint, make: Callable[[], bytes], mockgun_process: MockgunProcess
) -> None:
    hello = make()
    expected = raw_answer(stock, hello)
    assert expected[:1] == b"\x15", f"the stock server answered {expected.hex()}"
    assert raw_answer(ours, hello) == expected


def _padded_hello(size: int) -> bytes:
    """A real hello grown to ``size`` bytes with an extension of an unassigned type (servers
    ignore those), in records of at most 16 KiB, as a client with a huge extension sends it."""
    record = _modern_hello()
    body = bytearray(record[9:])
    pos = 34 + 1 + body[34]
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
    pos += 1 + body[pos]
    pad = size - 4 - len(body) - 4
    exts_len = int.from_bytes(body[pos : pos + 2], "big") + 4 + pad
    body[pos : pos + 2] = exts_len.to_bytes(2, "big")
    body += b"\x12\x34" + pad.to_bytes(2, "big") + bytes(pad)
    message = b"\x01" + len(body).to_bytes(3, "big") + bytes(body)
    chunks = [message[i : i + 2**14] for i in range(0, len(message), 2**14)]
    return b"".join(b"\x16\x03\x01" + len(c).to_bytes(2, "big") + c for c in chunks)


def test_a_hello_over_16_kib_is_answered_as_openssl_answers_it(
    ours: Endpoint, stock: Endpoint, mockgun_process: MockgunProcess
) -> None:
    hello = _padded_hello(40_000)
    answers = []
    for end in (stock, ours):
        with socket.create_connection(("127.0.0.1", end.port), timeout=10) as sock:
            name = sock.getsockname()
            sock.sendall(hello)
            answers.append(sock.recv(6))
    # Both send a ServerHello (handshake record, message type 2): no refusal, no silence.
    for first in answers:
        assert first[:1] == b"\x16" and first[5:6] == b"\x02", first.hex()
    line = mockgun_process.line_for(name)
    assert line["client_hello_bytes"] >= 40_000 and "client_ciphers" not in line
    assert line["outcome"] in {"closed", "failed"} and "alert_sent" not in line


def s_client_cipher(end: Endpoint, suite: str) -> tuple[int, str]:
    verify = ["-CAfile", str(end.ca_file), "-servername", "localhost", "-verify_return_error"]
    done = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{end.port}",
            "-tls1_2",
            "-cipher",
            suite,
            *verify,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stdout + done.stderr


def test_openssl_rsa_only_client_is_served_and_cbc_needs_the_compat_profile(
    ours: Endpoint, spawn: Callable[..., MockgunProcess]
) -> None:
    require_tool("openssl")
    code, out = s_client_cipher(ours, "ECDHE-RSA-AES128-GCM-SHA256")
    assert code == 0 and "Cipher is ECDHE-RSA-AES128-GCM-SHA256" in out
    assert "Verify return code: 0 (ok)" in out
    code, out = s_client_cipher(ours, "ECDHE-ECDSA-AES128-SHA")
    assert code != 0 and "SSL alert number 40" in out  # handshake_failure, as s_server says
    compat = spawn("--ciphers", "compat")
    code, out = s_client_cipher(Endpoint(compat.port, compat.ca_file), "ECDHE-ECDSA-AES128-SHA")
    assert code == 0 and "Cipher is ECDHE-ECDSA-AES128-SHA" in out
