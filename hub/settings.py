"""Typed settings, built once from ``HUB_*`` variables and an optional ``.env``.

Build them with :func:`load_settings` at the edge (CLI, app factory, test
fixture) and pass the object down; nothing else in the hub reads the
environment.

A bad value never gets through and never leaks pydantic's multi-line report:
constructing :class:`HubSettings` (directly, from the environment or from a
``.env`` file) raises :class:`~hub.errors.ConfigError`, one line that starts
with the ``HUB_*`` variable and says the rule it breaks (the first problem
only). URLs, bootstrap servers and paths are checked for form, not reached.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigError

ENV_PREFIX = "HUB_"
#: Families of variables whose names are data, not fields (e.g. one HMAC key
#: per agreement). They are read by the component that owns them.
DYNAMIC_PREFIXES: tuple[str, ...] = ("HUB_AGREEMENT_KEY_",)

Currency = Literal["CNY", "HKD", "MOP"]
SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]

_PATH_FIELDS = (
    "data_dir",
    "tokens_file",
    "secrets_file",
    "agreements_dir",
    "kafka_sasl_password_file",
    "kafka_ssl_cafile",
    "stack_dir",
    "topology_file",
)
# host[:port] with a DNS name, an IPv4 address or a bracketed IPv6 address
_SERVER = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$")
_HTTP_URL = re.compile(r"^https?://[^\s/?#]+(?:[/?#]\S*)?$")
_DB_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$")


class HubSettings(BaseSettings):
    """Everything a hub process needs to know about its surroundings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",  # unknown HUB_ names are caught by _check_unknown
        frozen=True,
        case_sensitive=False,
    )

    data_dir: Path = Field(Path(".hub"), description="Local state: broker data, logs, SQLite, pid files.")
    kafka_port: int = Field(9092, ge=1, le=65535, description="Port of the local broker's client listener.")
    kafka_controller_port: int = Field(9093, ge=1, le=65535, description="Port of the local KRaft controller.")
    kafka_heap: str = Field("1g", pattern=r"^\d+[mMgG]$", description="Max heap of the local broker (-Xmx).")
    bootstrap_servers: str = Field("", description="Kafka bootstrap servers; defaults to the local broker.")
    schema_registry_url: str = Field("http://127.0.0.1:8081", description="Confluent-compatible schema registry.")
    database_url: str = Field("", description="SQLAlchemy URL of the read models; defaults to SQLite in data_dir.")
    reporting_currency: Currency = Field("CNY", description="Currency reports are converted into.")
    raw_partitions: int = Field(1, ge=1, le=64, description="Partitions of each raw.<region>.<district>.<event> topic.")
    shared_partitions: int = Field(3, ge=1, le=64, description="Partitions of each shared.<zone>.<event> topic.")
    replication_factor: int = Field(1, ge=1, le=16, description="Replication factor of hub topics.")
    request_timeout_s: float = Field(10.0, gt=0, le=600, description="Bound on any single broker round trip.")
    tokens_file: Path | None = Field(None, description="Hashed API tokens; defaults to data_dir/tokens.json.")
    secrets_file: Path | None = Field(None, description="File of agreement HMAC keys (NAME=value lines), outside git.")
    agreements_dir: Path | None = Field(None, description="Data-sharing agreements; defaults to the shipped ones.")
    kafka_security_protocol: SecurityProtocol | None = Field(
        None,
        description="How clients reach Kafka; unset: SASL_PLAINTEXT if the local broker is secured, else PLAINTEXT.",
    )
    kafka_sasl_mechanism: SaslMechanism = Field("SCRAM-SHA-512", description="SASL mechanism of the client login.")
    kafka_sasl_username: str = Field("", description="Kafka principal to log in as; unset: the component's own.")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="Password of kafka_sasl_username.")
    kafka_sasl_password_file: Path | None = Field(
        None, description="File holding the password (wins over the variable)."
    )
    kafka_ssl_cafile: Path | None = Field(None, description="PEM CA bundle that signed the brokers' certificates.")
    kafka_internal_port: int = Field(
        9094, ge=1, le=65535, description="Port of the local broker's inter-broker listener."
    )
    kafka_tls_port: int | None = Field(
        None, ge=1, le=65535, description="Port of an optional SASL_SSL client listener."
    )
    cluster: str = Field(
        "",
        pattern=r"^([a-z][a-z0-9]{0,15})?$",
        description="Cluster of the topology these settings are for (set by --cluster); empty: a single cluster.",
    )
    stack_dir: Path | None = Field(
        None, description="Folder of a multi-cluster stack (<stack_dir>/clusters/<name>); set with cluster."
    )
    topology_file: Path | None = Field(
        None, description="The jurisdictions and their clusters; defaults to the shipped one."
    )
    worker_instance: int = Field(
        0,
        ge=0,
        le=63,
        description="Which instance of a scaled-out worker this process is (set by --instance); the instances of "
        "one worker share its consumer group and partitions, each with files of its own.",
    )

    def __init__(self, **values: Any) -> None:
        # The one boundary of every construction (load_settings, cluster_settings): a HubError, one line.
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_first_problem(exc)) from exc

    @field_validator(*_PATH_FIELDS, mode="before")
    @classmethod
    def _path_given(cls, value: Any) -> Any:
        # An empty HUB_DATA_DIR= would silently mean the current directory.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty (unset the variable for the default)")
        if isinstance(value, (str, Path)) and "\x00" in str(value):
            raise ValueError("must not contain a NUL character")
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str) -> str:
        if not value:
            return value  # derived from kafka_port below
        for entry in value.split(","):
            match = _SERVER.fullmatch(entry.strip())
            if match is None or (match.group(1) is not None and not 1 <= int(match.group(1)) <= 65535):
                raise ValueError(f"{entry.strip()!r} is not host:port (port 1-65535), in a comma-separated list")
        return value

    @field_validator("schema_registry_url")
    @classmethod
    def _registry_url(cls, value: str) -> str:
        if not _HTTP_URL.fullmatch(value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and not _DB_URL.fullmatch(value):
            raise ValueError(f"{value!r} is not a SQLAlchemy URL (dialect://..., e.g. sqlite:///hub.db)")
        return value

    @model_validator(mode="after")
    def _derive_defaults(self) -> HubSettings:
        # Paths are made absolute once, here: child processes run in other directories.
        for name in _PATH_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).expanduser().resolve())
        if not self.bootstrap_servers:
            object.__setattr__(self, "bootstrap_servers", f"127.0.0.1:{self.kafka_port}")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'hub.db'}")
        else:
            object.__setattr__(self, "database_url", absolute_sqlite_url(self.database_url))
        if self.tokens_file is None:
            object.__setattr__(self, "tokens_file", self.data_dir / "tokens.json")
        ports = [self.kafka_port, self.kafka_controller_port, self.kafka_internal_port, self.kafka_tls_port]
        given = [p for p in ports if p is not None]
        if len(set(given)) != len(given):
            raise ValueError(
                "HUB_KAFKA_PORT, HUB_KAFKA_CONTROLLER_PORT, HUB_KAFKA_INTERNAL_PORT and HUB_KAFKA_TLS_PORT must differ"
            )
        if self.kafka_sasl_password_file is not None:
            object.__setattr__(self, "kafka_sasl_password", SecretStr(_read_secret(self.kafka_sasl_password_file)))
        return self

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]


