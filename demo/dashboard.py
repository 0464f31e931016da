"""The demo's dashboards: an analyst token for them, where they are served, and serving them until Ctrl-C.

Each jurisdiction's query API serves its own dashboard from its own read models
(one cluster: one API). The demo issues one analyst token, valid for 30 days,
into every cluster's tokens file under the name ``demo-analyst`` (replacing the
one an earlier run issued) and writes the token itself to a file of mode 600
beside the demo data, never to the terminal or a log.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Final

from rich.console import Console

from hub.serving import BackgroundServer
from hub.settings import HubSettings
from hub.tokens import TokenFile, TokenSet, default_tokens_path, issue, read_tokens, write_tokens

TOKEN_NAME: Final = "demo-analyst"
TOKEN_DAYS: Final = 30
DEFAULT_PORT: Final = 8090


def _tokens_path(settings: HubSettings) -> Path:
    return settings.tokens_file or default_tokens_path(settings.data_dir)


def analyst_token(base: HubSettings, sites: Mapping[str, HubSettings]) -> Path:
    """Issue the demo's analyst token into every site's tokens file; the path of the file holding it."""
    token, entry = issue("analyst", name=TOKEN_NAME, expires_at=datetime.now(UTC) + timedelta(days=TOKEN_DAYS))
    for settings in sites.values():
        path = _tokens_path(settings)
        kept = tuple(e for e in read_tokens(path).entries if e.name != TOKEN_NAME)
        write_tokens(path, TokenSet((*kept, entry)))
    out = base.data_dir / "demo" / "analyst.token"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return out.resolve()


def ports(sites: Mapping[str, HubSettings], port: int) -> dict[str, int]:
    """The port of each site's query API: ``port`` for the first, the next ports for the others."""
    return {name: port + i for i, name in enumerate(sites)}


def urls(sites: Mapping[str, HubSettings], host: str, port: int) -> dict[str, str]:
    """Where each site's dashboard is served."""
    return {name: f"http://{host}:{p}/dashboard" for name, p in ports(sites, port).items()}


def announce(console: Console, sites: Mapping[str, HubSettings], token: Path, *, host: str, port: int) -> None:
    """Say where the dashboards are and how to serve and sign in to them."""
    for name, url in urls(sites, host, port).items():
        console.print(f"dashboard{f' of {name}' if name else ''}: {url}", highlight=False, soft_wrap=True)
    console.print(
        f"  served by `hub demo --serve` (until Ctrl-C) or `hub api serve`; sign in with the analyst token in {token}",
        highlight=False,
        soft_wrap=True,
    )


def serve(console: Console, sites: Mapping[str, HubSettings], token: Path, *, host: str, port: int) -> None:
    """Serve every site's query API and dashboard until Ctrl-C (or SIGTERM), then stop them."""
    from projections.commands.api import serving_app
    from projections.commands.db import read_model_engine
    from projections.tables import READ_MODELS

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    with ExitStack() as running:
        for name, site_port in ports(sites, port).items():
            settings = sites[name]
            engine = read_model_engine(settings)
            running.callback(engine.dispose)
            app = serving_app(settings, engine, TokenFile(_tokens_path(settings)))
            server = running.enter_context(BackgroundServer(app, host, site_port))
            console.print(f"[green]✓[/] serving {name or READ_MODELS} on {server.url}", highlight=False)
        announce(console, sites, token, host=host, port=port)
        console.print("press Ctrl-C to stop serving", highlight=False)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopping the dashboards…", highlight=False)
        finally:
            signal.signal(signal.SIGTERM, previous)


__all__ = ["DEFAULT_PORT", "TOKEN_NAME", "analyst_token", "announce", "ports", "serve", "urls"]
