"""The tracking writer's guarantees as ONE abstract suite, run against every backend that stores rows with offsets.

In the style of the ``eventsourcing`` library's ``tests/persistence.py``:
:class:`TrackingContract` states the guarantees once and is not collected
itself (no ``Test`` prefix); each backend subclasses it once, in
``tests/test_tracking_*.py``, and says only how to reach its storage:

- the projection store on SQLite and on PostgreSQL (``test_tracking_store.py``);
- the SQL sink on SQLite and on PostgreSQL, and the JSON Lines sink
  (``test_tracking_sinks.py``).

The guarantees: a crash between the rows and the offsets loses and
duplicates nothing; a re-delivered batch is skipped, nothing counted twice; a
refused record is isolated, the others are applied once it is dead-lettered,
and its offset advances; concurrent writers of the same partitions neither
lose an update nor apply a record twice. Where a backend keeps a guarantee in
its own way (JSON Lines has no SQL transaction: a crash after the segment
rename is rolled forward, and a second writer is locked out of the folder
instead of waiting), the subclass implements the hook differently; no
guarantee is skipped.

Backends are reached through a :class:`ContractWriter` adapter on
backend-neutral :class:`Item` values, so the crash test can run the same
adapter in a child process and kill it at the backend's ``crash_point``.
"""

from __future__ import annotations

import importlib
import json
import signal
import subprocess
import sys
import textwrap
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import pytest
from sqlalchemy import text

from hub.sql import is_sqlite, write_transaction
from hub.tracking import RecordsRejected, TrackingWriter
from tests.fixtures.postgres import wait_until_blocked_by

TopicPartition = tuple[str, int]
REPO = Path(__file__).resolve().parents[1]
TOPIC = "shared.gba.case-opened"
#: Bound of every wait of the suite (a hang fails the test instead of blocking the run).
WAIT_S = 120.0


@dataclass(frozen=True)
class Item:
    """A backend-neutral record: where it was read from, and the thing it carries (``ident``, unique)."""

    topic: str
    partition: int
    offset: int
    ident: str
    kind: Literal["good", "refused", "dead"] = "good"
    """``refused``: a value the backend's store refuses; ``dead``: dead-lettered, nothing to store."""


@dataclass(frozen=True)
class Wrote:
    """What one write reported: records at or past the stored offsets, and records skipped below them."""

    applied: int
    skipped: int


class ContractWriter(Protocol):
    """One writer on a backend's storage, with its own connection (or folder lock)."""

    def write(self, items: Sequence[Item]) -> Wrote:
        """Store ``items`` and the offsets they reach; raise :class:`hub.tracking.RecordsRejected`."""
        ...

    def positions(self) -> dict[TopicPartition, int]: ...

    def contents(self) -> list[str]:
        """The idents held, sorted, one entry per time held; raises if the backend's own counts disagree."""
        ...

    def close(self) -> None: ...


class WriterFactory(Protocol):
    def __call__(self, location: str) -> ContractWriter: ...


def items(count: int, *, partition: int = 0, first: int = 0, prefix: str = "e") -> list[Item]:
    """``count`` good items at consecutive offsets of one partition."""
    return [Item(TOPIC, partition, first + i, f"{prefix}-{partition}-{first + i}") for i in range(count)]


def idents(batch: Sequence[Item]) -> list[str]:
    return sorted(i.ident for i in batch if i.kind == "good")


def as_kind(item: Item, kind: Literal["good", "refused", "dead"]) -> Item:
    return Item(item.topic, item.partition, item.offset, item.ident, kind)


