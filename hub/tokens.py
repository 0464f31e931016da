"""Bearer tokens with roles for the hub's HTTP APIs.

A token is a random 32-byte urlsafe string shown once when it is created; the
hub keeps only its SHA-256 (``"sha256:<hex>"``) in a JSON file. Roles:

- ``publisher``: may publish events of one district (scope: region + district);
- ``analyst``: reads reports; publishes nothing;
- ``partner``: a partner region's subscriber (scope: partner id hk, mo, gd, js, fj);
- ``admin``: operates the hub; publishes nothing.

A token may expire (``expires_at``; none means it never does): an expired
token still authenticates as its entry, and :func:`hub.http_api.authenticate`
refuses it with its own 401. Every entry's scope has the shape of its role
(:class:`TokenEntry` checks it when built), so a partner entry always names one
of :data:`PARTNER_IDS` and a publisher entry one region and district.

The tokens file is ``{"version": 2, "tokens": [...]}``; files of version 1
(written before expiry existed) are read as they are, an entry without
``expires_at`` never expiring. The version went up so that an older hub, which
would ignore ``expires_at``, refuses a newer file instead of accepting expired
tokens.

The first part of this module is pure (hashing, parsing, role checks); the
file I/O (:func:`read_tokens`, :func:`write_tokens`, :class:`TokenFile`) sits
at the end.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from hub.errors import ConfigError, HubError
from hub.orgunits import OrgUnits, org_units

FILE_VERSION: Final = 2
READABLE_VERSIONS: Final[tuple[int, ...]] = (1, 2)
HASH_PREFIX: Final = "sha256:"
PARTNER_IDS: Final[tuple[str, ...]] = ("hk", "mo", "gd", "js", "fj")
TOKEN_BYTES: Final = 32


class Role(StrEnum):
    PUBLISHER = "publisher"
    ANALYST = "analyst"
    PARTNER = "partner"
    ADMIN = "admin"


PUBLISHING_ROLES: Final[tuple[Role, ...]] = (Role.PUBLISHER,)
"""Roles that may publish events (least privilege: not even admins)."""
READING_ROLES: Final[tuple[Role, ...]] = (Role.ANALYST, Role.ADMIN)
"""Roles that may read reports, indicators and projection status."""


class TokenError(HubError):
    """A token could not be created, found or revoked as asked."""


class TokenFileError(ConfigError):
    """The tokens file is missing a field, has a wrong value or is not JSON."""


@dataclass(frozen=True)
class Scope:
    """What a token is limited to: a district (publisher) or a partner id (partner)."""

    region: str | None = None
    district: str | None = None
    partner: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("region", self.region), ("district", self.district), ("partner", self.partner)) if v}

    def __str__(self) -> str:
        if self.district:
            return f"{self.region}/{self.district}"
        return self.partner or "-"


def scope_shape_problem(role: Role, scope: Scope) -> str | None:
    """Why ``scope`` is not the shape ``role`` needs, or None (names only; :func:`make_scope` checks the codes)."""
    if role is Role.PUBLISHER:
        if not (scope.region and scope.district) or scope.partner:
            return f"a publisher token is scoped to one region and district, got {scope.as_dict()}"
    elif role is Role.PARTNER:
        if scope.partner not in PARTNER_IDS or scope.region or scope.district:
            return f"a partner token is scoped to one partner id of {', '.join(PARTNER_IDS)}, got {scope.as_dict()}"
    elif scope.as_dict():
        return f"a {role.value} token has no scope, got {scope.as_dict()}"
    return None


@dataclass(frozen=True)
class TokenEntry:
    """One stored token: never the token itself, only its hash.

    Building one with a scope that is not its role's shape raises
    :class:`TokenError`: no code path holds, say, a partner entry without a
    known partner id.
    """

    id: str
    name: str
    role: Role
    scope: Scope
    created_at: datetime
    hash: str = field(repr=False)
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        problem = scope_shape_problem(self.role, self.scope)
        if problem is not None:
            raise TokenError(f"token {self.id}: {problem}")

    def expired(self, now: datetime) -> bool:
        """True from ``expires_at`` on (a token without one never expires)."""
        return self.expires_at is not None and now >= self.expires_at

    def has_role(self, roles: Iterable[Role]) -> bool:
        """True if this token's role is one of ``roles``."""
        return self.role in tuple(roles)

    @property
    def can_publish(self) -> bool:
        """Only district publishers write events (least privilege: not even admins)."""
        return self.has_role(PUBLISHING_ROLES)

    def may_publish_for(self, region: str, district: str) -> bool:
        """True if this token may publish an event of ``region``/``district``."""
        return (
            self.can_publish
            and self.scope.region is not None
            and region.upper() == self.scope.region
            and district == self.scope.district
        )


