"""What every package's CLI commands share, so that no package imports the root command.

Each package contributes its own commands (``hub.commands``, ``hub.gateway.commands``,
``projections.commands``, ``consumers.commands``, ``demo.commands``); the root
command (:mod:`cli.main`) builds the settings once and puts them on the typer
context, where :func:`settings_of` finds them. Also here, once each: the
console (:func:`make_console`), what a stop command says (:func:`stopped_line`),
the tokens file an HTTP API serves with (:func:`serving_tokens`), running an
app as a program with one-line errors (:func:`run_app`), and ``python -m
<package>`` for managed processes (:func:`module_main`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from hub.consoles import HubConsole
from hub.credentials import as_principal
from hub.errors import HubError
from hub.jurisdictions import cluster_settings, load_topology
from hub.settings import HubSettings, load_settings
from hub.tokens import TokenFile, default_tokens_path


def make_console(*, stderr: bool = False) -> Console:
    """A console whose text lines are never hard-wrapped and whose tables are never cut: messages stay
    whole in logs, pipes and greps, and a table printed to a pipe or a file is drawn at its natural
    width (:class:`hub.consoles.HubConsole`) instead of being squeezed into 80 columns with ellipses."""
    return HubConsole(stderr=stderr, soft_wrap=True)


def settings_of(ctx: typer.Context, *, login: str | None = None, cluster: str | None = None) -> HubSettings:
    """The settings the root command built for this invocation.

    ``cluster`` names a cluster of the topology (:func:`hub.jurisdictions.cluster_settings`); None keeps
    the root's (``hub --cluster NAME`` or the single cluster). ``login`` names the Kafka principal the
    command acts as (:func:`hub.credentials.as_principal`: a user the environment names wins; else the
    local secured broker's password for ``login``).
    """
    obj = ctx.find_root().obj
    if not isinstance(obj, HubSettings):
        raise RuntimeError("the hub's settings are not on the typer context: run through the `hub` command")
    if cluster is not None:
        obj = cluster_settings(obj, load_topology(obj), cluster)
    return obj if login is None else as_principal(obj, login)


def instance_option() -> Any:
    """The ``--instance N`` option of a worker command (``HUB_WORKER_INSTANCE``)."""
    return typer.Option(
        None,
        "--instance",
        min=0,
        max=63,
        help="Which instance of a scaled-out worker (default: HUB_WORKER_INSTANCE, else 0); instances share "
        "the consumer group and its partitions.",
    )


def with_instance(settings: HubSettings, instance: int | None) -> HubSettings:
    """``settings`` for worker instance ``instance`` (None: as they are)."""
    return settings if instance is None else settings.model_copy(update={"worker_instance": instance})


def stopped_line(what: str, outcome: bool | None) -> str:
    """What a ``stop`` command says: ``outcome`` is None (nothing ran), True (stopped) or False (killed)."""
    if outcome is None:
        return f"{what} is not running"
    return f"{what} stopped" if outcome else f"{what} did not stop in time and was killed"


def serving_tokens(settings: HubSettings, tokens_file: Path | None, *, hint: str) -> tuple[TokenFile, Path, int]:
    """The tokens file an HTTP API serves with, read once so a malformed file stops the command at start.

    Returns the file, its path and how many tokens it holds; warns on stderr
    when it holds none (every request would get 401), with ``hint`` saying how
    to create one.
    """
    path = tokens_file if tokens_file is not None else (settings.tokens_file or default_tokens_path(settings.data_dir))
    tokens = TokenFile(path)
    count = len(tokens())  # a malformed file raises here, naming the entry and field
    if count == 0:
        make_console(stderr=True).print(
            f"[yellow]warning:[/] no tokens in {path}: every request will get 401 (create one with `{hint}`)",
            highlight=False,
        )
    return tokens, path, count


def _fail(exc: HubError) -> NoReturn:
    make_console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    sys.exit(1)


def run_app(app: typer.Typer) -> None:
    """Run ``app`` as a program: a :class:`HubError` is one line on stderr and exit 1, never a traceback."""
    try:
        app()
    except HubError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        make_console(stderr=True).print("interrupted")
        sys.exit(130)


def module_main(command: Callable[..., Any], *, name: str) -> None:
    """``python -m <package>``: one command of a package, with the settings read from the ``HUB_*`` environment.

    Managed processes are started this way (by module, not through the root
    CLI), so a service depends only on its own package and the core.
    """
    try:
        settings = load_settings(env_file=None)
    except HubError as exc:
        _fail(exc)
    app = typer.Typer(
        name=name, add_completion=False, pretty_exceptions_enable=False, context_settings={"obj": settings}
    )
    app.command()(command)
    run_app(app)
