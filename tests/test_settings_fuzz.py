"""Fuzzing the ``HUB_*`` settings: every bad value is refused in one line naming the variable and the rule.

Guaranteed for every setting, with values generated per rule (ports and counts
out of range, non-numbers, timeouts not in (0, 600], unknown choices, heap
sizes, cluster names, URLs and bootstrap lists of the wrong form, empty
paths, unreadable password files), given as environment variables or as
keyword values of :class:`~hub.settings.HubSettings`:

- :class:`~hub.errors.ConfigError` (a :class:`~hub.errors.HubError`) and
  nothing else, never pydantic's multi-line ``ValidationError``;
- one line, ``HUB_<NAME>: <rule>``;
- values inside the rules are still accepted (the checks tell good from bad);
- through the real ``hub`` command (environment or ``--env-file``): exit 1,
  no traceback, the variable on stderr.

Pure logic and CLI parsing: no broker needed. Examples are derandomized.
"""

from __future__ import annotations

import os
import string
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.errors import ConfigError
from hub.settings import HubSettings, load_settings

FUZZ = settings(max_examples=60, deadline=None, derandomize=True)
HUB: Final = str(Path(sys.executable).with_name("hub"))

WORDS: Final = st.text(string.ascii_letters + "-_/:. ", min_size=1, max_size=12).filter(
    lambda t: t.strip() != "" and not t.strip().lstrip("-").replace(".", "", 1).isdigit()
)


def _outside(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1)).map(str)


def _not_a_number() -> st.SearchStrategy[str]:
    return st.one_of(WORDS, st.sampled_from(["1.5", "1e3", "0x10", "true", "", " "]))


