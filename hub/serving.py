"""Serving ASGI apps under uvicorn in a background thread: for several APIs at once and for tests.

:class:`BackgroundServer` starts an app on a host and port, returns once the
socket listens (or raises :class:`ConfigError` naming the address when it
cannot bind), and stops it gracefully on exit. Signals stay with the main
thread, so Ctrl-C reaches the program, which then stops its servers.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from hub.errors import ConfigError


class BackgroundServer:
    """``with BackgroundServer(app, "127.0.0.1", port) as server:`` serves ``app`` until the block ends."""

    def __init__(self, app: Any, host: str, port: int, *, log_level: str = "warning", start_timeout_s: float = 30.0):
        self.host, self.port = host, port
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False))
        self._thread = threading.Thread(target=self._server.run, name=f"uvicorn-{host}:{port}", daemon=True)
        self._start_timeout_s = start_timeout_s

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise ConfigError(f"could not serve on {self.host}:{self.port} (is the port in use? see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError(
                    f"the server on {self.host}:{self.port} did not start in {self._start_timeout_s:.0f}s"
                )
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


__all__ = ["BackgroundServer"]
