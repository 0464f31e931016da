"""The local broker manager, against the real broker of the session."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

from hub import local_kafka
from hub.errors import ConfigError
from hub.settings import HubSettings, load_settings
from tests.conftest import broker_settings, free_port


def test_java_version_parsing() -> None:
    assert local_kafka.java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert local_kafka.java_major('java version "1.8.0_392"') == 8
    assert local_kafka.java_major('openjdk version "21" 2023-09-19') == 21
    assert local_kafka.java_major("garbage") is None


def test_missing_java_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_kafka.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError) as info:
        local_kafka.check_java()
    assert "Java 17+" in str(info.value) and "install" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_maven_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load_settings(env_file=None, data_dir=tmp_path)
    monkeypatch.setattr(local_kafka.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match=r"Maven 3\.8\+ is needed .*install"):
        local_kafka.resolve_classpath(settings)


def test_kafka_version_is_pinned_4x() -> None:
    assert int(local_kafka.kafka_version().split(".")[0]) == 4


def test_start_twice_is_a_noop(kafka: HubSettings) -> None:
    if os.environ.get("HUB_BOOTSTRAP_SERVERS"):
        return  # an external cluster is in use: there is no local broker of ours to start again
    first_pid = local_kafka.running_pid(kafka)
    assert first_pid is not None
    again = local_kafka.start(kafka)
    assert again.started is False
    assert again.pid == first_pid
    assert local_kafka.status(kafka).answering


def test_stale_pid_file_is_removed(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, data_dir=tmp_path)
    pid_file = local_kafka.paths(settings).pid
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(str(os.getpid()))  # alive, but not a Kafka broker of this data dir
    assert local_kafka.running_pid(settings) is None
    assert not pid_file.exists()
    pid_file.write_text("not-a-pid")
    assert local_kafka.running_pid(settings) is None
    assert not pid_file.exists()


def test_stop_without_broker_says_so(tmp_path: Path) -> None:
    settings = load_settings(env_file=None, data_dir=tmp_path)
    assert local_kafka.stop(settings) is None


def test_status_of_absent_broker_is_not_answering(tmp_path: Path) -> None:
    port = free_port()
    settings = broker_settings(tmp_path, kafka_port=port)
    st = local_kafka.status(settings)
    assert not st.answering and st.pid is None
    assert f"127.0.0.1:{port}" in st.detail


def test_a_second_broker_starts_stops_and_leaves_nothing(tmp_path: Path) -> None:
    """Start, start again (no-op), stop: the process is gone and the pid file removed."""
    from hub.process import alive

    port = free_port()
    settings = broker_settings(tmp_path, kafka_port=port, kafka_heap="512m")
    first = local_kafka.start(settings)
    try:
        assert first.started and local_kafka.status(settings).answering
        assert local_kafka.start(settings).started is False
        assert (tmp_path / "kafka" / "data" / "meta.properties").is_file()  # storage formatted once
    finally:
        assert local_kafka.stop(settings) is True
    assert not alive(first.pid)
    assert not local_kafka.paths(settings).pid.exists()
    assert local_kafka.stop(settings) is None


def test_cluster_ids_are_made_as_kafka_makes_them() -> None:
    """URL-safe base64 of 16 bytes; a draw that starts with '-' or is reserved is drawn again."""
    leading_dash = bytes([0xF8]) + bytes(range(1, 16))  # 0xF8 >> 2 == 62, the '-' of URL-safe base64
    reserved = [bytes(16), bytes(15) + b"\x01"]  # Uuid.ZERO_UUID, Uuid.METADATA_TOPIC_ID
    good = bytes(range(16))
    draws = iter([leading_dash, *reserved, good])
    assert base64.urlsafe_b64encode(leading_dash).startswith(b"-")
    cluster_id = local_kafka.new_cluster_id(lambda: next(draws))
    assert cluster_id == base64.urlsafe_b64encode(good).decode().rstrip("=")
    assert next(draws, None) is None, "every rejected draw was consumed, the good one returned"
    for _ in range(2000):  # about 31 of these draws start with '-'; none may get through
        fresh = local_kafka.new_cluster_id()
        assert len(fresh) == 22 and not fresh.startswith("-")
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", fresh)


def test_storage_formats_with_a_cluster_id_that_starts_with_a_dash(tmp_path: Path) -> None:
    """The real kafka-storage tool; '--cluster-id -…' would be read as an option, '--cluster-id=-…' is not."""
    settings = broker_settings(tmp_path)
    dashed = "-" + base64.urlsafe_b64encode(bytes(range(16))).decode().rstrip("=")[1:]
    assert local_kafka.stored_cluster_id(settings) is None
    assert local_kafka.format_storage(settings, cluster_id=dashed) is True
    assert local_kafka.stored_cluster_id(settings) == dashed
    assert local_kafka.format_storage(settings) is False, "formatted once per data folder"
    assert local_kafka.stored_cluster_id(settings) == dashed
