"""``hub tokens add|list|revoke`` through the console script."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub import tokens

HUB = str(Path(sys.executable).with_name("hub"))


def _hub(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env["HUB_DATA_DIR"] = str(data_dir)
    return subprocess.run([HUB, *args], capture_output=True, text=True, env=env, cwd=data_dir, timeout=120)


def test_cli_add_prints_the_token_once_list_hides_it_revoke_removes_it(tmp_path: Path) -> None:
    added = _hub(
        ["tokens", "add", "--role", "publisher", "--district", "shenzhen-nanshan", "--name", "ns-cms"], tmp_path
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert len(token) == 43 and "\n" not in token
    assert "Store this token now" in added.stderr and "only once" in added.stderr
    store = tokens.read_tokens(tmp_path / "tokens.json")
    entry = store.authenticate(token)
    assert entry is not None and entry.name == "ns-cms" and entry.scope.district == "shenzhen-nanshan"
    assert token not in (tmp_path / "tokens.json").read_text(encoding="utf-8")

    listed = _hub(["tokens", "list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert entry.id in listed.stdout and "GD/shenzhen-nanshan" in listed.stdout and "ns-cms" in listed.stdout
    assert token not in listed.stdout and entry.hash.removeprefix("sha256:") not in listed.stdout

    revoked = _hub(["tokens", "revoke", entry.id], tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert tokens.read_tokens(tmp_path / "tokens.json").authenticate(token) is None


def test_cli_add_with_an_expiry_stores_it_and_list_shows_it(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    added = _hub(["tokens", "add", "--role", "analyst", "--name", "thirty", "--expires-in", "30d"], tmp_path)
    after = datetime.now(UTC)
    assert added.returncode == 0, added.stderr
    entry = tokens.read_tokens(tmp_path / "tokens.json").authenticate(added.stdout.strip())
    assert entry is not None and entry.expires_at is not None
    assert before + timedelta(days=30) <= entry.expires_at <= after + timedelta(days=30)
    assert f"expires {tokens.format_time(entry.expires_at)}" in added.stderr

    dated = _hub(["tokens", "add", "--role", "partner", "--partner", "hk", "--expires-at", "2099-12-31"], tmp_path)
    assert dated.returncode == 0, dated.stderr
    assert "expires 2099-12-31T00:00:00Z" in dated.stderr
    forever = _hub(["tokens", "add", "--role", "admin", "--name", "ops"], tmp_path)
    assert forever.returncode == 0 and "never expires" in forever.stderr
    _, lapsed = tokens.issue(
        "analyst", name="lapsed", now=datetime(2026, 1, 1, tzinfo=UTC), expires_at=datetime(2026, 1, 2, tzinfo=UTC)
    )
    tokens.add_token(tmp_path / "tokens.json", lapsed)

    listed = _hub(["tokens", "list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    header, *lines = listed.stdout.splitlines()
    assert header.split() == ["ID", "ROLE", "SCOPE", "CREATED_AT", "EXPIRES_AT", "NAME"]
    by_name = {line.split()[-1]: line for line in lines}
    assert tokens.format_time(entry.expires_at) in by_name["thirty"] and "(expired)" not in by_name["thirty"]
    assert "2099-12-31T00:00:00Z" in by_name["partner-hk"]
    assert by_name["ops"].split()[4] == "never"
    assert "2026-01-02T00:00:00Z (expired)" in by_name["lapsed"]


def test_cli_refuses_a_bad_or_past_expiry(tmp_path: Path) -> None:
    both = _hub(["tokens", "add", "--role", "analyst", "--expires-in", "1d", "--expires-at", "2099-01-01"], tmp_path)
    assert both.returncode == 1 and "not both" in both.stderr
    unit = _hub(["tokens", "add", "--role", "analyst", "--expires-in", "1y"], tmp_path)
    assert unit.returncode == 1 and "a unit s, m, h, d or w" in unit.stderr
    past = _hub(["tokens", "add", "--role", "analyst", "--expires-at", "2020-01-01"], tmp_path)
    assert past.returncode == 1 and "2020-01-01T00:00:00Z is not after now" in past.stderr
    assert past.stdout == "" and not (tmp_path / "tokens.json").exists()  # nothing printed, nothing stored


def test_cli_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = _hub(["tokens", "add", "--role", "publisher", "--district", "atlantis"], tmp_path)
    assert bad.returncode == 1 and bad.stdout == ""
    assert "unknown district 'atlantis'" in bad.stderr
    missing = _hub(["tokens", "revoke", "tok_nope"], tmp_path)
    assert missing.returncode == 1 and "no token with id 'tok_nope'" in missing.stderr
    (tmp_path / "tokens.json").write_text('{"tokens": [{"id": "t1"}]}', encoding="utf-8")
    broken = _hub(["tokens", "list"], tmp_path)
    assert broken.returncode == 1
    assert "tokens[0] (id t1): missing field 'name'" in broken.stderr
