"""Development certificates: a local CA that apps trust, and two server leaves it signs.

Files in the certs directory:

- ``ca.pem``      the CA certificate: the one file clients are told to trust;
- ``ca.key``      the CA's private key (0600), kept so that a new hostname only
                  needs new leaves and clients that already trust ``ca.pem`` keep working;
- ``server.pem``  the ECDSA (P-256) server leaf followed by its chain;
- ``server.key``  its private key (0600);
- ``server-rsa.pem`` / ``server-rsa.key``  an RSA (2048) leaf for the same names.

Production endpoints serve by key type: an ECDSA certificate to clients that take one,
an RSA one to TLS 1.2 clients that offer only ``ECDHE-RSA-*`` suites. Serving only the
ECDSA leaf would refuse those clients, a false "not ready".

They are reused across restarts and regenerated when one is missing or
unreadable, a leaf expires within :data:`RENEW_BEFORE`, or a requested
hostname is not covered.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_private_key

#: Names every server certificate covers, whatever else is asked for.
DEFAULT_HOSTNAMES = ("localhost", "127.0.0.1", "::1")
#: Leaves live a year: short enough for Apple's 825-day rule on user-trusted CAs.
LEAF_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertPaths:
    """Where the certificate files of one certs directory live."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def rsa_cert(self) -> Path:
        return self.directory / "server-rsa.pem"

    @property
    def rsa_key(self) -> Path:
        return self.directory / "server-rsa.key"

    def leaves(self) -> list[tuple[Path, Path]]:
        """(certificate chain, key) of each server leaf that exists, ECDSA first."""
        pairs = [(self.server_cert, self.server_key), (self.rsa_cert, self.rsa_key)]
        return [(cert, key) for cert, key in pairs if cert.is_file() and key.is_file()]


@dataclass(frozen=True)
class CertResult:
    """What :func:`ensure_certs` did, so that callers can say it."""

    paths: CertPaths
    hostnames: tuple[str, ...]
    #: ``"reused"``, ``"created"`` (nothing usable was there), ``"reissued"`` (new leaf, same CA).
    action: str
    reason: str


