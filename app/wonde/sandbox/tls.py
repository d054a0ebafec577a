"""A self-signed certificate for ``bandsync sandbox --tls``, made fresh at each start.

Wonde is only ever called over https, and Wonde's PHP client builds ``https://{region.domain}/v1.0/``
itself, so a client that is to be tried against the sandbox unchanged needs the sandbox on https.
The key never leaves the temporary directory it is written to; the certificate beside it is what a
client trusts (its own CA file: ``curl --cacert``, Guzzle's ``verify``, httpx's ``verify``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
VALID_DAYS = 30


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # PEM; what clients trust
    key: Path  # PEM, unencrypted, readable by its owner only


def _names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h.strip("[]") for h in hosts if h and h not in ("0.0.0.0", "::")):  # noqa: S104
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def self_signed(directory: Path, extra_hosts: tuple[str, ...] = ()) -> TlsFiles:
    """Write a new key and a certificate for 127.0.0.1, ::1, localhost and ``extra_hosts`` into ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bandsync Wonde sandbox")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names((*DEFAULT_HOSTS, *extra_hosts))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(directory / "sandbox-cert.pem", directory / "sandbox-key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    descriptor = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return files
