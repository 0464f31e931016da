"""The one ``/metrics`` endpoint a hub process serves (the projection worker's, a replication flow's).

Guarantees: the endpoint serves exactly the collectors of the registry it is
given (never the process-global default registry), on ``host`` only
(``127.0.0.1`` unless told otherwise), from a daemon thread that never keeps
the process alive; port 0 picks a free port, which :attr:`MetricsServer.port`
then tells.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server


@dataclass
class MetricsServer:
    """A running ``/metrics`` endpoint (a daemon thread)."""

    server: WSGIServer
    thread: threading.Thread
    host: str

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(registry: CollectorRegistry, *, host: str = "127.0.0.1", port: int = 0) -> MetricsServer:
    """Serve ``registry`` on ``http://host:port/metrics`` (port 0: any free port) in a daemon thread."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread, host)


__all__ = ["MetricsServer", "serve"]
