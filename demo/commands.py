"""``hub demo-data``: write the deterministic demo stream as JSON Lines, with a metadata sidecar."""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from demo.calendar import MAX_YEAR, MIN_YEAR
from demo.districts import ILLUSTRATIVE_DISTRICTS, JINJIANG, NANSHAN, SOURCE_DISTRICTS, TINGHU
from demo.stream import Event, generate, planned_total
from demo.writers import WriteSummary, build_metadata, sidecar_name, write_jsonl, write_metadata
from hub.catalogue import EVENT_TYPES
from hub.commandline import make_console
from hub.errors import ValidationError

_SHORT = {
    "CaseOpened": "Opened",
    "VisitMade": "Visits",
    "CaseClosed": "Closed",
    "DonationReceived": "Donations",
    "ProjectEvaluated": "Evaluated",
    "ProjectFunded": "Funded",
    "ServiceDelivered": "Services",
    "TrainingHeld": "Trainings",
    "WorkerCertified": "Certified",
    "VolunteerRegistered": "Volunteers",
}


def demo_data(
    out: str = typer.Option(..., "--out", help="File to write (JSON Lines), or - for stdout."),
    seed: int = typer.Option(..., "--seed", help="Seed: the same seed and year give byte-identical output."),
    year: int = typer.Option(2026, "--year", help=f"Demo year ({MIN_YEAR}..{MAX_YEAR}); events run Jan 1..Nov 28."),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Stop after N events (a preview: the figures are then incomplete)."
    ),
    meta: Path | None = typer.Option(
        None, "--meta", help="Where to write the metadata sidecar (default FILE.meta.json; none for stdout)."
    ),
) -> None:
    """Write demo events that reproduce the source reports' figures (HK, MO and other GD data is illustrative)."""
    to_stdout = out == "-"
    console = make_console(stderr=to_stdout)
    events = generate(seed, year)
    total = planned_total()
    if limit is not None:
        events = itertools.islice(events, limit)
        total = min(total, limit)
    meta_path = meta if meta is not None or to_stdout else Path(sidecar_name(out))
    t0 = time.monotonic()
    progress = Progress(
        TextColumn("[bold]demo data"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("events", total=total)
        tracked = _tracked(events, lambda n: progress.update(task, completed=n))
        summary = _write_stdout(tracked, console) if to_stdout else _write_file(tracked, Path(out), "--out")
    elapsed = time.monotonic() - t0
    metadata = build_metadata(seed, year, summary, limit=limit)
    if meta_path is not None:
        try:
            with meta_path.open("wb") as fp:
                write_metadata(metadata, fp)
        except OSError as exc:
            raise ValidationError([("--meta", f"cannot write {meta_path}: {exc.strerror or exc}")]) from exc
    console.print(_table(summary))
    for label, members, illustrative in _groups(summary.counts):
        if illustrative:
            console.print(f"[yellow]{label}[/] illustrative only ({len(members)} districts): {', '.join(members)}")
    if not metadata["complete"]:
        console.print(f"[yellow]Stopped at --limit {limit}:[/] the source figures are not complete in this file.")
    where = "stdout" if to_stdout else out
    console.print(
        f"[green]✓[/] {summary.events} events ({summary.bytes / 1e6:.1f} MB) to {where} in {elapsed:.1f}s; "
        f"sha256 {summary.sha256}" + (f"; metadata {meta_path}" if meta_path is not None else "")
    )


def _tracked(events: Iterable[Event], report: Callable[[int], object]) -> Iterator[Event]:
    n = 0
    for doc in events:
        yield doc
        n += 1
        if n % 2000 == 0:
            report(n)
    report(n)


def _write_file(events: Iterable[Event], path: Path, option: str) -> WriteSummary:
    try:
        with path.open("wb") as fp:
            return write_jsonl(events, fp)
    except OSError as exc:
        raise ValidationError([(option, f"cannot write {path}: {exc.strerror or exc}")]) from exc


def _write_stdout(events: Iterable[Event], console: Console) -> WriteSummary:
    try:
        summary = write_jsonl(events, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        console.print("output closed by the reader; stopped early")
        raise typer.Exit(0) from None
    return summary


def _groups(districts: Iterable[str]) -> list[tuple[str, list[str], bool]]:
    """Columns of the summary: each source district, then the illustrative ones grouped by region."""
    present = list(districts)
    short = {NANSHAN: "Nanshan", TINGHU: "Tinghu", JINJIANG: "Jinjiang"}
    cols = [(short.get(d, d), [d], False) for d in SOURCE_DISTRICTS if d in present]
    for label, prefixes in (("HK*", ("hk-",)), ("MO*", ("mo-",)), ("GD*", ("guangzhou-", "zhuhai-"))):
        members = [d for d in ILLUSTRATIVE_DISTRICTS if d in present and d.startswith(prefixes)]
        if members:
            cols.append((label, members, True))
    return cols


def _table(summary: WriteSummary) -> Table:
    groups = _groups(summary.counts)
    caption = "* illustrative: no source figures" if any(ill for _, _, ill in groups) else None
    table = Table(title="Demo events per district and type", caption=caption)
    table.add_column("event type", no_wrap=True)
    for label, _, illustrative in groups:
        table.add_column(label, justify="right", style="yellow" if illustrative else None)
    table.add_column("total", justify="right", style="bold")
    for event_type in EVENT_TYPES:
        cells = [sum(summary.counts[d].get(event_type, 0) for d in members) for _, members, _ in groups]
        if any(cells):
            table.add_row(event_type, *(f"{c:,}" if c else "" for c in cells), f"{sum(cells):,}")
    totals = [sum(sum(summary.counts[d].values()) for d in members) for _, members, _ in groups]
    table.add_row("all", *(f"{c:,}" for c in totals), f"{summary.events:,}", style="bold", end_section=True)
    return table
