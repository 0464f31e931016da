"""``hub tokens add|list|revoke`` through the console script."""

from __future__ import annotations

import os
import subprocess
import sys
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
