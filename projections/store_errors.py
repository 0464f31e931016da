"""How the projection store reports a database failure: the store's side of :mod:`hub.tracking`'s classification.

An outage, a lock timeout or a deadlock is :class:`StoreUnavailable` (a
:class:`~hub.errors.TransientError`: the one retry policy waits it out and the
same batch is applied again); anything else that is not a refused record is a
:class:`~hub.errors.ProjectionError`. Refused records are
:class:`hub.tracking.RecordsRejected`, the same class for every SQL store.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from hub.errors import HubError, ProjectionError, TransientError
from hub.tracking import Failures


class StoreUnavailable(ProjectionError, TransientError):
    """The database could not be reached or the transaction could not complete (lock, deadlock): retry later."""


#: The store's errors, for :class:`hub.tracking.TrackingWriter`.
STORE_FAILURES: Final = Failures(phase=ProjectionError, unavailable=StoreUnavailable)


def translate(exc: SQLAlchemyError, doing: str) -> HubError:
    """``exc`` as :class:`StoreUnavailable` or :class:`ProjectionError`, prefixed with what was being done."""
    return STORE_FAILURES.translate(exc, doing)


__all__ = ["STORE_FAILURES", "StoreUnavailable", "translate"]
