"""Bearer tokens: hashing, role and scope rules, expiry (pure) and the tokens file."""

from __future__ import annotations

import copy
import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from hub import tokens
from hub.tokens import Role, Scope, TokenEntry, TokenError, TokenFile, TokenFileError, TokenSet

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

# -- pure ----------------------------------------------------------------------


def test_issue_returns_a_fresh_token_and_stores_only_its_sha256() -> None:
    token, entry = tokens.issue("publisher", district="shenzhen-nanshan")
    other, _ = tokens.issue("publisher", district="shenzhen-nanshan")
    assert token != other
    assert len(token) == 43  # 32 random bytes, urlsafe base64 without padding
    assert entry.hash == "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    assert entry.role is Role.PUBLISHER
    assert entry.scope == Scope(region="GD", district="shenzhen-nanshan")
    assert entry.name == "publisher-shenzhen-nanshan"
    stored = json.dumps(tokens.entry_to_dict(entry))
    assert token not in stored and token not in repr(entry)


def test_publisher_region_comes_from_the_district() -> None:
    _, entry = tokens.issue(Role.PUBLISHER, district="hk-sham-shui-po", name="ssp")
    assert (entry.scope.region, entry.scope.district, entry.name) == ("HK", "hk-sham-shui-po", "ssp")


def test_partner_scope_is_normalised_to_lowercase() -> None:
    _, entry = tokens.issue("partner", partner="MO")
    assert entry.scope == Scope(partner="mo")


@pytest.mark.parametrize(
    ("role", "kwargs", "words"),
    [
        ("publisher", {}, ["needs a district", "--district"]),
        ("publisher", {"district": "atlantis"}, ["unknown district", "atlantis"]),
        ("publisher", {"district": "jinjiang", "partner": "fj"}, ["not to a partner"]),
        ("partner", {}, ["needs a partner id", "hk, mo, gd, js, fj"]),
        ("partner", {"partner": "tw"}, ["unknown partner", "'tw'"]),
        ("analyst", {"district": "jinjiang"}, ["analyst", "not scoped to a district"]),
        ("admin", {"partner": "hk"}, ["admin", "not scoped to a partner"]),
        ("root", {}, ["unknown role", "publisher, analyst, partner, admin"]),
    ],
)
def test_wrong_scopes_are_refused_with_a_reason(role: str, kwargs: dict[str, str], words: list[str]) -> None:
    with pytest.raises(TokenError) as info:
        tokens.issue(role, district=kwargs.get("district"), partner=kwargs.get("partner"))
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("role", "scope", "words"),
    [
        (Role.PARTNER, Scope(), ["partner token", "one partner id"]),
        (Role.PARTNER, Scope(partner="tw"), ["partner token", "'tw'"]),
        (Role.PARTNER, Scope(region="HK", district="hk-wan-chai", partner="hk"), ["partner token"]),
        (Role.PUBLISHER, Scope(region="GD"), ["publisher token", "region and district"]),
        (Role.PUBLISHER, Scope(region="GD", district="shenzhen-nanshan", partner="gd"), ["publisher token"]),
        (Role.ANALYST, Scope(partner="hk"), ["analyst token has no scope"]),
        (Role.ADMIN, Scope(region="GD", district="shenzhen-nanshan"), ["admin token has no scope"]),
    ],
)
def test_an_entry_cannot_be_built_with_a_scope_its_role_does_not_have(
    role: Role, scope: Scope, words: list[str]
) -> None:
    with pytest.raises(TokenError) as info:
        TokenEntry("tok_x", "x", role, scope, NOW, tokens.hash_token("t"))
    assert str(info.value).startswith("token tok_x: ")
    for word in words:
        assert word in str(info.value)


def test_authenticate_finds_the_entry_of_a_token_and_nothing_else() -> None:
    t1, e1 = tokens.issue("publisher", district="shenzhen-nanshan")
    t2, e2 = tokens.issue("analyst")
    store = TokenSet().add(e1).add(e2)
    assert store.authenticate(t1) == e1
    assert store.authenticate(t2) == e2
    assert store.authenticate(t1 + "x") is None
    assert store.authenticate(e1.hash) is None  # the stored hash is not a credential
    assert store.authenticate("") is None
    assert store.authenticate(None) is None


