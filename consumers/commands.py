"""``hub subscribe --as <partner> --sink <url>``: a partner region's copy of the shared topics it may read."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Group
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from hub.agreements import agreements_dir, load_agreements
from hub.commandline import make_console, settings_of
from hub.credentials import as_principal
from hub.principals import partner_principal

if TYPE_CHECKING:
    from consumers.subscriber import Progress, Subscriber

console = make_console()
err_console = make_console(stderr=True)
_PLAIN_EVERY_S = 10.0


def subscribe(
    ctx: typer.Context,
    as_: str = typer.Option(..., "--as", help="Partner id: hk, mo, gd, js or fj."),
    sink: str = typer.Option(
        ..., "--sink", help="Where to keep the copy: sqlite:///path.db, postgresql+psycopg://... or jsonl:///dir."
    ),
    zone: list[str] = typer.Option([], "--zone", help="Only this zone (repeatable); default: every zone entitled."),
    topic: list[str] = typer.Option([], "--topic", help="Only this shared topic (repeatable)."),
    until_caught_up: bool = typer.Option(
        False, "--until-caught-up", "--once", help="Exit once the end offsets taken at start are reached."
    ),
    name: str | None = typer.Option(
        None, "--name", help="Name the sink stores the offsets under (default: the partner id)."
    ),
    batch_size: int = typer.Option(500, "--batch-size", min=1, max=100_000, help="Most records per sink write."),
    linger: float = typer.Option(
        0.5, "--linger", min=0.0, max=60.0, help="Seconds to gather a batch after its first record."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Live progress and lag display."),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Copy the shared topics the partner is entitled to into a sink, exactly once, resuming where it stopped."""
    from consumers.partners import partner as find_partner
    from consumers.partners import select_topics
    from consumers.sinks import open_sink
    from consumers.subscriber import Subscriber, pinned_readers

    logging.basicConfig(
        level=log_level.upper(),
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )
    if logging.getLogger().level > logging.DEBUG:  # the clients' connection chatter only when debugging
        for noisy in ("kafka", "httpx"):
            logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    settings = settings_of(ctx)
    who = find_partner(as_, load_agreements(agreements_dir(settings.agreements_dir)))
    settings = as_principal(settings, partner_principal(who.id))  # the broker's ACLs hold it to its zones
    readers = pinned_readers()
    select_topics(who, (), zones=zone, topics=topic, event_types=readers)  # refuse before connecting anywhere
    target = open_sink(sink, name or who.id)
    subscriber = Subscriber(
        settings, who, target, zones=zone, topics=topic, readers=readers, batch_size=batch_size, linger_s=linger
    )
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = _run(subscriber, stop, until_caught_up, progress)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        subscriber.close()
        target.close()
    state = result.state
    console.print(
        f"{result.partner} ({', '.join(result.zones)}) -> {result.sink}: {state}; {result.written} written, "
        f"{result.duplicates} duplicates ignored, {result.dead_letters} dead letters, {result.behind()} behind",
        highlight=False,
        soft_wrap=True,
    )


def _run(subscriber: Subscriber, stop: threading.Event, until_caught_up: bool, show: bool) -> Progress:
    if not show:
        return subscriber.run(until_caught_up=until_caught_up, stop=stop)
    if not console.is_terminal:
        last = [0.0]

        def _plain(p: Progress) -> None:
            now = time.monotonic()
            if now - last[0] >= _PLAIN_EVERY_S:
                last[0] = now
                console.print(_summary(p), highlight=False, soft_wrap=True)

        return subscriber.run(until_caught_up=until_caught_up, stop=stop, on_progress=_plain)
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        shown = [0.0]

        def _live(p: Progress) -> None:
            now = time.monotonic()
            if now - shown[0] >= 0.25 or p.state != "reading":
                shown[0] = now
                live.update(_render(p))

        result = subscriber.run(until_caught_up=until_caught_up, stop=stop, on_progress=_live)
        live.update(_render(result))
    return result


def _summary(p: Progress) -> str:
    elapsed = max(time.monotonic() - p.started_at, 1e-9)
    waiting = f"; waiting for {p.waiting}" if p.waiting else ""
    return (
        f"{p.partner}: {p.state}; {p.written} written ({p.written / elapsed:.0f}/s), {p.duplicates} duplicates "
        f"ignored, {p.dead_letters} dead letters, {p.behind()} behind{waiting}"
    )


def _render(p: Progress) -> Group:
    table = Table(title=f"{p.partner} ({', '.join(p.zones)}) -> {p.sink}", title_justify="left")
    table.add_column("topic")
    table.add_column("position", justify="right")
    table.add_column("end", justify="right")
    table.add_column("behind", justify="right")
    behind = p.behind_by_topic()
    empty = 0
    for topic, (done, end) in sorted(p.position_by_topic().items()):
        if end == 0 and done == 0:
            empty += 1
            continue
        lag = behind.get(topic, 0)
        table.add_row(topic, str(done), str(end), Text(str(lag), style="yellow" if lag else "green"))
    if empty:
        table.caption = f"and {empty} empty topic{'s' if empty > 1 else ''}"
    status = Text(_summary(p), style="yellow" if p.waiting else "")
    return Group(table, status)
