"""``hub publish FILE.jsonl`` end to end on the real broker and registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.settings import HubSettings
from tests.conftest import free_port
from tests.factories import kafka_env, valid_event_doc

HUB = str(Path(sys.executable).with_name("hub"))


def _env(settings: HubSettings, registry: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(
        {
            **kafka_env(settings),
            "HUB_SCHEMA_REGISTRY_URL": registry,
            "HUB_DATA_DIR": str(settings.data_dir),
            "HUB_REQUEST_TIMEOUT_S": "5",
        }
    )
    return env


@pytest.fixture()
def mixed_file(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    good = [valid_event_doc(t) for t in ("CaseOpened", "VisitMade", "DonationReceived", "TrainingHeld")]
    lines = [
        json.dumps(good[0], ensure_ascii=False),
        "{not json",
        json.dumps(good[1], ensure_ascii=False),
        json.dumps(valid_event_doc("DonationReceived", currency="USD")),
        "",
        json.dumps([1, 2]),
        json.dumps(good[2], ensure_ascii=False),
        json.dumps(good[3], ensure_ascii=False),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, good


def test_bulk_import_publishes_valid_lines_and_names_rejects(
    topics: HubSettings, registry: str, mixed_file: tuple[Path, list[dict[str, object]]]
) -> None:
    path, _good = mixed_file
    proc = subprocess.run([HUB, "publish", str(path)], capture_output=True, text=True, env=_env(topics, registry))
    assert proc.returncode == 2, proc.stderr
    assert "published 4, rejected 3" in proc.stderr
    rejects_path = path.with_suffix(".rejects.jsonl")
    rejects = [json.loads(line) for line in rejects_path.read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 4, 6]
    assert "malformed JSON" in rejects[0]["errors"][0]["message"]
    assert rejects[1]["errors"][0]["field"] == "currency"
    assert "one JSON object" in rejects[2]["errors"][0]["message"]
    assert "raw.gd.shenzhen-nanshan.case-opened" in proc.stderr


def test_bulk_import_from_stdin(topics: HubSettings, registry: str, tmp_path: Path) -> None:
    docs = [valid_event_doc("ServiceDelivered") for _ in range(3)]
    data = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    proc = subprocess.run(
        [HUB, "publish", "-"], input=data, capture_output=True, text=True, env=_env(topics, registry), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "published 3, rejected 0" in proc.stderr
    assert not list(tmp_path.glob("*.rejects.jsonl"))


def test_bulk_import_with_broker_down_stops_with_exit_1(registry: str, tmp_path: Path, topics: HubSettings) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(valid_event_doc("CaseOpened"), ensure_ascii=False) + "\n")
    env = _env(topics, registry)
    env["HUB_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"
    env["HUB_REQUEST_TIMEOUT_S"] = "2"
    proc = subprocess.run([HUB, "publish", str(path)], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert env["HUB_BOOTSTRAP_SERVERS"] in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_file_is_a_clear_error(topics: HubSettings, registry: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [HUB, "publish", str(tmp_path / "nope.jsonl")], capture_output=True, text=True, env=_env(topics, registry)
    )
    assert proc.returncode == 1
    assert "no such file" in proc.stderr


def test_cli_rejects_the_json_corpus_naming_fields(topics: HubSettings, registry: str, tmp_path: Path) -> None:
    from tests.bad_inputs import json_faithful

    corpus = json_faithful()
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "".join(json.dumps(valid_event_doc(t, **o), ensure_ascii=False) + "\n" for t, o, _, _ in corpus),
        encoding="utf-8",
    )
    proc = subprocess.run([HUB, "publish", str(path)], capture_output=True, text=True, env=_env(topics, registry))
    assert proc.returncode == 2, proc.stderr
    rejects = [json.loads(line) for line in path.with_suffix(".rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == len(corpus) >= 25
    for (_, _, field, rule), reject in zip(corpus, rejects, strict=True):
        fields = [e["field"] for e in reject["errors"]]
        assert field in fields, (field, reject)
        assert any(rule in e["message"] for e in reject["errors"])
