"""Start what a job needs and stop exactly what it started."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType

from rich.console import Console

from hub import local_kafka
from hub.settings import HubSettings


class LocalStack(AbstractContextManager["LocalStack"]):
    """Context manager that starts the local broker if needed and undoes only its own starts."""

    def __init__(self, settings: HubSettings, console: Console) -> None:
        self.settings = settings
        self.console = console
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def ensure_kafka(self) -> None:
        with self.console.status(f"starting Apache Kafka {local_kafka.kafka_version()}…"):
            result = local_kafka.start(self.settings)
        if result.started:
            self.console.print(
                f"[green]✓[/] Kafka {local_kafka.kafka_version()} started at {result.bootstrap} (pid {result.pid})"
            )
            self._undo.append(("Kafka", lambda: local_kafka.stop(self.settings)))
        else:
            self.console.print(f"[green]✓[/] Kafka already running at {result.bootstrap}; it will be left running")
        if result.acls is not None:
            self.console.print(
                f"[green]✓[/] secured: SASL/SCRAM-SHA-512 logins per principal, StandardAuthorizer, "
                f"ACLs of the declarations applied ({len(result.acls.added)} added, {len(result.acls.removed)} removed)"
            )
        elif not result.secured:
            self.console.print("[yellow]![/] Kafka is insecure (plaintext, no logins, no ACLs)")

    def ensure_registry(self) -> str:
        """Start the embedded schema registry unless one answers at the configured URL."""
        from hub.registry import launcher

        with self.console.status("starting the schema registry…"):
            result = launcher.start(self.settings)
        if result.started:
            self.console.print(f"[green]✓[/] schema registry started at {result.url} (pid {result.pid})")
            self._undo.append(("schema registry", lambda: launcher.stop(self.settings)))
        else:
            self.console.print(f"[green]✓[/] schema registry already running at {result.url}; it will be left running")
        return result.url

    def add_cleanup(self, name: str, fn: Callable[[], object]) -> None:
        self._undo.append((name, fn))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        while self._undo:
            name, fn = self._undo.pop()
            try:
                fn()
                self.console.print(f"[green]✓[/] stopped {name}")
            except Exception as err:  # noqa: BLE001 - keep stopping the rest
                self.console.print(f"[red]✗[/] stopping {name} failed: {err}")
