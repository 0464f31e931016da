"""Running the registry: in the foreground (``hub registry serve``) or as a managed background process.

The managed process is ``hub registry serve`` started detached, with its pid
file and log under ``<data_dir>/registry``; like :mod:`hub.local_kafka`, starting
a running registry is a no-op and a stale pid file is cleaned up.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from hub import naming
from hub.credentials import as_principal
from hub.errors import ConfigError, SchemaRegistryError
from hub.principals import REGISTRY
from hub.process import cmdline_has, spawn, terminate, wait_until
from hub.settings import HubSettings, as_environment

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def host_port(url: str) -> tuple[str, int]:
    """Host and port of a registry URL (``http://127.0.0.1:8081`` -> ``("127.0.0.1", 8081)``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"HUB_SCHEMA_REGISTRY_URL must be an http(s) URL, got {url!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def serve(settings: HubSettings, *, host: str, port: int, topic: str = naming.SCHEMAS_TOPIC) -> None:
    """Load the registry from ``topic`` and serve the REST API until interrupted (blocking)."""
    import uvicorn

    from hub.registry.server import create_app
    from hub.registry.store import SchemaStore

    store = SchemaStore.from_settings(as_principal(settings, REGISTRY), topic)
    store.start()
    try:
        uvicorn.run(create_app(store), host=host, port=port, log_level="info", access_log=False)
    finally:
        store.close()


# --- managed process ------------------------------------------------------------


@dataclass(frozen=True)
class RegistryPaths:
    root: Path

    @property
    def pid(self) -> Path:
        return self.root / "registry.pid"

    @property
    def log(self) -> Path:
        return self.root / "registry.log"


def paths(settings: HubSettings) -> RegistryPaths:
    return RegistryPaths(settings.data_dir.resolve() / "registry")


@dataclass(frozen=True)
class Running:
    pid: int
    url: str
    topic: str


@dataclass(frozen=True)
class StartResult:
    pid: int
    started: bool  # False when a registry was already running
    url: str


def _is_our_registry(pid: int, port: int) -> bool:
    return cmdline_has(pid, "-m", "hub.registry", str(port))


def running(settings: HubSettings) -> Running | None:
    """The registry this data dir started, or None. Removes a stale pid file."""
    p = paths(settings)
    try:
        doc = json.loads(p.pid.read_text())
        found = Running(int(doc["pid"]), str(doc["url"]), str(doc["topic"]))
        _, port = host_port(found.url)
    except (OSError, ValueError, KeyError, TypeError, ConfigError):
        p.pid.unlink(missing_ok=True)
        return None
    if _is_our_registry(found.pid, port):
        return found
    p.pid.unlink(missing_ok=True)
    return None


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Whether a registry answers ``GET /subjects`` at ``url``."""
    try:
        return httpx.get(f"{url.rstrip('/')}/subjects", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(url: str, timeout_s: float, alive: Callable[[], bool], log: Path) -> None:
    wait_until(
        lambda: True if answers(url) else None,
        alive=alive,
        timeout_s=timeout_s,
        label="the schema registry",
        state=f"answer at {url}",
        log=log,
        error=SchemaRegistryError,
    )


def start(
    settings: HubSettings,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    topic: str = naming.SCHEMAS_TOPIC,
    timeout_s: float = START_TIMEOUT_S,
) -> StartResult:
    """Start ``hub registry serve`` in the background and wait until it answers. A running one is a no-op."""
    current = running(settings)
    if current is not None:
        _wait(current.url, timeout_s, lambda: running(settings) is not None, paths(settings).log)
        return StartResult(current.pid, False, current.url)
    if port is None:
        _, port = host_port(settings.schema_registry_url)
    url = f"http://{host}:{port}"
    if answers(url):
        raise SchemaRegistryError(f"something else already answers at {url}; stop it or pick another port")
    p = paths(settings)
    p.root.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "hub.registry",
        "--host",
        host,
        "--port",
        str(port),
        "--topic",
        topic,
    ]
    env = as_environment(as_principal(settings, REGISTRY), os.environ)
    proc = spawn(cmd, log=p.log, env=env, cwd=p.root)
    p.pid.write_text(json.dumps({"pid": proc.pid, "url": url, "topic": topic}))
    try:
        _wait(url, timeout_s, lambda: proc.poll() is None, p.log)
    except SchemaRegistryError:
        terminate(proc.pid, STOP_TIMEOUT_S)
        p.pid.unlink(missing_ok=True)
        raise
    return StartResult(proc.pid, True, url)


def stop(settings: HubSettings, *, timeout_s: float = STOP_TIMEOUT_S) -> bool | None:
    """SIGTERM the managed registry. None if none was running, else whether it stopped gracefully."""
    current = running(settings)
    if current is None:
        return None
    graceful = terminate(current.pid, timeout_s)
    paths(settings).pid.unlink(missing_ok=True)
    return graceful


@dataclass(frozen=True)
class Status:
    url: str
    pid: int | None
    answering: bool


def status(settings: HubSettings) -> Status:
    """Whether the configured (or managed) registry answers."""
    current = running(settings)
    url = current.url if current is not None else settings.schema_registry_url
    return Status(url, current.pid if current else None, answers(url))
