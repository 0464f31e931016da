"""The Ed25519 key a jurisdiction signs its transfer records with, and its peers' public keys.

Guarantees:

- the private key lives in ``<data_dir>/secrets/transfer-signing.pem`` (PKCS#8 PEM,
  mode 600, in a folder of mode 700, under the git-ignored data folder); a key
  file that group or others may read is refused, never used (the
  :class:`~hub.errors.ConfigError` of :func:`hub.credentials.refuse_readable`,
  as for every secret the hub keeps in a file);
- :func:`load_or_create` creates the key once and never overwrites it, and
  writes the public half beside the data folder's root
  (``<data_dir>/transfer-signing.pub.pem``, mode 644) for operators to
  distribute to the peers that verify;
- a key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public
  key, the same for the private key and its public half wherever computed;
- nothing here prints or logs key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.credentials import refuse_readable, secrets_dir_of
from hub.errors import TransferLogError

if TYPE_CHECKING:
    from hub.settings import HubSettings

KEY_FILE: Final = "transfer-signing.pem"
PUBLIC_FILE: Final = "transfer-signing.pub.pem"


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    """A peer's public key: checks the signatures its records carry."""

    key: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id_of(self.key)

    def verify(self, data: bytes, signature: str) -> bool:
        """Whether ``signature`` (base64) is this key's signature of ``data``."""
        try:
            self.key.verify(base64.b64decode(signature.encode("ascii"), validate=True), data)
        except (InvalidSignature, binascii.Error, UnicodeEncodeError, ValueError):
            return False
        return True

    def pem(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class SigningKey:
    """A jurisdiction's private signing key."""

    key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    @property
    def key_id(self) -> str:
        return key_id_of(self.key.public_key())

    def sign(self, data: bytes) -> str:
        """The Ed25519 signature of ``data``, base64."""
        return base64.b64encode(self.key.sign(data)).decode("ascii")

    def public_pem(self) -> bytes:
        return self.public.pem()

    def __repr__(self) -> str:  # never the key material
        return f"SigningKey(key_id={self.key_id!r})"


def public_pem(key: SigningKey) -> bytes:
    """The PEM (SubjectPublicKeyInfo) of ``key``'s public half: what peers need to verify."""
    return key.public_pem()


def signing_key_path(settings: HubSettings) -> Path:
    return secrets_dir_of(settings.data_dir) / KEY_FILE


def public_key_path(settings: HubSettings) -> Path:
    return settings.data_dir.resolve() / PUBLIC_FILE


def load_or_create(path: Path) -> SigningKey:
    """The signing key in ``path``, created (with its public half beside the secrets folder) if missing."""
    if path.exists() or path.is_symlink():
        key = _load_private(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)
        key = SigningKey.generate()
        pem = key.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # created meanwhile by another process: use that one
            return load_or_create(path)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, pem)
        finally:
            os.close(fd)
    public = _public_path_of(path)
    if not public.exists() or public.read_bytes() != key.public_pem():
        public.parent.mkdir(parents=True, exist_ok=True)
        tmp = public.with_name(f".{public.name}.tmp")
        tmp.write_bytes(key.public_pem())
        os.chmod(tmp, 0o644)
        os.replace(tmp, public)
    return key


def load_public(path: Path) -> PublicKey:
    """A public key from a PEM file (``transfer-signing.pub.pem`` of a peer)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TransferLogError(f"{path}: cannot read the public key ({exc.strerror})") from exc
    return public_from_pem(data, origin=str(path))


def public_from_pem(data: bytes, *, origin: str = "public key") -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise TransferLogError(f"{origin}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise TransferLogError(f"{origin}: not an Ed25519 public key ({type(key).__name__})")
    return PublicKey(key)


def _public_path_of(key_path: Path) -> Path:
    """``<data_dir>/transfer-signing.pub.pem`` for ``<data_dir>/secrets/transfer-signing.pem``."""
    return key_path.parent.parent / PUBLIC_FILE


def _load_private(path: Path) -> SigningKey:
    refuse_readable(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise TransferLogError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise TransferLogError(f"{path}: not an Ed25519 private key ({type(key).__name__})")
    return SigningKey(key)


__all__ = [
    "PublicKey",
    "SigningKey",
    "key_id_of",
    "load_or_create",
    "load_public",
    "public_from_pem",
    "public_key_path",
    "public_pem",
    "signing_key_path",
]