# -- pure: secrets and hashes -------------------------------------------------


def generate_token() -> str:
    """A new random bearer token (32 random bytes, urlsafe base64, 43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """``sha256:<hex>`` of the token's UTF-8 bytes."""
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token_id() -> str:
    return "tok_" + secrets.token_hex(6)


def make_scope(
    role: Role | str, *, district: str | None = None, partner: str | None = None, units: OrgUnits | None = None
) -> Scope:
    """Check that a role gets exactly the scope it needs; the region comes from the district."""
    role = parse_role(role)
    if role is Role.PUBLISHER:
        if partner:
            raise TokenError("a publisher token is scoped to a district, not to a partner (drop --partner)")
        if not district:
            raise TokenError("a publisher token needs a district (--district, e.g. shenzhen-nanshan)")
        unit = (units or org_units()).district(district)
        if unit is None:
            raise TokenError(f"unknown district {district!r}: not in org-units.json")
        return Scope(region=unit.region, district=unit.code)
    if district:
        raise TokenError(f"a {role} token is not scoped to a district (drop --district)")
    if role is Role.PARTNER:
        if not partner:
            raise TokenError(f"a partner token needs a partner id (--partner, one of {', '.join(PARTNER_IDS)})")
        if partner.lower() not in PARTNER_IDS:
            raise TokenError(f"unknown partner {partner!r}: expected one of {', '.join(PARTNER_IDS)}")
        return Scope(partner=partner.lower())
    if partner:
        raise TokenError(f"a {role} token is not scoped to a partner (drop --partner)")
    return Scope()


def parse_role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise TokenError(f"unknown role {value!r}: expected one of {', '.join(r.value for r in Role)}") from None


def issue(
    role: Role | str,
    *,
    district: str | None = None,
    partner: str | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
    units: OrgUnits | None = None,
) -> tuple[str, TokenEntry]:
    """A new token and the entry to store for it. The token is returned once and never stored.

    ``expires_at`` (aware, after ``now``) is when the token stops being accepted; None: never.
    """
    role = parse_role(role)
    scope = make_scope(role, district=district, partner=partner, units=units)
    created_at = (now or datetime.now(UTC)).replace(microsecond=0)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise TokenError(f"the expiry {expires_at.isoformat()} needs a UTC offset")
        if expires_at <= created_at:
            raise TokenError(f"the expiry {format_time(expires_at)} is not after now ({format_time(created_at)})")
    token = generate_token()
    label = name or f"{role}-{scope.district or scope.partner or 'hub'}"
    entry = TokenEntry(
        id=new_token_id(),
        name=label,
        role=role,
        scope=scope,
        created_at=created_at,
        hash=hash_token(token),
        expires_at=expires_at.astimezone(UTC).replace(microsecond=0) if expires_at is not None else None,
    )
    return token, entry


