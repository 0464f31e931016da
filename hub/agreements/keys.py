"""HMAC keys of data-sharing agreements: named by a rule, read from the environment or a secrets file, never from git.

Each agreement's key lives in ``HUB_AGREEMENT_KEY_<ID>`` (:func:`key_variable`;
an agreement file must name exactly that variable), given either as a variable
of the process environment or as a ``NAME=value`` line of the secrets file
(``HUB_SECRETS_FILE``). The environment wins. The key is the UTF-8 bytes of
the value; fewer than :data:`MIN_KEY_BYTES` bytes are refused, here and by
:func:`hub.agreements.crossing.apply`.

Case ids are guessable (``NS-2026-000123``), so whoever holds a key can
re-identify by trying ids: a secrets file readable or writable by other users
is refused.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from hub.agreements.model import Agreement
from hub.errors import ConfigError, PolicyError

KEY_VARIABLE_PREFIX: Final = "HUB_AGREEMENT_KEY_"
MIN_KEY_BYTES: Final = 32
"""Shortest HMAC key accepted: 32 bytes, the HMAC-SHA256 output length (RFC 2104's minimum)."""
SECRETS_FILE_OPTION: Final = "HUB_SECRETS_FILE"


def key_variable(agreement_id: str) -> str:
    """Environment variable holding an agreement's HMAC key.

    Rule: ``HUB_AGREEMENT_KEY_`` + the id upper-cased with every character that is
    not A-Z or 0-9 replaced by ``_``: ``gd-exchange`` -> ``HUB_AGREEMENT_KEY_GD_EXCHANGE``.
    """
    return KEY_VARIABLE_PREFIX + re.sub(r"[^A-Z0-9]", "_", agreement_id.upper())


def demo_secrets_path(data_dir: Path) -> Path:
    """Where the demo keeps generated keys: ``<data_dir>/secrets.env`` (``.hub/`` is git-ignored)."""
    return data_dir / "secrets.env"


def generate_key() -> str:
    """A fresh random key value (64 URL-safe characters, 384 bits), for demos and tests."""
    return secrets.token_urlsafe(48)


def _check_permissions(path: Path) -> None:
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigError(
            f"secrets file {path} is readable or writable by other users (mode {stat.filemode(mode)}); "
            f"run: chmod 600 {path}"
        )


def read_secrets_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments, blank lines, ``export`` and quotes allowed).

    Errors name the line number, never its content (it may hold a key).
    """
    try:
        _check_permissions(path)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read secrets file {path}: {exc}") from exc
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{path}:{lineno}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def load_key(agreement: Agreement, environ: Mapping[str, str], secrets_file: Path | None) -> bytes:
    """The HMAC key of ``agreement``: ``environ`` first, then ``secrets_file`` (if given and present).

    A missing or too short key is a :class:`PolicyError` naming the variable and
    where it was looked for; the key itself never appears in a message.
    """
    name = agreement.key_variable
    value = environ.get(name)
    origin = "the environment"
    if value is None and secrets_file is not None and secrets_file.is_file():
        value = read_secrets_file(secrets_file).get(name)
        origin = f"secrets file {secrets_file}"
    if value is None or not value.strip():
        if secrets_file is None:
            looked = f"no secrets file ({SECRETS_FILE_OPTION} is unset)"
        else:
            looked = f"secrets file {secrets_file}" + ("" if secrets_file.is_file() else " (not found)")
        raise PolicyError(
            f"no HMAC key for agreement {agreement.id}: set {name} in the environment, or add a {name}=... line "
            f"to the secrets file named by {SECRETS_FILE_OPTION} (looked in the environment and {looked})"
        )
    key = value.strip().encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise PolicyError(
            f"{name} (from {origin}) is {len(key)} bytes; agreement keys need at least {MIN_KEY_BYTES} "
            f"(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return key


def write_demo_secrets(path: Path, agreements: Iterable[Agreement]) -> list[str]:
    """Create ``path`` (mode 600) with a generated key per agreement, or append keys it lacks.

    Existing keys are never replaced (that would change every pseudonym).
    Returns the variable names written.
    """
    wanted = sorted({a.key_variable for a in agreements})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        present = read_secrets_file(path) if path.exists() else {}
        missing = [name for name in wanted if name not in present]
        if not missing:
            return []
        lines = [f"{name}={generate_key()}\n" for name in missing]
        if not path.exists():
            header = ["# Demo agreement keys, generated by `hub demo`. Never commit this file.\n"]
        else:
            header = [] if path.read_bytes().endswith(b"\n") or not path.stat().st_size else ["\n"]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.writelines(header + lines)
    except OSError as exc:
        raise ConfigError(f"cannot write secrets file {path}: {exc}") from exc
    return missing


__all__ = [
    "KEY_VARIABLE_PREFIX",
    "MIN_KEY_BYTES",
    "SECRETS_FILE_OPTION",
    "demo_secrets_path",
    "generate_key",
    "key_variable",
    "load_key",
    "read_secrets_file",
    "write_demo_secrets",
]
