"""Running the registry as a managed process: start, stop, stale pid files, and a restart keeping ids."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import httpx
import pytest

from hub.errors import SchemaRegistryError
from hub.registry import launcher
from hub.settings import HubSettings, load_settings
from tests.conftest import free_port

pytestmark = pytest.mark.kafka


def schema(*fields: str, name: str = "A") -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": n, "type": "string"} for n in fields]})


@pytest.fixture
def own(kafka: HubSettings, tmp_path: Path) -> HubSettings:
    """Session broker, but a data dir (pid file) of this test's own."""
    return kafka.model_copy(update={"data_dir": tmp_path})


def test_a_restarted_registry_serves_the_same_ids_and_versions(own: HubSettings) -> None:
    topic = f"_schemas-restart-{uuid.uuid4().hex[:8]}"
    port = free_port()
    first = launcher.start(own, port=port, topic=topic)
    try:
        assert first.started
        with httpx.Client(base_url=first.url) as http:
            ids = {
                (s, v): http.post(f"/subjects/{s}/versions", json={"schema": text}).json()["id"]
                for s, v, text in [
                    ("a-value", 1, schema("x")),
                    ("a-value", 2, json.dumps({**json.loads(schema("x")), "doc": "second"})),
                    ("b-value", 1, schema("y", name="B")),
                ]
            }
            http.put("/config/b-value", json={"compatibility": "NONE"})
            before = {k: http.get(f"/subjects/{k[0]}/versions/{k[1]}").json() for k in ids}
    finally:
        assert launcher.stop(own) is True
    assert not launcher.answers(first.url)

    second = launcher.start(own, port=port, topic=topic)
    try:
        assert second.started and second.pid != first.pid
        with httpx.Client(base_url=second.url) as http:
            after = {k: http.get(f"/subjects/{k[0]}/versions/{k[1]}").json() for k in ids}
            assert after == before
            assert {k: v["id"] for k, v in after.items()} == ids
            assert http.get("/config/b-value").json() == {"compatibilityLevel": "NONE"}
            fresh = http.post("/subjects/c-value/versions", json={"schema": schema("z", name="C")}).json()["id"]
            assert fresh == max(ids.values()) + 1
    finally:
        launcher.stop(own)


def test_starting_twice_is_a_no_op_and_stopping_twice_says_so(own: HubSettings) -> None:
    topic = f"_schemas-twice-{uuid.uuid4().hex[:8]}"
    first = launcher.start(own, port=free_port(), topic=topic)
    try:
        again = launcher.start(own, port=free_port(), topic=topic)
        assert (again.started, again.pid, again.url) == (False, first.pid, first.url)
        st = launcher.status(own)
        assert st.answering and st.pid == first.pid and st.url == first.url
    finally:
        assert launcher.stop(own) is True
    assert launcher.stop(own) is None
    assert launcher.running(own) is None


def test_a_stale_pid_file_is_cleaned_up(own: HubSettings) -> None:
    p = launcher.paths(own)
    p.root.mkdir(parents=True, exist_ok=True)
    p.pid.write_text(json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:1", "topic": "_schemas"}))
    assert launcher.running(own) is None and not p.pid.exists()
    p.pid.write_text("garbage")
    assert launcher.stop(own) is None and not p.pid.exists()
    st = launcher.status(own.model_copy(update={"schema_registry_url": f"http://127.0.0.1:{free_port()}"}))
    assert st.pid is None and not st.answering


def test_a_registry_that_cannot_reach_kafka_fails_to_start_with_its_log(tmp_path: Path) -> None:
    settings = load_settings(
        env_file=None, data_dir=tmp_path, bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_s=3
    )
    with pytest.raises(SchemaRegistryError) as info:
        launcher.start(settings, port=free_port(), timeout_s=60)
    assert "Kafka" in str(info.value)
    assert launcher.running(settings) is None
