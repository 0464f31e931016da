"""``hub registry serve|start|stop|status``: the embedded schema registry."""

from __future__ import annotations

import typer

from hub import naming
from hub.commandline import make_console, settings_of, stopped_line
from hub.registry import launcher

app = typer.Typer(help="Run the embedded Confluent-compatible schema registry.", no_args_is_help=True)
console = make_console()


def _port(ctx: typer.Context, port: int | None) -> int:
    return port if port is not None else launcher.host_port(settings_of(ctx).schema_registry_url)[1]


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int | None = typer.Option(None, "--port", help="Port; defaults to the one in HUB_SCHEMA_REGISTRY_URL."),
    topic: str = typer.Option(naming.SCHEMAS_TOPIC, "--topic", help="Compacted topic holding the registry."),
) -> None:
    """Serve the registry in the foreground until interrupted."""
    launcher.serve(settings_of(ctx), host=host, port=_port(ctx, port), topic=topic)


@app.command()
def start(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int | None = typer.Option(None, "--port", help="Port; defaults to the one in HUB_SCHEMA_REGISTRY_URL."),
    topic: str = typer.Option(naming.SCHEMAS_TOPIC, "--topic", help="Compacted topic holding the registry."),
) -> None:
    """Start the registry in the background. A running registry is left as is."""
    settings = settings_of(ctx)
    with console.status("starting the schema registry…"):
        result = launcher.start(settings, host=host, port=_port(ctx, port), topic=topic)
    if result.started:
        console.print(f"schema registry started (pid {result.pid}) at {result.url}")
    else:
        console.print(f"schema registry already running (pid {result.pid}) at {result.url}")


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the registry started from this data directory."""
    outcome = launcher.stop(settings_of(ctx))
    console.print(stopped_line("schema registry", outcome))


@app.command()
def status(ctx: typer.Context) -> None:
    """Say whether the registry answers; exit 1 if it does not."""
    st = launcher.status(settings_of(ctx))
    pid = f"pid {st.pid}" if st.pid else "no local process"
    if st.answering:
        console.print(f"schema registry answering at {st.url} ({pid})")
    else:
        console.print(f"schema registry not answering at {st.url} ({pid})")
        raise typer.Exit(1)
