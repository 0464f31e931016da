"""``hub kafka start|stop|status``: the local single-node KRaft broker."""

from __future__ import annotations

import typer

from hub import local_kafka
from hub.commandline import make_console, settings_of, stopped_line
from hub.commands import acls

app = typer.Typer(help="Run the local Apache Kafka broker (KRaft, single node).", no_args_is_help=True)
app.add_typer(acls.app, name="acls")
console = make_console()


@app.command()
def start(ctx: typer.Context) -> None:
    """Start the broker (formats storage on first run). A running broker is left as is."""
    settings = settings_of(ctx)
    with console.status(f"starting Apache Kafka {local_kafka.kafka_version()} on 127.0.0.1:{settings.kafka_port}…"):
        result = local_kafka.start(settings)
    if result.started:
        console.print(f"Kafka {local_kafka.kafka_version()} started (pid {result.pid}) at {result.bootstrap}")
    else:
        console.print(f"Kafka already running (pid {result.pid}) at {result.bootstrap}")


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the broker started from this data directory."""
    outcome = local_kafka.stop(settings_of(ctx))
    console.print(stopped_line("Kafka", outcome))


@app.command()
def status(ctx: typer.Context) -> None:
    """Say whether the broker runs and answers; exit 1 if it does not answer."""
    st = local_kafka.status(settings_of(ctx))
    pid = f"pid {st.pid}" if st.pid else "no local process"
    if st.answering:
        console.print(f"Kafka answering at {st.bootstrap} ({pid}, {st.detail})")
    else:
        console.print(f"Kafka not answering at {st.bootstrap} ({pid}): {st.detail}")
        raise typer.Exit(1)


@app.command("fetch")
def fetch(ctx: typer.Context) -> None:
    """Resolve the Kafka jars with Maven (done automatically by start)."""
    settings = settings_of(ctx)
    local_kafka.check_java()
    with console.status("resolving Kafka jars with Maven…"):
        cp = local_kafka.resolve_classpath(settings)
    console.print(f"Kafka {local_kafka.kafka_version()}: {len(cp.split(':'))} jars resolved")