def wanted_hostnames(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The default names plus ``extra``, normalised and without duplicates, in order."""
    out: list[str] = []
    for name in (*DEFAULT_HOSTNAMES, *extra):
        norm = _normalise(name)
        if norm and norm not in out:
            out.append(norm)
    return tuple(out)


def ensure_certs(
    directory: Path, hostnames: Iterable[str] = (), *, force: bool = False
) -> CertResult:
    """Make sure ``directory`` holds a CA and a valid leaf covering ``hostnames``."""
    paths = CertPaths(Path(directory))
    names = wanted_hostnames(hostnames)
    paths.directory.mkdir(parents=True, exist_ok=True)

    ca_problem = "--force given" if force else _ca_problem(paths)
    if ca_problem:
        _write_new_ca_and_leaf(paths, names)
        return CertResult(paths, names, "created", ca_problem)
    leaf_problem = _leaf_problem(paths, names)
    if leaf_problem:
        _write_leaf(paths, _load_ca(paths), names)
        return CertResult(paths, names, "reissued", leaf_problem)
    return CertResult(paths, names, "reused", "existing certificates cover every name")


def _normalise(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return name


def _ca_problem(paths: CertPaths) -> str:
    for path in (paths.ca_cert, paths.ca_key):
        if not path.is_file():
            return f"{path.name} is missing"
    try:
        _load_ca(paths)
    except (OSError, ValueError, TypeError) as exc:
        return f"the CA files cannot be read ({exc})"
    return ""


def _leaf_problem(paths: CertPaths, names: tuple[str, ...]) -> str:
    pairs = ((paths.server_cert, paths.server_key), (paths.rsa_cert, paths.rsa_key))
    for cert_file, key_file in pairs:
        problem = _one_leaf_problem(paths.ca_cert, cert_file, key_file, names)
        if problem:
            return problem
    return ""


def _one_leaf_problem(
    ca_file: Path, cert_file: Path, key_file: Path, names: tuple[str, ...]
) -> str:
    for path in (cert_file, key_file):
        if not path.is_file():
            return f"{path.name} is missing"
    try:
        chain = x509.load_pem_x509_certificates(cert_file.read_bytes())
        key = load_pem_private_key(key_file.read_bytes(), password=None)
        ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        return f"the server files cannot be read ({exc})"
    leaf = chain[0]
    if leaf.public_key() != key.public_key():
        return f"{key_file.name} does not match {cert_file.name}"
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return f"{cert_file.name} was not issued by ca.pem"
    if leaf.not_valid_after_utc - _now() < RENEW_BEFORE:
        return f"{cert_file.name} expires on {leaf.not_valid_after_utc:%Y-%m-%d}"
    missing = [n for n in names if n not in _covered_names(leaf)]
    if missing:
        return f"{cert_file.name} does not cover " + ", ".join(missing)
    return ""


def _covered_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    dns = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return dns | ips


def _load_ca(paths: CertPaths) -> object:
    # trustme (81 ms) is imported only where certificates are made: reusing them is free.
    import trustme  # noqa: PLC0415

    return trustme.CA.from_pem(paths.ca_cert.read_bytes(), paths.ca_key.read_bytes())


def _write_new_ca_and_leaf(paths: CertPaths, names: tuple[str, ...]) -> None:
    import trustme  # noqa: PLC0415 - see _load_ca

    # A distinct name per CA, so that people can tell them apart in a trust store.
    unit = f"mockgun development CA {_now():%Y-%m-%d} {secrets.token_hex(3)}"
    ca = trustme.CA(organization_name="mockgun", organization_unit_name=unit)
    write_private(paths.ca_key, ca.private_key_pem.bytes())
    _write_public(paths.ca_cert, ca.cert_pem.bytes())
    _write_leaf(paths, ca, names)


def _write_leaf(paths: CertPaths, ca: object, names: tuple[str, ...]) -> None:
    import trustme  # noqa: PLC0415 - see _load_ca

    assert isinstance(ca, trustme.CA)
    now = _now()
    kinds = (
        (trustme.KeyType.ECDSA, paths.server_cert, paths.server_key),
        (trustme.KeyType.RSA, paths.rsa_cert, paths.rsa_key),
    )
    for key_type, cert_file, key_file in kinds:
        leaf = ca.issue_cert(
            *names,
            organization_name="mockgun",
            organization_unit_name="mockgun dev server",
            not_before=(now - dt.timedelta(hours=1)).replace(tzinfo=None),
            not_after=(now + LEAF_LIFETIME).replace(tzinfo=None),
            key_type=key_type,
        )
        # Key first: a reader that sees the new certificate must never pair it with the old key.
        write_private(key_file, leaf.private_key_pem.bytes())
        _write_public(cert_file, b"".join(blob.bytes() for blob in leaf.cert_chain_pems))


def write_private(path: Path, data: bytes) -> None:
    """Write a secret so that it is never readable by others, not even for an instant."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)  # in case the umask was stricter than usual, or a filesystem ignores it
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


#: The only name on the canary certificate: no client should ever accept it.
CANARY_HOSTNAME = "canary.invalid"


def ensure_canary_certs(directory: Path) -> CertPaths:
    """A separate CA and a leaf for :data:`CANARY_HOSTNAME`, in ``directory/canary``.

    The canary CA is never the one in ``ca.pem``, and the leaf names no host a client
    would connect to, so a client that accepts it does not verify certificates.
    """
    import trustme  # noqa: PLC0415 - see _load_ca

    paths = CertPaths(Path(directory) / "canary")
    paths.directory.mkdir(parents=True, exist_ok=True)
    if paths.server_cert.is_file() and paths.server_key.is_file():
        return paths
    ca = trustme.CA(
        organization_name="mockgun", organization_unit_name="mockgun CANARY - never trust"
    )
    leaf = ca.issue_cert(CANARY_HOSTNAME, organization_name="mockgun canary")
    _write_public(paths.ca_cert, ca.cert_pem.bytes())
    write_private(paths.server_key, leaf.private_key_pem.bytes())
    _write_public(paths.server_cert, b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    return paths
