from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from hub.errors import ConfigError
from hub.settings import known_variables, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("HUB_"):
            monkeypatch.delenv(name)


def test_defaults_are_derived_from_port_and_data_dir(tmp_path: Path) -> None:
    s = load_settings(env_file=None, data_dir=tmp_path, kafka_port=9300)
    assert s.bootstrap_servers == "127.0.0.1:9300"
    assert s.database_url == f"sqlite:///{tmp_path / 'hub.db'}"
    assert s.reporting_currency == "CNY"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BOOTSTRAP_SERVERS", "a:1,b:2")
    monkeypatch.setenv("HUB_REPORTING_CURRENCY", "HKD")
    s = load_settings(env_file=None)
    assert s.bootstrap_list == ["a:1", "b:2"]
    assert s.reporting_currency == "HKD"


def test_unknown_variable_is_named_with_a_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BOOTSTRAP_SERVER", "x:1")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    msg = str(info.value)
    assert "HUB_BOOTSTRAP_SERVER " in msg and "did you mean HUB_BOOTSTRAP_SERVERS" in msg
    assert "\n" not in msg


def test_unknown_variable_in_env_file_is_named(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("OTHER_TOOL=1\nHUB_DATA_DIR=/tmp/x\nHUB_NOPE=1\n")
    with pytest.raises(ConfigError, match=r"unknown setting HUB_NOPE in .*\.env"):
        load_settings(env_file=env)


def test_env_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\nexport HUB_KAFKA_PORT=9400\nHUB_REPORTING_CURRENCY='MOP'\n")
    monkeypatch.setenv("HUB_KAFKA_PORT", "9500")
    s = load_settings(env_file=env)
    assert s.kafka_port == 9500
    assert s.reporting_currency == "MOP"


def test_bad_value_names_the_variable_and_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA_PORT", "ninety")
    with pytest.raises(ConfigError, match=r"^HUB_KAFKA_PORT: Input should be a valid integer"):
        load_settings(env_file=None)
    monkeypatch.setenv("HUB_KAFKA_PORT", "9092")
    monkeypatch.setenv("HUB_REPORTING_CURRENCY", "USD")
    with pytest.raises(ConfigError, match=r"^HUB_REPORTING_CURRENCY: Input should be 'CNY', 'HKD' or 'MOP'"):
        load_settings(env_file=None)


def test_ports_must_differ() -> None:
    with pytest.raises(ConfigError, match="must differ"):
        load_settings(env_file=None, kafka_port=9000, kafka_controller_port=9000)


def test_agreement_keys_are_not_unknown_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_AGREEMENT_KEY_GD_GBA", "secret")
    load_settings(env_file=None)


def test_settings_are_frozen() -> None:
    s = load_settings(env_file=None)
    with pytest.raises(PydanticValidationError):
        s.kafka_port = 1  # type: ignore[misc]


def test_known_variables_cover_the_issue_list() -> None:
    names = set(known_variables())
    for required in (
        "HUB_BOOTSTRAP_SERVERS",
        "HUB_SCHEMA_REGISTRY_URL",
        "HUB_DATABASE_URL",
        "HUB_DATA_DIR",
        "HUB_REPORTING_CURRENCY",
    ):
        assert required in names


def test_relative_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(env_file=None, data_dir=Path(".hub"), secrets_file=Path("keys.env"))
    assert s.data_dir == tmp_path / ".hub"
    assert s.secrets_file == tmp_path / "keys.env"
    assert s.database_url == f"sqlite:///{tmp_path / '.hub' / 'hub.db'}"
    rel = load_settings(env_file=None, database_url="sqlite:///data/read.db")
    assert rel.database_url == f"sqlite:///{tmp_path / 'data' / 'read.db'}"
    for url in ("sqlite:////abs/x.db", "sqlite:///:memory:", "postgresql+psycopg://u@h/db"):
        assert load_settings(env_file=None, database_url=url).database_url == url


def test_as_environment_round_trips_and_keeps_agreement_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.settings import as_environment

    s = load_settings(env_file=None, data_dir=tmp_path, kafka_port=9555)
    env = as_environment(s, {"PATH": "/bin", "HUB_KAFKA_PORT": "1", "HUB_AGREEMENT_KEY_GD_EXCHANGE": "k" * 40})
    assert env["PATH"] == "/bin" and env["HUB_KAFKA_PORT"] == "9555"
    assert env["HUB_AGREEMENT_KEY_GD_EXCHANGE"] == "k" * 40
    assert "HUB_SECRETS_FILE" not in env  # unset settings are not written as "None"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings(env_file=None) == s
