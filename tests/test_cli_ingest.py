"""``hub ingest serve`` as an operator runs it: a real uvicorn process on a real port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hub import tokens
from hub.settings import HubSettings
from tests.conftest import free_port
from tests.factories import kafka_env, valid_event_doc

HUB = str(Path(sys.executable).with_name("hub"))

Server = tuple[str, str, Path]
"""Base URL of a running ``hub ingest serve``, a publisher token it accepts, and its log file."""


def _env(data_dir: Path, topics: HubSettings, registry: str) -> dict[str, str]:
    """The server's environment: the session broker with its login (tests.factories.kafka_env), its own data dir."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(kafka_env(topics), HUB_DATA_DIR=str(data_dir), HUB_SCHEMA_REGISTRY_URL=registry)
    return env


@pytest.fixture
def serve(tmp_path: Path, topics: HubSettings, registry: str) -> Iterator[Callable[..., Server]]:
    """Starts ``hub ingest serve`` with extra options (once per test) and stops it at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> Server:
        return _start(tmp_path, _env(tmp_path, topics, registry), options, procs)

    try:
        yield start
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    return serve()


def _start(
    tmp_path: Path, env: dict[str, str], options: tuple[str, ...], procs: list[subprocess.Popen[bytes]]
) -> Server:
    token, entry = tokens.issue("publisher", district="shenzhen-nanshan")
    tokens.add_token(tmp_path / "tokens.json", entry)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [HUB, "ingest", "serve", "--port", str(port), *options],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    procs.append(proc)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return base, token, log
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"server did not come up: {log.read_text(errors='replace')}"
        time.sleep(0.2)


def test_serve_accepts_an_event_over_real_http(server: Server) -> None:
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


def test_serve_limits_bodies_and_requests_per_token_over_real_http(serve: Callable[..., Server]) -> None:
    base, token, log = serve("--max-body-bytes", "4096", "--burst", "2", "--requests-per-second", "0.01")
    assert "per token at most 0.01 requests per second (bursts of 2)" in log.read_text(errors="replace")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    big = b"[" + b" " * 8192 + b"]"

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 1024):
            yield big[i : i + 1024]

    chunked = httpx.post(f"{base}/v1/events", content=chunks(), headers=auth, timeout=30)
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "body_too_large"
    assert "4096 bytes (4 KiB)" in chunked.json()["error"]["message"]
    declared = httpx.post(f"{base}/v1/events", content=big, headers=auth, timeout=30)
    assert declared.status_code == 413 and "(Content-Length 8194)" in declared.json()["error"]["message"]

    for _ in range(2):  # refused bodies took nothing from the bucket: the burst is whole
        ok = httpx.post(f"{base}/v1/events", json=valid_event_doc("TrainingHeld"), headers=auth, timeout=30)
        assert ok.status_code == 202, ok.text
    limited = httpx.post(f"{base}/v1/events", json=valid_event_doc("TrainingHeld"), headers=auth, timeout=30)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "100"


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
