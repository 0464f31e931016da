"""``hub ingest serve`` as an operator runs it: a real uvicorn process on a real port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub import tokens
from hub.settings import HubSettings
from tests.conftest import free_port
from tests.factories import valid_event_doc

HUB = str(Path(sys.executable).with_name("hub"))


def _env(data_dir: Path, topics: HubSettings, registry: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(
        HUB_DATA_DIR=str(data_dir),
        HUB_BOOTSTRAP_SERVERS=topics.bootstrap_servers,
        HUB_SCHEMA_REGISTRY_URL=registry,
    )
    return env


@pytest.fixture
def server(tmp_path: Path, topics: HubSettings, registry: str) -> Iterator[tuple[str, str, Path]]:
    """Base URL of a running ``hub ingest serve``, a publisher token it accepts, and its log file."""
    token, entry = tokens.issue("publisher", district="shenzhen-nanshan")
    tokens.add_token(tmp_path / "tokens.json", entry)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [HUB, "ingest", "serve", "--port", str(port)],
            env=_env(tmp_path, topics, registry),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server did not come up: {log.read_text(errors='replace')}"
            time.sleep(0.2)
        yield base, token, log
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_accepts_an_event_over_real_http(server: tuple[str, str, Path]) -> None:
    base, token, log = server
    doc = valid_event_doc("CaseOpened")
    response = httpx.post(f"{base}/v1/events", json=doc, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 202, response.text
    result = response.json()["results"][0]
    assert result["event_id"] == doc["event_id"] and result["topic"] == "raw.gd.shenzhen-nanshan.case-opened"
    refused = httpx.post(f"{base}/v1/events", json=doc, timeout=30)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]["/v1/events"]["post"]
    assert "1 token(s)" in log.read_text(errors="replace")


def test_serve_refuses_to_start_on_a_malformed_tokens_file(tmp_path: Path, topics: HubSettings, registry: str) -> None:
    (tmp_path / "tokens.json").write_text('{"tokens": [{"id": "t1", "name": "x", "role": "god"}]}', encoding="utf-8")
    proc = subprocess.run(
        [HUB, "ingest", "serve", "--port", str(free_port())],
        env=_env(tmp_path, topics, registry),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "tokens[0] (id t1): field 'role'" in proc.stderr and "god" in proc.stderr
