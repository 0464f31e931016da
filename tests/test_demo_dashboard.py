"""The demo's dashboards: its analyst token in every site's tokens file, kept out of the terminal, and the URLs."""

from __future__ import annotations

import io
import stat
from pathlib import Path

from rich.console import Console

from demo.dashboard import TOKEN_NAME, analyst_token, announce, urls
from hub.settings import HubSettings, load_settings
from hub.tokens import TokenSet, issue, read_tokens, write_tokens


def _site(root: Path, name: str) -> HubSettings:
    return load_settings(env_file=None, data_dir=root / name)


def test_the_demo_token_replaces_its_predecessor_in_every_site_and_keeps_the_others(tmp_path: Path) -> None:
    sites = {"cn": _site(tmp_path, "cn"), "hk": _site(tmp_path, "hk")}
    _, someone = issue("analyst", name="someone")
    for settings in sites.values():
        assert settings.tokens_file is not None
        settings.tokens_file.parent.mkdir(parents=True, exist_ok=True)
        write_tokens(settings.tokens_file, TokenSet((someone,)))
    base = _site(tmp_path, "base")
    first = analyst_token(base, sites).read_text().strip()
    path = analyst_token(base, sites)
    second = path.read_text().strip()
    assert first != second and stat.S_IMODE(path.stat().st_mode) == 0o600
    for settings in sites.values():
        assert settings.tokens_file is not None
        tokens = read_tokens(settings.tokens_file)
        assert [e.name for e in tokens.entries].count(TOKEN_NAME) == 1
        assert tokens.authenticate(second) is not None and tokens.authenticate(first) is None
        assert tokens.get(someone.id) is not None
        entry = tokens.authenticate(second)
        assert entry is not None and entry.role == "analyst" and entry.expires_at is not None


def test_the_urls_take_consecutive_ports_and_the_announcement_never_shows_the_token(tmp_path: Path) -> None:
    sites = {"cn": _site(tmp_path, "cn"), "hk": _site(tmp_path, "hk"), "mo": _site(tmp_path, "mo")}
    assert urls(sites, "127.0.0.1", 8090) == {
        "cn": "http://127.0.0.1:8090/dashboard",
        "hk": "http://127.0.0.1:8091/dashboard",
        "mo": "http://127.0.0.1:8092/dashboard",
    }
    path = analyst_token(_site(tmp_path, "base"), sites)
    out = io.StringIO()
    announce(Console(file=out, width=200), sites, path, host="127.0.0.1", port=8090)
    text = out.getvalue()
    assert "dashboard of hk: http://127.0.0.1:8091/dashboard" in text and str(path) in text
    assert path.read_text().strip() not in text
