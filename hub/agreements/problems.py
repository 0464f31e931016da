"""What is wrong with an agreement file: one :class:`Problem` per fault, all of them in one :class:`AgreementError`."""

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
        where = [self.origin]
        if self.event:
            where.append(f"event {self.event}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{': '.join(where)}: {self.message}"


class AgreementError(PolicyError):
    """One or more agreement files are invalid; ``problems`` lists each (file, event, field, message)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


__all__ = ["AgreementError", "Problem"]
