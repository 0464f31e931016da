"""Start what a job needs and stop exactly what it started."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console

from hub import local_kafka, topology
from hub.credentials import as_principal
from hub.errors import BrokerError
from hub.jurisdictions import scope_of
from hub.kafka_admin import apply_topics
from hub.orgunits import org_units
from hub.principals import ADMIN
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


# -- several clusters side by side: one per jurisdiction of the topology ----------------------------------
@dataclass(frozen=True)
class ClusterUp:
    """What ``start_clusters`` did for one cluster."""

    name: str
    kafka: local_kafka.StartResult
    registry_url: str
    registry_started: bool
    topics_created: int


def _up(name: str, settings: HubSettings) -> ClusterUp:
    from hub.registry import launcher

    kafka = local_kafka.start(settings)
    try:
        admin = as_principal(settings, ADMIN)
        report = apply_topics(admin, topology.expand(settings, org_units(), scope_of(settings)), timeout_s=60)
        registry = launcher.start(settings)
    except BaseException:
        if kafka.started:  # stop what this call started; the caller reports the failure
            local_kafka.stop(settings)
        raise
    return ClusterUp(name, kafka, registry.url, registry.started, len(report.created))


def start_clusters(clusters: Mapping[str, HubSettings], console: Console) -> dict[str, ClusterUp]:
    """Start every cluster's broker, topics and schema registry, the clusters in parallel.

    A cluster already running is left as is. If one cannot start, the others still finish starting,
    then what this call started is stopped again and the first failure is raised (naming its
    cluster): nothing is left half-done.
    """
    if clusters:
        local_kafka.resolve_classpath(next(iter(clusters.values())))  # once: the stack shares the jars
    done: dict[str, ClusterUp] = {}
    failures: list[tuple[str, BaseException]] = []
    with ThreadPoolExecutor(max_workers=max(1, len(clusters))) as pool:
        futures = {pool.submit(_up, name, s): name for name, s in clusters.items()}
        with console.status(f"starting {len(clusters)} clusters ({', '.join(clusters)}) in parallel…"):
            for future in as_completed(futures):
                name = futures[future]
                try:
                    done[name] = up = future.result()
                except Exception as exc:  # noqa: BLE001 - reported below, after the others finished
                    failures.append((name, exc))
                    console.print(f"[red]✗[/] cluster {name}: {exc}")
                    continue
                verb = "started" if up.kafka.started else "already running"
                console.print(
                    f"[green]✓[/] cluster {name}: Kafka {verb} at {up.kafka.bootstrap}, registry {up.registry_url}, "
                    f"{up.topics_created} topics created"
                )
    if failures:
        from hub.registry import launcher

        for name, up in done.items():
            if up.registry_started:
                launcher.stop(clusters[name])
            if up.kafka.started:
                local_kafka.stop(clusters[name])
        failed, error = failures[0]
        raise BrokerError(f"cluster {failed} did not start: {error}") from error
    return {name: done[name] for name in clusters}


def stop_clusters(clusters: Mapping[str, HubSettings]) -> dict[str, tuple[bool | None, bool | None]]:
    """Stop each cluster's registry, then its broker: name -> (registry outcome, Kafka outcome)."""
    from hub.registry import launcher

    out: dict[str, tuple[bool | None, bool | None]] = {}
    for name, settings in clusters.items():
        out[name] = (launcher.stop(settings), local_kafka.stop(settings))
    return out