# -- pure: expiry as the CLI states it ---------------------------------------------

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS: Final[dict[str, int]] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` or ``45s`` (a positive whole number and one unit) as a timedelta."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None or int(found.group(1)) == 0:
        raise TokenError(
            f"expiry {text!r}: expected a positive whole number and a unit s, m, h, d or w (e.g. 30d, 12h)"
        )
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def parse_expiry(text: str) -> datetime:
    """An ISO-8601 date (``2026-12-31``: 00:00 UTC that day) or timestamp with a UTC offset, as an aware time."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TokenError(
            f"expiry {text!r}: expected an ISO-8601 date (2026-12-31) or timestamp (2026-12-31T18:00:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        raise TokenError(f"expiry {text!r}: a timestamp needs a UTC offset (e.g. +08:00 or Z)")
    return moment


def expiry_of(expires_in: str | None, expires_at: str | None, now: datetime) -> datetime | None:
    """When a token created at ``now`` expires, from ``--expires-in`` or ``--expires-at`` (not both); None: never."""
    if expires_in is not None and expires_at is not None:
        raise TokenError("give --expires-in or --expires-at, not both")
    if expires_in is not None:
        return now + parse_duration(expires_in)
    if expires_at is not None:
        return parse_expiry(expires_at)
    return None


def format_time(moment: datetime) -> str:
    """``2026-03-01T08:00:00Z``: UTC, to the second, as the tokens file stores it."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class TokenSet:
    """An immutable collection of token entries."""

    entries: tuple[TokenEntry, ...] = ()

    def authenticate(self, token: str | None) -> TokenEntry | None:
        """The entry whose hash matches ``token``, compared in constant time over every entry."""
        if not token:
            return None
        presented = hash_token(token).encode("ascii")
        found: TokenEntry | None = None
        for entry in self.entries:
            if hmac.compare_digest(presented, entry.hash.encode("ascii")):
                found = entry
        return found

    def get(self, token_id: str) -> TokenEntry | None:
        return next((e for e in self.entries if e.id == token_id), None)

    def add(self, entry: TokenEntry) -> TokenSet:
        if self.get(entry.id) is not None:
            raise TokenError(f"token id {entry.id} already exists")
        return TokenSet((*self.entries, entry))

    def revoke(self, token_id: str) -> tuple[TokenSet, TokenEntry]:
        """The set without ``token_id`` and the removed entry."""
        entry = self.get(token_id)
        if entry is None:
            known = ", ".join(e.id for e in self.entries) or "none"
            raise TokenError(f"no token with id {token_id!r} (known ids: {known})")
        return TokenSet(tuple(e for e in self.entries if e.id != token_id)), entry

    def __len__(self) -> int:
        return len(self.entries)


TokenSource = TokenSet | Callable[[], TokenSet]
"""A fixed :class:`TokenSet`, or a callable returning the current one (e.g. :class:`TokenFile`)."""


def current_tokens(tokens: TokenSource) -> TokenSet:
    """The token set of ``tokens`` now (a :class:`TokenFile` re-reads a changed file; may raise TokenFileError)."""
    return tokens if isinstance(tokens, TokenSet) else tokens()


# -- pure: the file's JSON form ----------------------------------------------


def entry_to_dict(entry: TokenEntry) -> dict[str, Any]:
    """The entry as the file stores it; ``expires_at`` only when the token expires."""
    out: dict[str, Any] = {
        "id": entry.id,
        "name": entry.name,
        "role": entry.role.value,
        "scope": entry.scope.as_dict(),
        "created_at": format_time(entry.created_at),
    }
    if entry.expires_at is not None:
        out["expires_at"] = format_time(entry.expires_at)
    out["hash"] = entry.hash
    return out


def dump_tokens(tokens: TokenSet) -> dict[str, Any]:
    return {"version": FILE_VERSION, "tokens": [entry_to_dict(e) for e in tokens.entries]}


def _str_field(raw: Mapping[str, Any], key: str, where: str) -> str:
    if key not in raw:
        raise TokenFileError(f"{where}: missing field {key!r}")
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise TokenFileError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")
    return value


def _time_field(raw: Mapping[str, Any], key: str, where: str) -> datetime:
    text = _str_field(raw, key, where)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TokenFileError(f"{where}: field {key!r} must be an ISO-8601 timestamp, got {text!r}") from None
    if moment.tzinfo is None:
        raise TokenFileError(f"{where}: field {key!r} needs a UTC offset, got {text!r}")
    return moment


def parse_entry(raw: object, where: str, units: OrgUnits | None = None) -> TokenEntry:
    """One entry of the file; errors name the entry and the field."""
    if not isinstance(raw, Mapping):
        raise TokenFileError(f"{where}: must be an object, got {type(raw).__name__}")
    token_id = _str_field(raw, "id", where)
    where = f"{where} (id {token_id})"
    name = _str_field(raw, "name", where)
    role_text = _str_field(raw, "role", where)
    try:
        role = Role(role_text)
    except ValueError:
        raise TokenFileError(
            f"{where}: field 'role' must be one of {', '.join(r.value for r in Role)}, got {role_text!r}"
        ) from None
    scope_raw = raw.get("scope", {})
    if not isinstance(scope_raw, Mapping) or not all(isinstance(v, str) for v in scope_raw.values()):
        raise TokenFileError(f"{where}: field 'scope' must be an object of strings, got {scope_raw!r}")
    unknown = set(scope_raw) - {"region", "district", "partner"}
    if unknown:
        raise TokenFileError(f"{where}: field 'scope' has unknown keys {sorted(unknown)}")
    try:
        scope = make_scope(role, district=scope_raw.get("district"), partner=scope_raw.get("partner"), units=units)
    except TokenError as exc:
        raise TokenFileError(f"{where}: field 'scope': {exc}") from exc
    if role is Role.PUBLISHER and scope_raw.get("region", scope.region) != scope.region:
        raise TokenFileError(
            f"{where}: field 'scope': district {scope.district} is in region {scope.region}, "
            f"not {scope_raw.get('region')!r}"
        )
    created_at = _time_field(raw, "created_at", where)
    expires_at = _time_field(raw, "expires_at", where) if raw.get("expires_at") is not None else None
    digest = _str_field(raw, "hash", where)
    hexpart = digest.removeprefix(HASH_PREFIX)
    if not digest.startswith(HASH_PREFIX) or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise TokenFileError(f"{where}: field 'hash' must be 'sha256:' and 64 lowercase hex digits")
    return TokenEntry(token_id, name, role, scope, created_at, digest, expires_at)


def parse_tokens(doc: object, origin: str = "tokens file", units: OrgUnits | None = None) -> TokenSet:
    """The whole file (``{"version": 2, "tokens": [...]}``, or version 1); errors name the entry and field."""
    if not isinstance(doc, Mapping):
        raise TokenFileError(f"{origin}: must be a JSON object with a 'tokens' list")
    version = doc.get("version", FILE_VERSION)
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        readable = " or ".join(str(v) for v in READABLE_VERSIONS)
        raise TokenFileError(
            f"{origin}: field 'version' must be {readable}, got {version!r} (a newer hub wrote it? upgrade this one)"
        )
    items = doc.get("tokens")
    if not isinstance(items, list):
        raise TokenFileError(f"{origin}: field 'tokens' must be a list, got {type(items).__name__}")
    entries: list[TokenEntry] = []
    seen: dict[str, int] = {}
    hashes: set[str] = set()
    for i, raw in enumerate(items):
        entry = parse_entry(raw, f"{origin}: tokens[{i}]", units)
        if entry.id in seen:
            raise TokenFileError(f"{origin}: tokens[{i}]: field 'id' {entry.id!r} repeats tokens[{seen[entry.id]}]")
        if entry.hash in hashes:
            raise TokenFileError(f"{origin}: tokens[{i}] (id {entry.id}): field 'hash' repeats another entry's hash")
        seen[entry.id] = i
        hashes.add(entry.hash)
        entries.append(entry)
    return TokenSet(tuple(entries))


# -- file I/O ------------------------------------------------------------------


def default_tokens_path(data_dir: Path) -> Path:
    """Where tokens live unless told otherwise: ``<data_dir>/tokens.json``."""
    return data_dir / "tokens.json"


def read_tokens(path: Path, units: OrgUnits | None = None) -> TokenSet:
    """Load the tokens file; a missing file is an empty set."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return TokenSet()
    except OSError as exc:
        raise TokenFileError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokenFileError(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    return parse_tokens(doc, str(path), units)


def write_tokens(path: Path, tokens: TokenSet) -> None:
    """Replace the tokens file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dump_tokens(tokens), indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".tokens-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TokenFile:
    """A tokens file re-read whenever it changes, so ``hub tokens revoke`` takes effect without a restart.

    A file that becomes malformed raises :class:`TokenFileError` on every call
    until it is fixed (fail closed: no stale token stays valid).
    """

    def __init__(self, path: Path, units: OrgUnits | None = None) -> None:
        self.path = path
        self._units = units
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._tokens = TokenSet()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def __call__(self) -> TokenSet:
        """The current token set."""
        with self._lock:
            stamp = self._stat()
            if stamp is None:
                self._stamp, self._tokens = None, TokenSet()
            elif stamp != self._stamp:
                self._tokens = read_tokens(self.path, self._units)
                self._stamp = stamp
            return self._tokens


def add_token(path: Path, entry: TokenEntry) -> None:
    """Append ``entry`` to the file at ``path``."""
    write_tokens(path, read_tokens(path).add(entry))


def revoke_token(path: Path, token_id: str) -> TokenEntry:
    """Remove ``token_id`` from the file at ``path``; returns the removed entry."""
    remaining, removed = read_tokens(path).revoke(token_id)
    write_tokens(path, remaining)
    return removed
