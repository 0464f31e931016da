"""``hub tokens add|list|revoke``: bearer tokens of the HTTP APIs."""

from __future__ import annotations

from pathlib import Path

import typer

from hub import tokens
from hub.commandline import make_console, settings_of

app = typer.Typer(help="Create, list and revoke bearer tokens of the HTTP APIs.", no_args_is_help=True)
console = make_console()
err_console = make_console(stderr=True)

FILE_OPTION = typer.Option(None, "--file", help="Tokens file (default: HUB_TOKENS_FILE, <data_dir>/tokens.json).")


def tokens_path(ctx: typer.Context, given: Path | None) -> Path:
    settings = settings_of(ctx)
    return given if given is not None else (settings.tokens_file or tokens.default_tokens_path(settings.data_dir))


@app.command()
def add(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="publisher, analyst, partner or admin."),
    district: str | None = typer.Option(None, "--district", help="Publisher's district, e.g. shenzhen-nanshan."),
    partner: str | None = typer.Option(None, "--partner", help="Partner id: hk, mo, gd, js or fj."),
    name: str | None = typer.Option(None, "--name", help="Label shown by `hub tokens list`."),
    file: Path | None = FILE_OPTION,
) -> None:
    """Create a token. It is printed once, on stdout; only its hash is stored."""
    path = tokens_path(ctx, file)
    token, entry = tokens.issue(role, district=district, partner=partner, name=name)
    tokens.add_token(path, entry)
    err_console.print(
        f"created {entry.id} ({entry.role}, {entry.scope}) in {path}\n"
        "[bold yellow]Store this token now:[/] it is shown only once and cannot be recovered "
        "(revoke it and create another if it is lost).",
        highlight=False,
    )
    typer.echo(token)


@app.command("list")
def list_(ctx: typer.Context, file: Path | None = FILE_OPTION) -> None:
    """Show the stored tokens (ids, roles, scopes; never secrets)."""
    path = tokens_path(ctx, file)
    current = tokens.read_tokens(path)
    if not len(current):
        console.print(f"no tokens in {path}")
        return
    rows = [("ID", "ROLE", "SCOPE", "CREATED_AT", "NAME")]
    rows += [(e.id, e.role.value, str(e.scope), tokens.entry_to_dict(e)["created_at"], e.name) for e in current.entries]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4])


@app.command()
def revoke(
    ctx: typer.Context, token_id: str = typer.Argument(..., metavar="ID"), file: Path | None = FILE_OPTION
) -> None:
    """Remove a token; a running ingest server stops accepting it at its next request."""
    removed = tokens.revoke_token(tokens_path(ctx, file), token_id)
    console.print(f"revoked {removed.id} ({removed.name}, {removed.role}, {removed.scope})", highlight=False)