def test_role_sets_say_who_publishes_and_who_reads() -> None:
    roles = {
        "publisher": tokens.issue("publisher", district="shenzhen-nanshan")[1],
        "analyst": tokens.issue("analyst")[1],
        "partner": tokens.issue("partner", partner="hk")[1],
        "admin": tokens.issue("admin")[1],
    }
    assert [r for r, e in roles.items() if e.has_role(tokens.PUBLISHING_ROLES)] == ["publisher"]
    assert [r for r, e in roles.items() if e.has_role(tokens.READING_ROLES)] == ["analyst", "admin"]
    assert [r for r, e in roles.items() if e.can_publish] == ["publisher"]


def test_current_tokens_reads_a_set_as_it_is_and_calls_a_source(tmp_path: Path) -> None:
    _, entry = tokens.issue("analyst")
    fixed = TokenSet((entry,))
    assert tokens.current_tokens(fixed) is fixed
    path = tmp_path / "tokens.json"
    source = TokenFile(path)
    assert len(tokens.current_tokens(source)) == 0
    tokens.add_token(path, entry)
    assert tokens.current_tokens(source).get(entry.id) == entry


def test_revoke_removes_the_token() -> None:
    t1, e1 = tokens.issue("publisher", district="jinjiang")
    store, removed = TokenSet().add(e1).revoke(e1.id)
    assert removed == e1 and len(store) == 0
    assert store.authenticate(t1) is None
    with pytest.raises(TokenError, match="no token with id 'tok_missing'"):
        store.revoke("tok_missing")


def test_only_a_publisher_publishes_and_only_for_its_own_district() -> None:
    _, pub = tokens.issue("publisher", district="shenzhen-nanshan")
    assert pub.can_publish
    assert pub.may_publish_for("GD", "shenzhen-nanshan")
    assert pub.may_publish_for("gd", "shenzhen-nanshan")
    assert not pub.may_publish_for("GD", "guangzhou-tianhe")
    assert not pub.may_publish_for("HK", "shenzhen-nanshan")
    for role, partner in (("analyst", None), ("partner", "hk"), ("admin", None)):
        _, entry = tokens.issue(role, partner=partner)
        assert not entry.can_publish
        assert not entry.may_publish_for("GD", "shenzhen-nanshan")


# -- expiry ---------------------------------------------------------------------


def test_a_token_expires_at_its_expiry_and_not_before() -> None:
    _, entry = tokens.issue("analyst", expires_at=NOW + timedelta(days=30), now=NOW)
    assert entry.expires_at == datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
    assert not entry.expired(NOW)
    assert not entry.expired(entry.expires_at - timedelta(seconds=1))
    assert entry.expired(entry.expires_at)
    _, forever = tokens.issue("analyst", now=NOW)
    assert forever.expires_at is None and not forever.expired(datetime(9999, 1, 1, tzinfo=UTC))


def test_an_expiry_is_stored_in_utc_to_the_second() -> None:
    shanghai = timezone(timedelta(hours=8))
    _, entry = tokens.issue("admin", expires_at=datetime(2026, 12, 31, 18, 0, 0, 999_999, tzinfo=shanghai), now=NOW)
    assert entry.expires_at == datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
    assert tokens.entry_to_dict(entry)["expires_at"] == "2026-12-31T10:00:00Z"


@pytest.mark.parametrize(
    ("expires_at", "words"),
    [
        (NOW, ["is not after now", "2026-03-01T08:00:00Z"]),
        (NOW - timedelta(days=1), ["2026-02-28T08:00:00Z", "is not after now"]),
        (datetime(2027, 1, 1), ["needs a UTC offset"]),
    ],
)
def test_an_expiry_in_the_past_or_without_offset_is_refused(expires_at: datetime, words: list[str]) -> None:
    with pytest.raises(TokenError) as info:
        tokens.issue("analyst", expires_at=expires_at, now=NOW)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_durations_are_a_number_and_a_unit(text: str, delta: timedelta) -> None:
    assert tokens.parse_duration(text) == delta
    assert tokens.expiry_of(text, None, NOW) == NOW + delta


@pytest.mark.parametrize("text", ["", "30", "d", "0d", "-1d", "1.5d", "30 days", "1y", "1d12h"])
def test_other_durations_are_refused_with_the_form(text: str) -> None:
    with pytest.raises(TokenError, match=r"positive whole number and a unit s, m, h, d or w \(e\.g\. 30d, 12h\)"):
        tokens.parse_duration(text)


