"""``hub report``: a zone's report for a period, refreshing the indicators first if they are behind.

The command reads the read models (a database at the newest revision, see
:func:`projections.commands.db.read_model_engine`) and prints the report of
:mod:`projections.report` as :mod:`projections.report_render` writes it, or
writes it to ``--output``. The CSV is plain (a header row and data rows, for
Excel and pandas); what describes it never gets lost: on stdout its heading,
legend, FX rates and caveats go to stderr, and with ``--output FILE.csv`` they
go to the sidecar ``FILE.metadata.json`` beside it. ``--format xlsx`` (a
binary workbook, :mod:`projections.report_xlsx`) needs ``--output``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import typer

from hub.commandline import make_console, settings_of
from hub.errors import ConfigError
from hub.jurisdictions import held_zones
from hub.zones import ZONES
from projections.commands.db import read_model_engine

if TYPE_CHECKING:
    from projections.report import Report

console = make_console()
err_console = make_console(stderr=True)

CLI_FORMATS: Final = ("table", "csv", "json", "xlsx", "metadata")
"""What ``--format`` accepts."""


def sidecar_path(output: Path) -> Path:
    """Where the metadata of a CSV written to ``output`` goes: ``FILE.csv`` -> ``FILE.metadata.json``."""
    if output.suffix.lower() == ".csv":
        return output.with_suffix(".metadata.json")
    return output.with_name(output.name + ".metadata.json")


def _usage_error(message: str) -> typer.Exit:
    """A usage error as one line on stderr, exit code 2 (as typer's own parameter errors)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _files(built: Report, fmt: str, width: int, output: Path) -> list[tuple[Path, str | bytes]]:
    """What ``--output`` writes: the report in ``fmt``, and for a CSV its metadata beside it."""
    from projections.report_render import render, render_metadata_json
    from projections.report_xlsx import render_xlsx

    if fmt == "xlsx":
        return [(output, render_xlsx(built))]
    files: list[tuple[Path, str | bytes]] = [(output, render(built, fmt, width))]  # type: ignore[arg-type]
    if fmt == "csv":
        files.append((sidecar_path(output), render_metadata_json(built)))
    return files


def _write(path: Path, content: str | bytes) -> None:
    try:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"--output: cannot write {path}: {exc.strerror or exc}") from exc


def report(
    ctx: typer.Context,
    zone: str = typer.Option(..., "--zone", help="gba or mainland."),
    period: str = typer.Option(..., "--period", help="2026, 2026-Q1 or 2026-03 (Asia/Shanghai)."),
    fmt: str = typer.Option(
        "table",
        "--format",
        help="table, csv (plain CSV; its metadata to stderr, or beside --output), json, xlsx (needs --output) "
        "or metadata (the CSV's sidecar JSON).",
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        dir_okay=False,
        help="Write the report to this file instead of stdout (csv: and its metadata to FILE.metadata.json).",
    ),
    region: str | None = typer.Option(None, "--region", help="Only this region (e.g. GD)."),
    district: str | None = typer.Option(None, "--district", help="Only this district (e.g. shenzhen-nanshan)."),
    threshold: int = typer.Option(5, "--threshold", min=1, help="Counts below it are suppressed (<5)."),
    unsuppressed: bool = typer.Option(
        False, "--unsuppressed", help="Operator view: no suppression. Never publish it across regions."
    ),
    width: int = typer.Option(
        160, "--width", min=60, help="Width of the table format (wider blocks are split, never cut)."
    ),
) -> None:
    """Print the report of a zone for a period, refreshing the indicators first if they are behind."""
    from projections.report_queries import ReportService
    from projections.report_render import metadata_lines, render
    from projections.suppression import Policy

    if fmt not in CLI_FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(CLI_FORMATS)}, got {fmt!r}", param_hint="--format")
    if fmt == "xlsx" and output is None:
        raise _usage_error("--output: --format xlsx writes a binary workbook; give --output FILE.xlsx")
    settings = settings_of(ctx)
    engine = read_model_engine(settings)
    try:
        service = ReportService(
            engine,
            reporting_currency=settings.reporting_currency,
            policy=Policy(threshold=threshold),
            held_zones=held_zones(settings) or ZONES,
            cluster=settings.cluster,
        )
        built = service.report(zone, period, region=region, district=district, suppressed=not unsuppressed)
    finally:
        engine.dispose()
    if unsuppressed:
        err_console.print("[yellow]warning:[/] unsuppressed report: small counts are shown", highlight=False)
    if output is not None:
        files = _files(built, fmt, width, output)
        for path, content in files:
            _write(path, content)
        names = " and its metadata ".join(str(path) for path, _ in files)
        err_console.print(f"wrote {names}", highlight=False, soft_wrap=True)
        return
    text = render(built, fmt, width)  # type: ignore[arg-type]  # checked against CLI_FORMATS above
    if fmt == "table":
        console.print(text, end="", highlight=False, markup=False, soft_wrap=True)
        return
    typer.echo(text, nl=False)
    if fmt == "csv":
        for line in metadata_lines(built):
            err_console.print(line, highlight=False, markup=False, soft_wrap=True)


__all__ = ["CLI_FORMATS", "report", "sidecar_path"]
