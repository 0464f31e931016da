"""``hub publish FILE.jsonl``: bulk import with a progress bar and a rejects file."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, cast, get_args

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.commandline import make_console, settings_of
from hub.credentials import district_logins
from hub.kafka_clients import ProducerClient
from hub.publishing.bulk import ImportSummary
from hub.publishing.publisher import Logins
from hub.settings import HubSettings

console = make_console(stderr=True)


def _count_lines(path: Path) -> int:
    with path.open("rb") as fp:
        return sum(1 for line in fp if line.strip())


def publish(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="A JSON Lines file of events, or - for standard input."),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Where rejected lines go (default: FILE.rejects.jsonl)."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", help="Seconds to wait for the broker (default HUB_REQUEST_TIMEOUT_S)."
    ),
    kafka_client: str = typer.Option(
        "kafka-python",
        "--kafka-client",
        help="Producer library: kafka-python, or confluent (librdkafka; needs confluent-kafka installed).",
    ),
) -> None:
    """Validate and publish every event of a file. Re-running a file adds no new facts (event_id is the key).

    Exit status: 0 all published, 2 some lines rejected, 1 the import stopped (broker or registry failure).
    """
    if source != "-" and not Path(source).is_file():
        console.print(f"[red]error:[/] {source}: no such file")
        raise typer.Exit(1)
    if kafka_client not in get_args(ProducerClient):
        raise typer.BadParameter(f"expected one of {', '.join(get_args(ProducerClient))}", param_hint="--kafka-client")
    settings = settings_of(ctx)
    summary = run_publish(
        settings,
        source,
        rejects=rejects,
        timeout=timeout,
        console=console,
        logins=district_logins(settings),
        client=cast(ProducerClient, kafka_client),
    )
    if summary.aborted:
        raise typer.Exit(1)
    if summary.rejected:
        raise typer.Exit(2)


def run_publish(
    settings: HubSettings,
    source: str,
    *,
    rejects: Path | None = None,
    timeout: float | None = None,
    console: Console = console,
    show_topics: bool = True,
    logins: Logins | None = None,
    client: ProducerClient = "kafka-python",
) -> ImportSummary:
    """Publish a file (or ``-``) with a progress bar and a summary; the work behind ``hub publish``."""
    from hub.publishing.bulk import import_lines
    from hub.publishing.publisher import Publisher
    from hub.registry.client import RegistryClient

    lines: IO[str]
    if source == "-":
        lines = sys.stdin
        total: int | None = None
        rejects_path = rejects or Path(f"stdin-{datetime.now():%Y%m%dT%H%M%S}.rejects.jsonl")
    else:
        path = Path(source)
        total = _count_lines(path)
        lines = path.open(encoding="utf-8")
        rejects_path = rejects or path.with_suffix(".rejects.jsonl")

    registry = RegistryClient(settings.schema_registry_url, timeout_s=settings.request_timeout_s)
    started = time.monotonic()
    progress = Progress(
        TextColumn("[bold]publishing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        with (
            Publisher(settings, registry, timeout_s=timeout, logins=logins, client=client) as pub,
            rejects_path.open("w", encoding="utf-8") as rej,
            progress,
        ):
            task = progress.add_task("publish", total=total, rate="")

            def advance(n: int) -> None:
                done = progress.tasks[0].completed + n
                rate = done / max(time.monotonic() - started, 1e-6)
                progress.update(task, advance=n, rate=f"{rate:,.0f} ev/s")

            summary = import_lines(lines, pub, rej, on_progress=advance)
    finally:
        if lines is not sys.stdin:
            lines.close()
        registry.close()
    elapsed = time.monotonic() - started

    if show_topics and summary.per_topic:
        table = Table("topic", "events", title="published per topic")
        for topic, n in sorted(summary.per_topic.items()):
            table.add_row(topic, f"{n:,}")
        console.print(table)
    console.print(
        f"published {summary.published:,}, rejected {summary.rejected:,} in {elapsed:.1f}s "
        f"({summary.published / max(elapsed, 1e-6):,.0f} events/s)"
    )
    if summary.rejected:
        console.print(f"rejected lines and their reasons: {rejects_path}")
    else:
        rejects_path.unlink(missing_ok=True)
    if summary.aborted:
        console.print(f"[red]stopped:[/] {summary.aborted}")
        console.print("re-running the same file is safe: already published events keep their event_id")
    return summary
