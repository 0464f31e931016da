"""How opening a Kafka client tells a broker that came back late from a login refused without a word.

kafka-python raises only a timeout when its bootstrap gets no session. While a broker is down its reconnect
backoff grows to many seconds, so a broker back late in the open's window (a restart) gets no new attempt
before the timeout, and the port is open by then: the same picture as a listener that never gives a session.
:func:`hub.kafka_clients.new_consumer` tries once more in that case. A refused login would be fatal to every
component (never retried); a broker outage is waited out.

Pure logic: kafka-python's ``KafkaConsumer`` is replaced by a stand-in that times out a given number of times
(the real broker race depends on its backoff's timing, which a test cannot pin), over a real listening socket,
so the port check is the real one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError

from hub import kafka_clients
from hub.errors import BrokerError, KafkaAuthError
from hub.settings import HubSettings, load_settings
from tests.conftest import free_port


class _TimesOut:
    """A stand-in for ``KafkaConsumer`` whose first ``failures`` constructions time out."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, **config: Any) -> object:
        self.calls += 1
        if self.calls <= self.failures:
            raise KafkaTimeoutError("Failed to update metadata after 10.0 secs.")
        return self


@pytest.fixture
def listening() -> Iterator[int]:
    """A port that accepts TCP connections (and never speaks Kafka)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def _settings(tmp_path: Path, port: int) -> HubSettings:
    return load_settings(
        env_file=None,
        data_dir=tmp_path,
        bootstrap_servers=f"127.0.0.1:{port}",
        kafka_sasl_username="partner.hk",
        kafka_sasl_password="secret",
        request_timeout_s=1.0,
    )


def test_a_broker_back_late_in_the_window_is_opened_on_the_second_attempt(
    tmp_path: Path, listening: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _TimesOut(failures=1)
    monkeypatch.setattr(kafka_clients, "KafkaConsumer", client)
    assert kafka_clients.new_consumer(_settings(tmp_path, listening), client_id="t") is client
    assert client.calls == 2


def test_a_port_open_through_two_attempts_without_a_session_is_a_refused_login(
    tmp_path: Path, listening: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _TimesOut(failures=2)
    monkeypatch.setattr(kafka_clients, "KafkaConsumer", client)
    with pytest.raises(KafkaAuthError, match=r"accepted the connection but no session for User:partner\.hk"):
        kafka_clients.new_consumer(_settings(tmp_path, listening), client_id="t")
    assert client.calls == 2


def test_a_closed_port_is_an_outage_after_one_attempt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _TimesOut(failures=1)
    monkeypatch.setattr(kafka_clients, "KafkaConsumer", client)
    with pytest.raises(BrokerError, match="no Kafka broker answered"):
        kafka_clients.new_consumer(_settings(tmp_path, free_port()), client_id="t")
    assert client.calls == 1
