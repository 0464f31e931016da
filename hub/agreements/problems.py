"""What is wrong with an agreement file: one :class:`Problem` per fault, all of them in one :class:`AgreementError`.

Each problem prints as one line: the file, the event and field where it applies, and the rule broken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.errors import PolicyError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an agreement file."""

    origin: str
    event: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        """One line, even when a name taken from the file holds a line break or other unprintable text."""
        where = [self.origin]
        if self.event:
            where.append(f"event {_shown(self.event)}")
        if self.field:
            where.append(f"field {_shown(self.field)}")
        return f"{': '.join(where)}: {' '.join(self.message.splitlines())}"


def _shown(name: str) -> str:
    return name if name.isprintable() else repr(name)


class AgreementError(PolicyError):
    """One or more agreement files are invalid; ``problems`` lists each (file, event, field, message)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


__all__ = ["AgreementError", "Problem"]