def test_expiry_dates_and_timestamps() -> None:
    assert tokens.parse_expiry("2026-12-31") == datetime(2026, 12, 31, tzinfo=UTC)
    assert tokens.parse_expiry("2026-12-31T18:00:00+08:00") == datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
    assert tokens.parse_expiry("2026-12-31T10:00:00Z") == datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
    assert tokens.expiry_of(None, "2026-12-31", NOW) == datetime(2026, 12, 31, tzinfo=UTC)
    assert tokens.expiry_of(None, None, NOW) is None
    with pytest.raises(TokenError, match="needs a UTC offset"):
        tokens.parse_expiry("2026-12-31T18:00:00")
    with pytest.raises(TokenError, match="expected an ISO-8601 date"):
        tokens.parse_expiry("next tuesday")
    with pytest.raises(TokenError, match="expected an ISO-8601 date"):
        tokens.parse_expiry("2026-02-30")
    with pytest.raises(TokenError, match="--expires-in or --expires-at, not both"):
        tokens.expiry_of("30d", "2026-12-31", NOW)


# -- the file's JSON form --------------------------------------------------------


def _doc() -> dict[str, Any]:
    _, pub = tokens.issue("publisher", district="shenzhen-nanshan", now=NOW)
    _, partner = tokens.issue("partner", partner="hk", expires_at=datetime(2026, 6, 1, tzinfo=UTC), now=NOW)
    return tokens.dump_tokens(TokenSet((pub, partner)))


def test_dump_and_parse_round_trip() -> None:
    doc = _doc()
    parsed = tokens.parse_tokens(doc)
    assert tokens.dump_tokens(parsed) == doc
    assert doc["version"] == 2
    assert doc["tokens"][0]["created_at"] == "2026-03-01T08:00:00Z"
    assert doc["tokens"][0]["scope"] == {"region": "GD", "district": "shenzhen-nanshan"}
    assert "expires_at" not in doc["tokens"][0]  # no expiry: the field is left out
    assert doc["tokens"][1]["expires_at"] == "2026-06-01T00:00:00Z"
    assert parsed.entries[1].expires_at == datetime(2026, 6, 1, tzinfo=UTC)


def test_a_version_1_file_is_read_and_its_tokens_never_expire() -> None:
    written_before_expiry = {
        "version": 1,
        "tokens": [
            {
                "id": "tok_3bcf25865237",
                "name": "nanshan-cms",
                "role": "publisher",
                "scope": {"region": "GD", "district": "shenzhen-nanshan"},
                "created_at": "2026-03-01T08:00:00Z",
                "hash": "sha256:" + "ab" * 32,
            }
        ],
    }
    [entry] = tokens.parse_tokens(written_before_expiry).entries
    assert entry.expires_at is None and not entry.expired(datetime(2100, 1, 1, tzinfo=UTC))
    assert tokens.parse_tokens({"tokens": written_before_expiry["tokens"]}) == TokenSet((entry,))  # no version: 2
    rewritten = tokens.dump_tokens(TokenSet((entry,)))
    assert rewritten["version"] == 2 and rewritten["tokens"] == written_before_expiry["tokens"]


def test_a_null_expiry_is_no_expiry() -> None:
    doc = _doc()
    doc["tokens"][1]["expires_at"] = None
    assert tokens.parse_tokens(doc).entries[1].expires_at is None


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target = doc
    for part in path[:-1]:
        target = target[part]
    if value is _DEL:
        del target[path[-1]]
    else:
        target[path[-1]] = value


