"""The CLI's consoles: one definition, so every command prints the same way."""

from __future__ import annotations

from rich.console import Console


def make_console(*, stderr: bool = False) -> Console:
    """A console whose text lines are never hard-wrapped: messages stay whole in logs, pipes and greps."""
    return Console(stderr=stderr, soft_wrap=True)
