"""``hub replicate run|start|stop|status --from SOURCE --to TARGET``: one replication flow between clusters."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import typer

from hub.commandline import make_console, settings_of, stopped_line
from hub.process import StatusFile
from hub.replication import launcher
from hub.replication.engine import Tuning
from hub.replication.wiring import files, setup

app = typer.Typer(
    help="Copy a jurisdiction's shared topics to another cluster, exactly once (docs/replication.md).",
    no_args_is_help=True,
)
console = make_console()

_FROM = typer.Option(..., "--from", help="Source cluster of the topology (cn, hk, mo).")
_TO = typer.Option(..., "--to", help="Target cluster of the topology.")
_BATCH = typer.Option(Tuning.batch_records, "--batch-records", min=1, help="At most this many records per transaction.")
_TOPICS = typer.Option(
    None, "--topics", help="Regex of the source topics to copy (full match); default: the flow's shared.<zone>.*."
)


@app.command()
def run(
    ctx: typer.Context,
    source: str = _FROM,
    target: str = _TO,
    topics: str | None = _TOPICS,
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Serve Prometheus /metrics on this port."),
    once: bool = typer.Option(False, "--once", help="Copy what the source holds now, then exit."),
    batch_records: int = _BATCH,
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Run the flow in the foreground until interrupted (SIGTERM or Ctrl-C finish the open transaction)."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if logging.getLogger().level > logging.DEBUG:
        # kafka-python logs every failed reconnect of an outage as an error; the flow says it once, waiting
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    found = setup(settings_of(ctx), source, target, topics)
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    replicator = found.replicator(
        tuning=Tuning(batch_records=batch_records), status=StatusFile(files(found.target, found.flow).status), stop=stop
    )
    server = None
    if metrics_port is not None:
        from hub.replication.metrics import serve

        server = serve(replicator.progress, port=metrics_port)
        console.print(f"metrics at {server.url}")
    console.print(f"flow {found.flow.name}: {found.flow.topics} from {source} to {target}", markup=False)
    try:
        done = replicator.run(until_caught_up=once)
    finally:
        if server is not None:
            server.close()
    console.print(f"flow {found.flow.name}: {done.records} records in {done.transactions} transactions", markup=False)


@app.command()
def start(
    ctx: typer.Context,
    source: str = _FROM,
    target: str = _TO,
    topics: str | None = _TOPICS,
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Serve Prometheus /metrics on this port."),
    timeout: float = typer.Option(launcher.START_TIMEOUT_S, "--timeout", help="Seconds to wait until it copies."),
    batch_records: int = _BATCH,
) -> None:
    """Start the flow in the background; return once it copies. A running one is left as is."""
    settings = settings_of(ctx)
    found = setup(settings, source, target, topics)
    with console.status(f"starting flow {found.flow.name}…"):
        result = launcher.start(
            settings,
            found,
            environ=os.environ,
            topics=topics,
            metrics_port=metrics_port,
            batch_records=batch_records,
            timeout_s=timeout,
        )
    verb = "started" if result.started else "already running"
    console.print(f"flow {result.flow} {verb} (pid {result.pid})")


@app.command()
def stop(ctx: typer.Context, source: str = _FROM, target: str = _TO) -> None:
    """Stop the flow's background replicator (SIGTERM, then SIGKILL)."""
    found = setup(settings_of(ctx), source, target)
    console.print(stopped_line(f"flow {found.flow.name}", launcher.stop(found)))


@app.command()
def status(ctx: typer.Context, source: str = _FROM, target: str = _TO) -> None:
    """Whether the flow runs, what it copied and how far behind each partition is; exit 1 if it does not run."""
    found = setup(settings_of(ctx), source, target)
    st = launcher.status(found)
    if st.pid is None:
        console.print(f"flow {st.flow}: not running")
        raise typer.Exit(1)
    doc = st.status or {}
    console.print(
        f"flow {st.flow}: {doc.get('state', 'starting')} (pid {st.pid}); {doc.get('records', 0)} records in "
        f"{doc.get('transactions', 0)} transactions, {doc.get('records_per_s', 0)} records/s, "
        f"lag {doc.get('lag', '?')}, {doc.get('restarts', 0)} restarts",
        markup=False,
    )
    for p in doc.get("partitions", []):
        if p.get("lag"):
            console.print(
                f"  {p['topic']}[{p['partition']}]: {p['lag']} behind (at {p['position']} of {p['end']})", markup=False
            )
    if doc.get("last_error"):
        console.print(f"last error: {doc['last_error']}", markup=False)