class TrackingContract(ABC):
    """The guarantees; a subclass per backend provides :meth:`make_storage` and the class attributes."""

    #: ``module:attribute`` of the adapter's factory (importable in a child process): location -> writer.
    writer_factory: ClassVar[str]
    #: ``module:Class.method`` that a crashing child replaces by SIGKILL: called after the rows, before the offsets.
    crash_point: ClassVar[str]
    #: After that crash the rows are gone (a SQL transaction) or kept and rolled forward on restart (JSON Lines).
    crash_keeps_rows: ClassVar[bool] = False

    location: str
    _writers: list[ContractWriter]

    @abstractmethod
    def make_storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        """Create empty storage for one test; returns its location (a URL or a folder)."""

    @pytest.fixture(autouse=True)
    def _storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
        self.location = self.make_storage(request, tmp_path)
        self._writers = []
        try:
            yield
        finally:
            for writer in self._writers:
                writer.close()

    def open_writer(self) -> ContractWriter:
        """A new writer on this test's storage (its own connection): a restart, or a second process."""
        writer = _factory(self.writer_factory)(self.location)
        self._writers.append(writer)
        return writer

    # -- hooks a backend may implement differently --------------------------------------------------------
    def crash_between_rows_and_offsets(self, batch: Sequence[Item]) -> None:
        """Write ``batch`` in a child process that is SIGKILLed after its rows, before its offsets."""
        proc = subprocess.run(
            [sys.executable, "-c", _CRASHING_CHILD, self.writer_factory, self.location, self.crash_point],
            input=json.dumps([asdict(i) for i in batch]),
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=WAIT_S,
            check=False,
        )
        assert proc.returncode == -signal.SIGKILL, f"the child was not killed at {self.crash_point}: {proc.stderr}"

    def holding_the_offsets(self, tps: Sequence[TopicPartition]) -> AbstractContextManager[Callable[[int], None]]:
        """Hold what writers of ``tps`` must wait for; yields ``until_waiting(n)``: returns once ``n`` writers wait."""
        raise NotImplementedError(f"{type(self).__name__}: no way to hold the offsets of {tps}")

    def write_concurrently(self, plans: Sequence[Sequence[Sequence[Item]]]) -> list[list[Wrote]]:
        """Run one writer per plan (a list of batches), each on its own connection, at the same time.

        All of them start while the offsets are held, so they really contend
        for the same partitions once the hold is released.
        """
        tps = sorted({(i.topic, i.partition) for plan in plans for batch in plan for i in batch})
        writers = [self.open_writer() for _ in plans]
        results: list[list[Wrote]] = [[] for _ in plans]
        errors: list[BaseException] = []
        started = [threading.Event() for _ in plans]

        def work(index: int) -> None:
            try:
                started[index].set()
                for batch in plans[index]:
                    results[index].append(writers[index].write(batch))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(plans))]
        with self.holding_the_offsets(tps) as until_waiting:
            for thread in threads:
                thread.start()
            for event in started:
                assert event.wait(WAIT_S)
            until_waiting(len(plans))
        for thread in threads:
            thread.join(WAIT_S)
            assert not thread.is_alive(), "a writer is still running"
        assert errors == []
        return results

    # -- the guarantees ---------------------------------------------------------------------------------------
    def test_a_batch_and_the_offsets_it_reaches_are_stored_together(self) -> None:
        writer = self.open_writer()
        batch = [*items(3), *items(2, partition=1)]
        assert writer.write(batch) == Wrote(applied=5, skipped=0)
        assert writer.contents() == idents(batch)
        assert writer.positions() == {(TOPIC, 0): 3, (TOPIC, 1): 2}
        writer.close()
        reopened = self.open_writer()  # committed: a restarted writer sees it
        assert reopened.contents() == idents(batch)
        assert reopened.positions() == {(TOPIC, 0): 3, (TOPIC, 1): 2}

    def test_a_crash_between_rows_and_offsets_loses_and_duplicates_nothing(self) -> None:
        first, second = items(3), items(3, first=3)
        writer = self.open_writer()
        writer.write(first)
        writer.close()
        self.crash_between_rows_and_offsets(second)
        restarted = self.open_writer()
        if self.crash_keeps_rows:  # the rows were durable: recovery records the offsets they reach
            assert restarted.contents() == idents(first + second)
            assert restarted.positions() == {(TOPIC, 0): 6}
        else:  # nothing of the crashed batch is visible
            assert restarted.contents() == idents(first)
            assert restarted.positions() == {(TOPIC, 0): 3}
        # re-delivery from the stored offsets, then of everything (an at-least-once source may do both)
        again = restarted.write(second)
        assert again == (Wrote(0, 3) if self.crash_keeps_rows else Wrote(3, 0))
        assert restarted.write(first + second) == Wrote(applied=0, skipped=6)
        assert restarted.contents() == idents(first + second)
        assert restarted.positions() == {(TOPIC, 0): 6}

    def test_a_redelivered_batch_is_skipped_and_nothing_is_counted_twice(self) -> None:
        writer = self.open_writer()
        batch = items(4)
        assert writer.write(batch) == Wrote(applied=4, skipped=0)
        before = writer.contents()
        assert writer.write(batch) == Wrote(applied=0, skipped=4)
        writer.close()
        writer = self.open_writer()
        assert writer.write(batch) == Wrote(applied=0, skipped=4)  # after a restart too
        assert writer.contents() == before == idents(batch)
        assert writer.positions() == {(TOPIC, 0): 4}
        # a batch that straddles the stored offset applies only its new part; offsets never move back
        straddling = [batch[-1], *items(1, first=4)]
        assert writer.write(straddling) == Wrote(applied=1, skipped=1)
        assert writer.write(items(2)) == Wrote(applied=0, skipped=2)
        assert writer.contents() == idents([*batch, straddling[-1]])
        assert writer.positions() == {(TOPIC, 0): 5}

    def test_a_refused_record_is_isolated_and_the_rest_applied_once_it_is_dead_lettered(self) -> None:
        writer = self.open_writer()
        good = items(4)
        batch = [good[0], as_kind(good[1], "refused"), good[2], *items(2, partition=1), good[3]]
        with pytest.raises(RecordsRejected) as caught:
            writer.write(batch)
        assert [(r.topic, r.partition, r.offset) for r in caught.value.rejected] == [(TOPIC, 0, 1)]
        assert caught.value.rejected[0].reason
        assert writer.contents() == [] and writer.positions() == {}  # nothing of the batch was committed
        # what the caller does after dead-lettering it: the same batch, the refused record emptied
        retried = [as_kind(i, "dead") if i.kind == "refused" else i for i in batch]
        assert writer.write(retried) == Wrote(applied=len(batch), skipped=0)
        assert writer.contents() == idents(retried)
        assert writer.positions() == {(TOPIC, 0): 4, (TOPIC, 1): 2}  # the refused record's offset advanced

    def test_concurrent_writers_of_the_same_partitions_neither_lose_nor_double_apply(self) -> None:
        stream = [i for pair in zip(items(12), items(12, partition=1), strict=True) for i in pair]
        plans = [
            [stream[n : n + 6] for n in range(0, len(stream), 6)],  # one writer in batches of 6
            [stream[n : n + 4] for n in range(0, len(stream), 4)],  # another (a rebalance) in batches of 4
        ]
        results = self.write_concurrently(plans)
        assert sum(w.applied for done in results for w in done) == len(stream)  # each record applied exactly once
        assert sum(w.applied + w.skipped for done in results for w in done) == 2 * len(stream)
        check = self.open_writer()
        assert check.contents() == idents(stream)
        assert check.positions() == {(TOPIC, 0): 12, (TOPIC, 1): 12}