_DEL = object()


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("tokens", 0, "hash"), _DEL, ["tokens[0]", "missing field 'hash'"]),
        (("tokens", 0, "hash"), "md5:abc", ["tokens[0]", "field 'hash'", "sha256"]),
        (("tokens", 1, "role"), "superuser", ["tokens[1]", "field 'role'", "superuser"]),
        (("tokens", 1, "name"), 7, ["tokens[1]", "field 'name'", "non-empty string"]),
        (("tokens", 0, "id"), "", ["tokens[0]", "field 'id'"]),
        (("tokens", 0, "created_at"), "yesterday", ["tokens[0]", "field 'created_at'", "ISO-8601"]),
        (("tokens", 0, "created_at"), "2026-03-01T08:00:00", ["tokens[0]", "field 'created_at'", "UTC offset"]),
        (("tokens", 1, "expires_at"), "soon", ["tokens[1]", "field 'expires_at'", "ISO-8601"]),
        (("tokens", 1, "expires_at"), "2026-06-01T00:00:00", ["tokens[1]", "field 'expires_at'", "UTC offset"]),
        (("tokens", 1, "expires_at"), 1780272000, ["tokens[1]", "field 'expires_at'", "non-empty string"]),
        (("tokens", 0, "scope"), {"district": "atlantis"}, ["tokens[0]", "field 'scope'", "atlantis"]),
        (("tokens", 0, "scope", "region"), "HK", ["tokens[0]", "field 'scope'", "region GD"]),
        (("tokens", 0, "scope", "city"), "shenzhen", ["tokens[0]", "field 'scope'", "unknown keys", "city"]),
        (("tokens", 1, "scope"), {}, ["tokens[1]", "field 'scope'", "partner id"]),
        (("tokens", 1, "scope"), ["hk"], ["tokens[1]", "field 'scope'", "object"]),
        (("tokens", 1), "tok_x", ["tokens[1]", "must be an object"]),
        (("tokens",), {}, ["field 'tokens' must be a list"]),
        (("version",), 3, ["field 'version' must be 1 or 2", "got 3", "upgrade"]),
        (("version",), True, ["field 'version' must be 1 or 2"]),
    ],
)
def test_malformed_file_names_the_entry_and_field(path: tuple[Any, ...], value: Any, words: list[str]) -> None:
    doc = copy.deepcopy(_doc())
    _set(doc, path, value)
    with pytest.raises(TokenFileError) as info:
        tokens.parse_tokens(doc, "tokens.json")
    message = str(info.value)
    assert message.startswith("tokens.json:")
    for word in words:
        assert word in message, message


def test_entry_errors_name_the_token_id_too() -> None:
    doc = _doc()
    token_id = doc["tokens"][1]["id"]
    doc["tokens"][1]["role"] = "root"
    with pytest.raises(TokenFileError, match=rf"tokens\[1\] \(id {token_id}\): field 'role'"):
        tokens.parse_tokens(doc)


def test_repeated_ids_and_hashes_are_refused() -> None:
    doc = _doc()
    doc["tokens"][1]["id"] = doc["tokens"][0]["id"]
    with pytest.raises(TokenFileError, match=r"tokens\[1\]: field 'id' .* repeats tokens\[0\]"):
        tokens.parse_tokens(doc)
    doc = _doc()
    doc["tokens"].append({**doc["tokens"][0], "id": "tok_copy"})
    with pytest.raises(TokenFileError, match=r"tokens\[2\] \(id tok_copy\): field 'hash' repeats"):
        tokens.parse_tokens(doc)


# -- the file ------------------------------------------------------------------


def test_write_then_read_keeps_every_entry_and_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.json"
    t1, e1 = tokens.issue("publisher", district="yancheng-tinghu")
    t2, e2 = tokens.issue("admin", name="ops")
    tokens.write_tokens(path, TokenSet((e1, e2)))
    assert tokens.read_tokens(path) == TokenSet((e1, e2))
    text = path.read_text(encoding="utf-8")
    assert t1 not in text and t2 not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]  # no temporary file left behind


def test_missing_file_is_an_empty_set(tmp_path: Path) -> None:
    assert len(tokens.read_tokens(tmp_path / "absent.json")) == 0


def test_invalid_json_is_located(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"tokens": [\n  {"id": "a",}\n]}', encoding="utf-8")
    with pytest.raises(TokenFileError, match=r"tokens\.json: not valid JSON at line 2 column"):
        tokens.read_tokens(path)


def test_add_and_revoke_on_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    t1, e1 = tokens.issue("publisher", district="jinjiang")
    _, e2 = tokens.issue("analyst")
    tokens.add_token(path, e1)
    tokens.add_token(path, e2)
    assert tokens.read_tokens(path).authenticate(t1) == e1
    assert tokens.revoke_token(path, e1.id) == e1
    assert tokens.read_tokens(path) == TokenSet((e2,))


def test_token_file_sees_revocation_and_fails_closed_on_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    source = TokenFile(path)
    assert len(source()) == 0
    t1, e1 = tokens.issue("publisher", district="shenzhen-nanshan")
    tokens.add_token(path, e1)
    assert source().authenticate(t1) == e1
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenFileError):
        source()
    with pytest.raises(TokenFileError):  # still broken: the old set is not served
        source()
    tokens.write_tokens(path, TokenSet((e1,)))
    assert source().authenticate(t1) == e1
    tokens.revoke_token(path, e1.id)
    assert source().authenticate(t1) is None


def test_default_path_is_in_the_data_dir(tmp_path: Path) -> None:
    assert tokens.default_tokens_path(tmp_path) == tmp_path / "tokens.json"
