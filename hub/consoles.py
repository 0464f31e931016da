"""The hub's console: lines never hard-wrapped, and tables never cut when the output is not a terminal.

Rich sizes a console that writes to a pipe, a file or a CI log at 80 columns
(``COLUMNS`` aside), and shrinks a table wider than that, cutting its values
with an ellipsis. :class:`HubConsole` prints a top-level :class:`rich.table.Table`
at its natural width instead when the output is not a terminal: every value
shows whole, however wide the table; a rule whose title would be cut is drawn
above its title. Everything else (text, progress, status) keeps the console's
width, and on a terminal tables behave as rich
draws them (fitted to the window). :func:`hub.commandline.make_console` builds
every command's console with it.
"""

from __future__ import annotations

from typing import Any, Final

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text, TextType

MEASURE_WIDTH: Final = 100_000
"""The width a table is measured at: wide enough for its natural width."""
RULE_MARGIN: Final = 6
"""What a rule needs beside its title (the spaces around it and a few rule characters each side)."""


def natural_width(console: Console, table: Table) -> int:
    """The width ``table`` takes when nothing constrains it (every column as wide as its widest value)."""
    return Measurement.get(console, console.options.update_width(MEASURE_WIDTH), table).maximum


class _AtWidth:
    """``table`` rendered at ``width`` whatever the width it is offered."""

    def __init__(self, table: Table, width: int) -> None:
        self.table = table
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.table, options.update_width(self.width))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)


class HubConsole(Console):
    """A :class:`rich.console.Console` that, when not writing to a terminal, prints each :class:`Table`
    given to :meth:`print` at its natural width when that is wider than the console (never cropped),
    and a rule whose title does not fit as a plain rule above the whole title."""

    def rule(self, title: TextType = "", **kwargs: Any) -> None:
        plain = title.plain if isinstance(title, Text) else Text.from_markup(title).plain
        if self.is_terminal or cell_len(plain) + RULE_MARGIN <= self.width:
            super().rule(title, **kwargs)
            return
        super().rule(**kwargs)  # rich would cut the title with an ellipsis to fit the rule
        self.print(title, highlight=False, soft_wrap=True)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if self.is_terminal or not any(isinstance(o, Table) for o in objects):
            super().print(*objects, **kwargs)
            return
        widened = False
        placed: list[Any] = []
        for o in objects:
            if isinstance(o, Table):
                width = natural_width(self, o)
                if width > self.width:
                    placed.append(_AtWidth(o, width))
                    widened = True
                    continue
            placed.append(o)
        if widened:
            kwargs["crop"] = False  # rich would crop the wider lines back to the console's width
        super().print(*placed, **kwargs)


__all__ = ["MEASURE_WIDTH", "HubConsole", "natural_width"]