class SqlTrackingContract(TrackingContract):
    """A backend on a SQL database through :class:`hub.tracking.TrackingWriter`: SQLite or PostgreSQL."""

    crash_point = "hub.tracking:TrackingWriter._advance"
    #: ``sqlite`` or ``postgresql`` (a PostgreSQL subclass is marked ``postgres``).
    dialect: ClassVar[str]

    def database_url(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        """An empty database of :attr:`dialect` for one test."""
        if self.dialect == "sqlite":
            return f"sqlite:///{tmp_path / 'contract.db'}"
        return str(request.getfixturevalue("fresh_postgres_url"))

    @abstractmethod
    def offsets_writer(self) -> tuple[TrackingWriter, Callable[[], None]]:
        """A tracking writer on this test's offsets (its own engine), and how to close it."""

    @contextmanager
    def holding_the_offsets(self, tps: Sequence[TopicPartition]) -> Iterator[Callable[[int], None]]:
        writer, close = self.offsets_writer()
        try:
            with holding_sql_offsets(writer, self.location, tps) as until_waiting:
                yield until_waiting
        finally:
            close()


@contextmanager
def holding_sql_offsets(
    writer: TrackingWriter, url: str, tps: Sequence[TopicPartition]
) -> Iterator[Callable[[int], None]]:
    """Hold ``tps`` the way the tracking writer does, in a transaction of the test's own, rolled back at the end.

    PostgreSQL: the offset rows are locked with the writer's own
    ``SELECT .. FOR UPDATE``, and ``until_waiting(n)`` returns once ``n``
    backends are blocked by this transaction (bounded). SQLite: the
    transaction holds the database write lock (``BEGIN IMMEDIATE``); SQLite
    cannot show who waits for it, so ``until_waiting`` only relies on the
    writers having started (the caller waited for that).
    """
    with write_transaction(writer.engine, dry_run=True) as conn:
        writer.lock(conn, tps)
        if is_sqlite(conn):
            yield lambda _waiters: None
            return
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        yield lambda waiters: wait_until_blocked_by(url, pid, waiters=waiters, timeout_s=WAIT_S)


def _factory(spec: str) -> WriterFactory:
    module, _, name = spec.partition(":")
    factory: WriterFactory = getattr(importlib.import_module(module), name)
    return factory


def _resolve(spec: str) -> tuple[Any, str]:
    """``module:Class.method`` -> (the class, the method's name)."""
    module, _, path = spec.partition(":")
    owner_path, _, attribute = path.rpartition(".")
    owner: Any = importlib.import_module(module)
    for part in owner_path.split("."):
        owner = getattr(owner, part)
    return owner, attribute


_CRASHING_CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from tests.tracking_contract import Item, _factory, _resolve

    factory, location, crash_point = sys.argv[1:4]
    batch = [Item(**doc) for doc in json.loads(sys.stdin.read())]
    writer = _factory(factory)(location)
    owner, attribute = _resolve(crash_point)
    assert callable(getattr(owner, attribute)), crash_point

    def crash(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(owner, attribute, crash)
    writer.write(batch)
    raise SystemExit(f"{crash_point} was never called")
    """
)