#: Per variable: values that break its rule (as the environment would give them: text).
BAD: Final[dict[str, st.SearchStrategy[str]]] = {
    "HUB_KAFKA_PORT": _outside(1, 65535) | _not_a_number(),
    "HUB_KAFKA_CONTROLLER_PORT": _outside(1, 65535) | _not_a_number(),
    "HUB_KAFKA_INTERNAL_PORT": _outside(1, 65535) | _not_a_number(),
    "HUB_KAFKA_TLS_PORT": _outside(1, 65535) | _not_a_number(),
    "HUB_RAW_PARTITIONS": _outside(1, 64) | _not_a_number(),
    "HUB_SHARED_PARTITIONS": _outside(1, 64) | _not_a_number(),
    "HUB_REPLICATION_FACTOR": _outside(1, 16) | _not_a_number(),
    "HUB_WORKER_INSTANCE": _outside(0, 63) | _not_a_number(),
    "HUB_REQUEST_TIMEOUT_S": st.one_of(
        st.floats(max_value=0).map(str),
        st.floats(min_value=600, exclude_min=True).map(str),
        st.just("nan"),
        WORDS,
    ),
    "HUB_KAFKA_HEAP": WORDS.filter(lambda t: t[-1:] not in "mMgG"),
    "HUB_REPORTING_CURRENCY": WORDS.filter(lambda t: t.strip() not in ("CNY", "HKD", "MOP")),
    "HUB_KAFKA_SECURITY_PROTOCOL": WORDS | st.sampled_from(["ssl", "SSL", "sasl_ssl "]),
    "HUB_KAFKA_SASL_MECHANISM": WORDS | st.sampled_from(["GSSAPI", "scram-sha-512", "OAUTHBEARER"]),
    "HUB_CLUSTER": st.sampled_from(["HK", "1cn", "hk-2", "a" * 17, "hk ", "_"]),
    "HUB_SCHEMA_REGISTRY_URL": WORDS
    | st.sampled_from(["http://", "ftp://registry:8081", "localhost:8081", "http:// registry", "https//x"]),
    "HUB_BOOTSTRAP_SERVERS": st.sampled_from(
        ["a:0", "a:70000", "a b:9092", ",", "a:9092,,b:9092", "a:", "a:x", "http://a:9092", "[::1:9092"]
    ),
    "HUB_DATABASE_URL": WORDS.filter(lambda t: "://" not in t) | st.sampled_from(["sqlite:/hub.db", "postgres:/h"]),
    "HUB_DATA_DIR": st.sampled_from(["", " ", "\t"]),
    "HUB_TOKENS_FILE": st.sampled_from(["", "  "]),
    "HUB_SECRETS_FILE": st.sampled_from(["", " "]),
    "HUB_AGREEMENTS_DIR": st.sampled_from(["", " "]),
    "HUB_TOPOLOGY_FILE": st.sampled_from(["", " "]),
    "HUB_STACK_DIR": st.sampled_from(["", " "]),
    "HUB_KAFKA_SSL_CAFILE": st.sampled_from(["", " "]),
    "HUB_KAFKA_SASL_PASSWORD_FILE": st.sampled_from(["", "/nonexistent/hub-password", "/"]),
}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Exactly ``values`` as the HUB_* part of the environment (hypothesis cannot use monkeypatch)."""
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    with mock.patch.dict(os.environ, {**clean, **values}, clear=True):
        yield


def _assert_one_line_naming(exc: ConfigError, variable: str) -> None:
    message = str(exc)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{variable}: "), message
    assert message[len(variable) + 2 :].strip(), message  # the rule, not just the name
    assert "pydantic" not in message and "For further information" not in message, message


def test_every_setting_has_a_bad_value_strategy() -> None:
    # a new setting must get its rule fuzzed here; free-form text (a login name, a password) has none
    free = {"HUB_KAFKA_SASL_USERNAME", "HUB_KAFKA_SASL_PASSWORD"}
    names = {f"HUB_{name.upper()}" for name in HubSettings.model_fields}
    assert names - free == set(BAD)


@FUZZ
@given(st.sampled_from(sorted(BAD)), st.data())
def test_a_bad_variable_is_one_line_naming_it_and_the_rule(variable: str, data: st.DataObject) -> None:
    value = data.draw(BAD[variable], label="value")
    with _environment({variable: value}), pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    _assert_one_line_naming(info.value, variable)


@FUZZ
@given(st.sampled_from(sorted(BAD)), st.data())
def test_a_bad_keyword_value_is_one_line_naming_its_variable(variable: str, data: st.DataObject) -> None:
    # the same rules when the value comes from code (cluster_settings builds HubSettings from a topology)
    value: Any = data.draw(BAD[variable], label="value")
    with _environment({}), pytest.raises(ConfigError) as info:
        HubSettings(**{variable.removeprefix("HUB_").lower(): value})
    _assert_one_line_naming(info.value, variable)


@FUZZ
@given(st.integers(1, 65535).filter(lambda p: p not in (9093, 9094)), st.floats(0.001, 600))
def test_values_inside_the_rules_are_accepted(port: int, timeout: float) -> None:
    env = {
        "HUB_KAFKA_PORT": str(port),
        "HUB_REQUEST_TIMEOUT_S": repr(timeout),
        "HUB_BOOTSTRAP_SERVERS": f"kafka-1.example:{port},[::1]:{port},localhost",
        "HUB_SCHEMA_REGISTRY_URL": f"https://registry.example:{port}/sr",
        "HUB_DATABASE_URL": "postgresql+psycopg://hub@db:5432/hub",
    }
    with _environment(env):
        loaded = load_settings(env_file=None)
    assert loaded.kafka_port == port and loaded.request_timeout_s == timeout


@FUZZ
@given(st.sampled_from(["HUB_KAFKA_PORT", "HUB_KAFKA_INTERNAL_PORT", "HUB_KAFKA_TLS_PORT"]))
def test_ports_that_collide_are_named_as_variables(variable: str) -> None:
    with _environment({variable: "9093"}), pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    message = str(info.value)
    assert len(message.splitlines()) == 1 and message.endswith("must differ"), message
    assert "HUB_KAFKA_PORT" in message and "HUB_KAFKA_CONTROLLER_PORT" in message, message


@pytest.mark.parametrize(
    ("content", "rule"), [(b"", "is empty"), (b"\xff\xfepassword", "is not UTF-8"), (None, "cannot read")]
)
def test_a_bad_password_file_is_named(tmp_path: Path, content: bytes | None, rule: str) -> None:
    path = tmp_path / "password"
    if content is not None:
        path.write_bytes(content)
    with _environment({"HUB_KAFKA_SASL_PASSWORD_FILE": str(path)}), pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    _assert_one_line_naming(info.value, "HUB_KAFKA_SASL_PASSWORD_FILE")
    assert rule in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"HUB_KAFKA_PORT=\xff\n", "not UTF-8"),
        (b"HUB_KAFKA_PORT\n", "expected NAME=value"),
        (b"HUB_KAFKA_PROT=1\n", "unknown setting HUB_KAFKA_PROT"),
        (b"HUB_KAFKA_PORT=70000\n", "HUB_KAFKA_PORT: Input should be less than or equal to 65535"),
    ],
)
def test_a_bad_env_file_is_one_line(tmp_path: Path, content: bytes, rule: str) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(content)
    with _environment({}), pytest.raises(ConfigError) as info:
        load_settings(env_file=env_file)
    assert len(str(info.value).splitlines()) == 1 and rule in str(info.value), str(info.value)


# -- the CLI boundary ----------------------------------------------------------------------------------
def _hub(tmp_path: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    return subprocess.run(
        [HUB, *options, "agreements", "check"],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HUB_KAFKA_PORT", "70000"),
        ("HUB_REQUEST_TIMEOUT_S", "-5"),
        ("HUB_SCHEMA_REGISTRY_URL", "registry:8081"),
        ("HUB_DATA_DIR", ""),
    ],
)
def test_hub_refuses_a_bad_variable_in_one_line(tmp_path: Path, variable: str, value: str) -> None:
    proc = _hub(tmp_path, {variable: value})
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"error: {variable}: ") and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_hub_refuses_a_non_utf8_env_file_in_one_line(tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_bytes(b"HUB_KAFKA_PORT=9\xe9\n")
    proc = _hub(tmp_path, {}, "--env-file", str(env_file))
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"error: {env_file}: not UTF-8") and len(proc.stderr.splitlines()) == 1