def _read_secret(path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"HUB_KAFKA_SASL_PASSWORD_FILE: cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"HUB_KAFKA_SASL_PASSWORD_FILE: {path} is not UTF-8 text ({exc.reason})") from exc
    if not value:
        raise ValueError(f"HUB_KAFKA_SASL_PASSWORD_FILE: {path} is empty")
    return value


def _first_problem(exc: ValidationError) -> str:
    """``HUB_NAME: rule`` of the first error; a check of several fields names its variables itself."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    message = str(cause) if isinstance(cause, ValueError) else err["msg"]
    message = " ".join(message.split())  # one line, whatever the rule's text
    return f"{_env_name(loc)}: {message}" if loc else message


def absolute_sqlite_url(url: str) -> str:
    """``sqlite:///relative.db`` -> ``sqlite:////abs/relative.db``; other URLs unchanged."""
    head, sep, path = url.partition(":///")
    if not sep or not head.startswith("sqlite") or path.startswith("/") or path.startswith(":memory:") or not path:
        return url
    return f"{head}:///{Path(path).resolve()}"


def as_environment(settings: HubSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child process: ``environ`` without its ``HUB_*`` settings, then ``settings``
    written as ``HUB_*`` variables (agreement keys and other dynamic variables pass through)."""
    env = {k: v for k, v in environ.items() if not k.upper().startswith(ENV_PREFIX)}
    env.update({k: v for k, v in environ.items() if k.upper().startswith(DYNAMIC_PREFIXES)})
    for name in HubSettings.model_fields:
        value = getattr(settings, name)
        if name == "kafka_sasl_password" and settings.kafka_sasl_password_file is not None:
            continue  # the child reads the same file: the password stays out of its environment
        if isinstance(value, SecretStr):
            value = value.get_secret_value() or None
        if value is not None:
            env[_env_name(name)] = str(value)
    return env


def _env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def known_variables() -> list[str]:
    return sorted(_env_name(name) for name in HubSettings.model_fields)


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the settings file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        if "=" not in line:
            raise ConfigError(f"{path}:{lineno}: expected NAME=value, got {raw!r}")
        name, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def _check_unknown(names: list[str], origin: str) -> None:
    known = set(known_variables())
    for name in names:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or upper.startswith(DYNAMIC_PREFIXES):
            continue
        hint = difflib.get_close_matches(upper, known, n=1)
        suggestion = f" (did you mean {hint[0]}?)" if hint else ""
        raise ConfigError(f"unknown setting {name} in {origin}{suggestion}")


def load_settings(env_file: Path | None = Path(".env"), **overrides: object) -> HubSettings:
    """Build the settings: ``overrides`` > environment > ``.env`` > defaults.

    Raises :class:`ConfigError` with one line naming the offending variable.
    """
    if env_file is not None and env_file.is_file():
        _check_unknown(list(_read_env_file(env_file)), str(env_file))
    else:
        env_file = None
    _check_unknown(list(os.environ), "the environment")
    given = {k: v for k, v in overrides.items() if v is not None}
    return HubSettings(_env_file=env_file, **given)  # ConfigError, one line, on any bad value
