"""The one retry policy (pure logic: the steps are plain functions, no broker)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading

import pytest

from hub.errors import BrokerError, PolicyError, TransientError
from hub.retry import Backoff, Stopped, log_waits, retry, retry_async

FAST = Backoff(first_s=0.001, max_s=0.004)


def flaky(failures: int, error: BaseException) -> tuple[list[int], object]:
    calls: list[int] = []

    def step() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "done"

    return calls, step


def test_delays_double_up_to_the_cap() -> None:
    assert list(itertools.islice(Backoff(0.5, 3.0).delays(), 5)) == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_backoff_that_cannot_wait_is_refused() -> None:
    with pytest.raises(ValueError, match="first_s"):
        Backoff(first_s=0, max_s=1)
    with pytest.raises(ValueError, match="max_s"):
        Backoff(first_s=2, max_s=1)


def test_transient_errors_are_waited_out_and_reported() -> None:
    calls, step = flaky(3, BrokerError("down"))
    waits: list[tuple[str, str, float]] = []
    recovered: list[str] = []
    result = retry(
        step,  # type: ignore[arg-type]
        what="reading",
        backoff=FAST,
        on_wait=lambda what, exc, delay: waits.append((what, str(exc), delay)),
        on_recovered=recovered.append,
    )
    assert result == "done"
    assert len(calls) == 4
    assert waits == [("reading", "down", 0.001), ("reading", "down", 0.002), ("reading", "down", 0.004)]
    assert recovered == ["reading"]


def test_a_permanent_error_propagates_at_once() -> None:
    calls, step = flaky(1, PolicyError("refused"))
    with pytest.raises(PolicyError, match="refused"):
        retry(step, what="crossing", backoff=FAST)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_setting_stop_ends_the_wait_with_stopped() -> None:
    stop = threading.Event()

    def step() -> None:
        stop.set()
        raise TransientError("busy")

    with pytest.raises(Stopped, match="writing"):
        retry(step, what="writing", backoff=Backoff(60, 60), stop=stop)


def test_the_async_form_waits_out_the_same_errors() -> None:
    calls, step = flaky(2, ConnectionRefusedError("connection refused"))

    async def async_step() -> object:
        return step()  # type: ignore[operator]

    assert asyncio.run(retry_async(async_step, what="sending", backoff=FAST)) == "done"
    assert len(calls) == 3


def test_every_wait_is_logged_unless_the_caller_reports_it(caplog: pytest.LogCaptureFixture) -> None:
    calls, step = flaky(2, BrokerError("broker down"))
    with caplog.at_level(logging.WARNING, logger="hub.retry"):
        retry(step, what="listing topics", backoff=FAST)  # type: ignore[arg-type]
    assert len(calls) == 3
    assert [r.getMessage() for r in caplog.records] == [
        "listing topics failed (broker down); retrying in 0.0s",
        "listing topics failed (broker down); retrying in 0.0s",
    ]
    mine = logging.getLogger("test.retry.mine")
    caplog.clear()
    _calls, step = flaky(1, BrokerError("broker down"))
    with caplog.at_level(logging.WARNING):
        retry(step, what="reading", backoff=FAST, on_wait=log_waits(mine, "worker: "))  # type: ignore[arg-type]
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("test.retry.mine", "worker: reading failed (broker down); retrying in 0.0s")
    ]


def test_the_async_form_lets_a_permanent_error_through_and_can_be_cancelled() -> None:
    calls, step = flaky(1, PolicyError("refused"))

    async def async_step() -> object:
        return step()  # type: ignore[operator]

    with pytest.raises(PolicyError, match="refused"):
        asyncio.run(retry_async(async_step, what="crossing", backoff=FAST))
    assert len(calls) == 1

    async def never_up() -> None:
        raise TransientError("down")

    async def cancel_while_waiting() -> None:
        task = asyncio.ensure_future(retry_async(never_up, what="waiting", backoff=Backoff(60, 60), on_wait=noop))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_while_waiting())


def noop(what: str, exc: BaseException, delay: float) -> None:
    return None


def test_an_oserror_that_is_no_outage_propagates_at_once() -> None:
    calls, step = flaky(1, PermissionError("read-only folder"))
    with pytest.raises(PermissionError):
        retry(step, what="writing a segment", backoff=FAST)  # type: ignore[arg-type]
    assert len(calls) == 1
