"""``hub tokens add|list|revoke``: bearer tokens of the HTTP APIs (optionally expiring)."""

from __future__ import annotations

from datetime import UTC, datetime
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
    expires_in: str | None = typer.Option(
        None, "--expires-in", help="Refused from this long after now: 30d, 12h, 90m, 2w, 45s."
    ),
    expires_at: str | None = typer.Option(
        None, "--expires-at", help="Refused from then: 2026-12-31 (00:00 UTC) or 2026-12-31T18:00:00+08:00."
    ),
    file: Path | None = FILE_OPTION,
) -> None:
    """Create a token. It is printed once, on stdout; only its hash is stored. Without an expiry it never expires."""
    path = tokens_path(ctx, file)
    now = datetime.now(UTC).replace(microsecond=0)
    expiry = tokens.expiry_of(expires_in, expires_at, now)
    token, entry = tokens.issue(role, district=district, partner=partner, name=name, expires_at=expiry, now=now)
    tokens.add_token(path, entry)
    until = f"expires {tokens.format_time(entry.expires_at)}" if entry.expires_at else "never expires"
    err_console.print(
        f"created {entry.id} ({entry.role}, {entry.scope}, {until}) in {path}\n"
        "[bold yellow]Store this token now:[/] it is shown only once and cannot be recovered "
        "(revoke it and create another if it is lost).",
        highlight=False,
    )
    typer.echo(token)


@app.command("list")
def list_(ctx: typer.Context, file: Path | None = FILE_OPTION) -> None:
    """Show the stored tokens (ids, roles, scopes, expiry; never secrets)."""
    path = tokens_path(ctx, file)
    current = tokens.read_tokens(path)
    if not len(current):
        console.print(f"no tokens in {path}")
        return
    now = datetime.now(UTC)
    rows = [("ID", "ROLE", "SCOPE", "CREATED_AT", "EXPIRES_AT", "NAME")]
    rows += [
        (e.id, e.role.value, str(e.scope), tokens.format_time(e.created_at), _expiry_cell(e, now), e.name)
        for e in current.entries
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5])


def _expiry_cell(entry: tokens.TokenEntry, now: datetime) -> str:
    if entry.expires_at is None:
        return "never"
    return tokens.format_time(entry.expires_at) + (" (expired)" if entry.expired(now) else "")


@app.command()
def revoke(
    ctx: typer.Context, token_id: str = typer.Argument(..., metavar="ID"), file: Path | None = FILE_OPTION
) -> None:
    """Remove a token; a running ingest server stops accepting it at its next request."""
    removed = tokens.revoke_token(tokens_path(ctx, file), token_id)
    console.print(f"revoked {removed.id} ({removed.name}, {removed.role}, {removed.scope})", highlight=False)
