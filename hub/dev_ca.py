"""A development certificate authority for the local broker's TLS listener.

``hub kafka start`` with ``HUB_KAFKA_TLS_PORT`` set creates, once per data
folder, under ``<data_dir>/secrets/ca/``:

- ``ca.pem``: the CA certificate clients trust (``HUB_KAFKA_SSL_CAFILE``);
- ``broker.pem``: the broker's private key (PKCS#8, mode 600) followed by its
  certificate and the CA's, the PEM keystore the broker reads;
- the CA's own key, ``ca-key.pem`` (mode 600), kept only so that a broker
  certificate can be reissued.

Guarantees: the broker certificate names ``localhost`` and ``127.0.0.1``, so
clients verify host names; private keys are never group- or world-readable;
existing files are reused, never overwritten. Not for production: there, an
operator's CA signs the broker's certificate (``docs/security.md``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS: Final = 825
HOSTS: Final[tuple[str, ...]] = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class DevCa:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def broker_keystore(self) -> Path:
        return self.folder / "broker.pem"


def ensure(folder: Path, *, now: dt.datetime | None = None) -> DevCa:
    """The development CA in ``folder``, created with a broker certificate if missing."""
    ca = DevCa(folder)
    if ca.ca_cert.is_file() and ca.broker_keystore.is_file():
        return ca
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "socialwork-hub development CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(HOSTS[0]), x509.IPAddress(ipaddress.ip_address(HOSTS[1]))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTS[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    _write(ca.ca_key, ca_key.private_bytes(pem, pkcs8, plain), 0o600)
    _write(ca.ca_cert, ca_cert.public_bytes(pem), 0o644)
    _write(
        ca.broker_keystore,
        key.private_bytes(pem, pkcs8, plain) + cert.public_bytes(pem) + ca_cert.public_bytes(pem),
        0o600,
    )
    return ca


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


__all__ = ["HOSTS", "DevCa", "ensure"]
