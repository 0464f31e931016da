"""The local broker's Kafka logins: one generated password per principal, kept in the data folder.

``hub kafka start`` creates ``<data_dir>/secrets/kafka-credentials.json`` when it
formats a secured broker; every local component then logs in as its own
principal through :func:`as_principal`. Guarantees:

- the file is written atomically with mode 600 in a folder of mode 700, and a
  file that group or others may read is refused, never used;
- it lives under the data folder, which git ignores; nothing here prints a
  password (:func:`masked` shows two characters);
- settings that name a user explicitly (``HUB_KAFKA_SASL_USERNAME``, as every
  production deployment does) are never overridden: the local file only fills
  in what the operator left unset.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import SecretStr

from hub.errors import ConfigError
from hub.principals import district_principal
from hub.settings import HubSettings

FILE_VERSION: Final = 1
PASSWORD_BYTES: Final = 24


def secrets_dir(settings: HubSettings) -> Path:
    """``<data_dir>/secrets``: the local broker's passwords and development CA."""
    return secrets_dir_of(settings.data_dir)


def secrets_dir_of(data_dir: Path) -> Path:
    return data_dir.resolve() / "secrets"


def credentials_path(settings: HubSettings) -> Path:
    return secrets_dir(settings) / "kafka-credentials.json"


def new_password() -> str:
    """A random password (URL-safe: no character the JAAS or SCRAM syntax would need escaped)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def masked(password: str) -> str:
    """What may be shown of a password: its first two characters."""
    return f"{password[:2]}…" if password else "(none)"


@dataclass(frozen=True)
class Credentials:
    """Principal name -> password, as the local file holds them."""

    passwords: Mapping[str, str]

    def password(self, name: str) -> str:
        try:
            return self.passwords[name]
        except KeyError:
            raise ConfigError(
                f"no local Kafka password for principal {name!r}: add it with `hub kafka users add {name}`"
            ) from None

    def with_users(self, names: Iterable[str]) -> Credentials:
        """These credentials plus a fresh password for each name not yet known."""
        out = dict(self.passwords)
        for name in names:
            out.setdefault(name, new_password())
        return Credentials(out)

    def without(self, name: str) -> Credentials:
        return Credentials({k: v for k, v in self.passwords.items() if k != name})


def refuse_readable(path: Path) -> bool:
    """False if ``path`` does not exist; raises :class:`ConfigError` (with the ``chmod`` fix) if anyone but
    its owner may read or write it; else True. For every secret the hub keeps in a file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} may be read by others (mode {stat.S_IMODE(mode):o}): run `chmod 600 {path}`")
    return True


def read(settings: HubSettings) -> Credentials | None:
    """The local credentials, or None when this data folder has no secured broker."""
    path = credentials_path(settings)
    if not refuse_readable(path):
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        users = doc["users"]
        if doc.get("version") != FILE_VERSION or not isinstance(users, dict):
            raise ValueError(f"expected version {FILE_VERSION} with a users object")
        return Credentials({str(k): str(v) for k, v in users.items()})
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a hub credentials file ({exc})") from exc


def write(settings: HubSettings, credentials: Credentials) -> Path:
    """Write ``credentials`` atomically, mode 600 in a mode-700 folder."""
    path = credentials_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    body = json.dumps({"version": FILE_VERSION, "users": dict(sorted(credentials.passwords.items()))}, indent=2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def login(settings: HubSettings, name: str, password: str) -> HubSettings:
    """``settings`` logging in as ``name`` over SASL (the protocol is kept if it already is SASL)."""
    protocol = settings.kafka_security_protocol if settings.kafka_security_protocol != "PLAINTEXT" else None
    return settings.model_copy(
        update={
            "kafka_security_protocol": protocol or "SASL_PLAINTEXT",
            "kafka_sasl_username": name,
            "kafka_sasl_password": SecretStr(password),
            "kafka_sasl_password_file": None,
        }
    )


def as_principal(settings: HubSettings, name: str) -> HubSettings:
    """The settings a component running as principal ``name`` connects with.

    An explicit user in ``settings`` wins (a deployment gives each component its own); otherwise the local
    secured broker's password for ``name``; otherwise (an insecure local broker) plaintext, unchanged.
    """
    if settings.kafka_sasl_username:
        return settings
    local = read(settings)
    if local is None:
        return (
            settings
            if settings.kafka_security_protocol
            else settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
        )
    return login(settings, name, local.password(name))


def district_logins(settings: HubSettings) -> Callable[[str, str], HubSettings] | None:
    """(region, district) -> settings logged in as that district, from the local logins.

    None when ``settings`` name a user (that user publishes everything, as far as its ACLs let it) or when the
    local broker is not secured. A publisher given these opens one producer per district.
    """
    if settings.kafka_sasl_username or read(settings) is None:
        return None
    return lambda region, district: as_principal(settings, district_principal(region, district))


__all__ = [
    "Credentials",
    "as_principal",
    "credentials_path",
    "district_logins",
    "login",
    "masked",
    "new_password",
    "read",
    "refuse_readable",
    "secrets_dir",
    "write",
]
