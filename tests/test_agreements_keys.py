"""HMAC keys of the agreements: the variable rule, environment and secrets file (hub.agreements.keys)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.agreements.keys import (
    MIN_KEY_BYTES,
    generate_key,
    key_variable,
    load_key,
    read_secrets_file,
    write_demo_secrets,
)
from hub.agreements.model import Agreement
from hub.errors import ConfigError, PolicyError
from tests.agreement_cases import shipped_agreements


@pytest.fixture(scope="module")
def shipped() -> dict[str, Agreement]:
    return shipped_agreements()


def test_key_variable_rule() -> None:
    assert key_variable("gd-exchange") == "HUB_AGREEMENT_KEY_GD_EXCHANGE"
    assert key_variable("hk-2026-pilot") == "HUB_AGREEMENT_KEY_HK_2026_PILOT"


def _secrets(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_key_from_environment_wins_over_secrets_file(shipped: dict[str, Agreement], tmp_path: Path) -> None:
    env_value, file_value = generate_key(), generate_key()
    path = _secrets(tmp_path, f"# keys\nexport HUB_AGREEMENT_KEY_GD_EXCHANGE='{file_value}'\n")
    assert load_key(shipped["GD"], {}, path) == file_value.encode()
    assert load_key(shipped["GD"], {"HUB_AGREEMENT_KEY_GD_EXCHANGE": env_value}, path) == env_value.encode()


def test_missing_key_names_the_variable_and_the_secrets_option(shipped: dict[str, Agreement], tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_key(shipped["HK"], {"HUB_AGREEMENT_KEY_GD_EXCHANGE": generate_key()}, None)
    assert "HUB_AGREEMENT_KEY_HK_EXCHANGE" in str(info.value) and "HUB_SECRETS_FILE" in str(info.value)
    path = _secrets(tmp_path, f"HUB_AGREEMENT_KEY_GD_EXCHANGE={generate_key()}\n")
    with pytest.raises(PolicyError, match=r"HUB_AGREEMENT_KEY_HK_EXCHANGE.*secrets\.env"):
        load_key(shipped["HK"], {}, path)


def test_short_key_is_refused_without_echoing_it(shipped: dict[str, Agreement]) -> None:
    short = "s3cr3t-but-too-short-0123456789"  # 31 bytes
    with pytest.raises(PolicyError, match=r"HUB_AGREEMENT_KEY_MO_EXCHANGE.* is 31 bytes") as info:
        load_key(shipped["MO"], {"HUB_AGREEMENT_KEY_MO_EXCHANGE": short}, None)
    assert short not in str(info.value)
    assert len(load_key(shipped["MO"], {"HUB_AGREEMENT_KEY_MO_EXCHANGE": short + "x"}, None)) == 32


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_world_readable_secrets_file_is_refused(shipped: dict[str, Agreement], tmp_path: Path) -> None:
    path = _secrets(tmp_path, f"HUB_AGREEMENT_KEY_GD_EXCHANGE={generate_key()}\n", mode=0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key(shipped["GD"], {}, path)


def test_malformed_secrets_file_names_the_line_not_the_content(tmp_path: Path) -> None:
    path = _secrets(tmp_path, "HUB_AGREEMENT_KEY_GD_EXCHANGE=ok\nleaked-key-material\n")
    with pytest.raises(ConfigError, match=r"secrets\.env:2: expected NAME=value") as info:
        read_secrets_file(path)
    assert "leaked-key-material" not in str(info.value)


def test_write_demo_secrets_creates_then_only_fills_gaps(shipped: dict[str, Agreement], tmp_path: Path) -> None:
    path = tmp_path / ".hub" / "secrets.env"
    written = write_demo_secrets(path, [shipped["GD"], shipped["HK"]])
    assert written == ["HUB_AGREEMENT_KEY_GD_EXCHANGE", "HUB_AGREEMENT_KEY_HK_EXCHANGE"]
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
    first = read_secrets_file(path)
    assert write_demo_secrets(path, shipped.values()) == [
        "HUB_AGREEMENT_KEY_FJ_EXCHANGE",
        "HUB_AGREEMENT_KEY_JS_EXCHANGE",
        "HUB_AGREEMENT_KEY_MO_EXCHANGE",
    ]
    assert write_demo_secrets(path, shipped.values()) == []
    second = read_secrets_file(path)
    assert {k: second[k] for k in first} == first  # existing keys never replaced
    for agreement in shipped.values():
        assert len(load_key(agreement, {}, path)) >= MIN_KEY_BYTES
