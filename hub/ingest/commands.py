"""``hub ingest serve``: the HTTP ingest API under uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from hub.commandline import make_console, settings_of
from hub.ingest.app import create_ingest_app
from hub.ingest.batch import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENTS, Limits
from hub.publishing.publisher import Publisher
from hub.settings import HubSettings
from hub.tokens import TokenFile, default_tokens_path

app = typer.Typer(help="The HTTP ingest API (POST /v1/events).", no_args_is_help=True)
err_console = make_console(stderr=True)


def publisher_factory(settings: HubSettings) -> Publisher:
    """A publisher on the configured broker and schema registry."""
    from hub.registry.client import RegistryClient

    return Publisher(settings, RegistryClient(settings.schema_registry_url, settings.request_timeout_s))


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    tokens_file: Path | None = typer.Option(None, "--tokens-file", help="Default: HUB_TOKENS_FILE."),
    max_body_bytes: int = typer.Option(DEFAULT_MAX_BODY_BYTES, "--max-body-bytes", min=1, help="Largest body."),
    max_events: int = typer.Option(DEFAULT_MAX_EVENTS, "--max-events", min=1, help="Largest batch."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the ingest API until interrupted."""
    settings = settings_of(ctx)
    path = tokens_file if tokens_file is not None else (settings.tokens_file or default_tokens_path(settings.data_dir))
    tokens = TokenFile(path)
    count = len(tokens())  # a malformed file stops here with a message naming the entry and field
    if count == 0:
        err_console.print(
            f"[yellow]warning:[/] no tokens in {path}: every request will get 401 "
            "(create one with `hub tokens add --role publisher --district <code>`)",
            highlight=False,
        )
    api = create_ingest_app(
        settings,
        lambda: publisher_factory(settings),
        tokens,
        limits=Limits(max_body_bytes=max_body_bytes, max_events=max_events),
    )
    err_console.print(
        f"ingest API on http://{host}:{port} (docs at /docs), {count} token(s) from {path}, "
        f"Kafka {settings.bootstrap_servers}, registry {settings.schema_registry_url}",
        highlight=False,
    )
    uvicorn.run(api, host=host, port=port, log_level=log_level)
