"""The stream-runner's own mechanisms on the real broker: the topic check and the status file it feeds.

The runner is built in-process (a faust app that is never started: building it
opens no connection) around a worker spec of the test's own; its topic check
asks the real broker, as in a running worker. The batch loop, readiness and
positioning are exercised end to end by the gateway and projection worker
tests (tests/test_gateway.py, tests/test_worker.py), which run real workers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hub import naming
from hub.kafka_admin import apply_topics, shared_topics
from hub.process import ProcessFiles, read_status
from hub.settings import HubSettings
from hub.stream_runner.batch import Consumed
from hub.stream_runner.runner import StreamRunner, WorkerSpec
from hub.stream_runner.status import WorkerStatus
from hub.stream_runner.status import read_status as read_worker_status
from hub.topology import FOREVER, TopicSpec
from tests.conftest import free_port
from tests.shared_stream import new_zone

pytestmark = pytest.mark.kafka


class _Counters:
    def __init__(self) -> None:
        self.batches = 0

    def to_json(self) -> dict[str, Any]:
        return {"batches": self.batches}

    def summary(self) -> str:
        return f"{self.batches} batches"


async def _handle(batch: Sequence[Consumed]) -> None:
    raise AssertionError("the runner is never started here")


def _create(settings: HubSettings, *names: str) -> None:
    specs = [TopicSpec(n, 1, 1, dict(FOREVER), "shared") for n in names]
    apply_topics(settings, specs, timeout_s=60)


def _runner_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hub.stream_runner" and r.levelno == logging.WARNING]


def _runner(settings: HubSettings, files: ProcessFiles, zone: str, counters: _Counters) -> StreamRunner:
    served = tuple(shared_topics(settings, [zone]))  # resolved at start, as the workers do
    spec = WorkerSpec(
        name="test",
        agent="hub.test.runner",
        topics=served,
        topic_kind="shared",
        files=files,
        status=WorkerStatus(pid=os.getpid(), group_id=f"hub-test-runner-{zone}", topics=len(served)),
        counters=counters,
        handle=_handle,
        list_topics=functools.partial(shared_topics, settings, [zone]),
    )
    return StreamRunner(settings, spec)


def test_a_topic_created_after_start_is_reported_once_and_kept_in_the_status_file(
    topics: HubSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    zone = new_zone()
    first, later = naming.shared_topic(zone, "CaseOpened"), naming.shared_topic(zone, "VisitMade")
    _create(topics, first)
    files = ProcessFiles(tmp_path / "worker", "worker")
    counters = _Counters()
    runner = _runner(topics, files, zone, counters)
    assert runner.spec.topics == (first,)

    asyncio.run(runner.check_topics())
    runner.write_status()
    doc = read_worker_status(files.status, WorkerStatus)
    assert doc is not None and doc.unserved_topics == [] and doc.topics == 1 and not doc.ready

    _create(topics, later)
    with caplog.at_level(logging.WARNING, logger="hub.stream_runner"):
        asyncio.run(runner.check_topics())
        asyncio.run(runner.check_topics())  # the same new topic: not reported again
    assert _runner_warnings(caplog) == [f"shared topics created after start are not served until a restart: {later}"]
    counters.batches = 3
    runner.write_status()
    doc = read_worker_status(files.status, WorkerStatus)
    assert doc is not None and doc.unserved_topics == [later] and doc.stats == {"batches": 3}
    assert runner.spec.topics == (first,)  # still served: the set resolved at start


def test_a_topic_check_that_cannot_reach_the_broker_is_a_warning_and_changes_nothing(
    topics: HubSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    zone = new_zone()
    _create(topics, naming.shared_topic(zone, "CaseOpened"))
    runner = _runner(topics, ProcessFiles(tmp_path / "worker", "worker"), zone, _Counters())
    runner.status.unserved_topics = ["shared.x.case-opened"]
    down = topics.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}", "request_timeout_s": 2.0})
    runner = StreamRunner(down, replace(runner.spec, list_topics=functools.partial(shared_topics, down, [zone])))
    with caplog.at_level(logging.WARNING, logger="hub.stream_runner"):
        asyncio.run(runner.check_topics())
    (warning,) = _runner_warnings(caplog)
    assert warning.startswith("cannot list shared topics: ")
    assert runner.status.unserved_topics == ["shared.x.case-opened"]


def test_the_status_file_is_written_only_when_it_changed(topics: HubSettings, tmp_path: Path) -> None:
    zone = new_zone()
    _create(topics, naming.shared_topic(zone, "CaseOpened"))
    files = ProcessFiles(tmp_path / "worker", "worker")
    counters = _Counters()
    runner = _runner(topics, files, zone, counters)
    runner.write_status()
    first = read_status(files.status)
    assert first is not None and first["group_id"] == f"hub-test-runner-{zone}"
    files.status.write_text(files.status.read_text().replace(first["updated_at"], "sentinel"))
    runner.write_status()  # nothing changed: not rewritten
    assert (read_status(files.status) or {})["updated_at"] == "sentinel"
    counters.batches += 1
    runner.write_status()
    again = read_status(files.status)
    assert again is not None and again["stats"] == {"batches": 1} and again["updated_at"] != "sentinel"
