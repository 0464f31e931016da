"""Token buckets per key (hub.rate_limit), on a clock the tests move by hand: nothing sleeps."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from hub.rate_limit import PRUNE_ABOVE, Decision, RateLimit, RateLimiter


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _takes(limiter: RateLimiter, key: str, n: int) -> list[bool]:
    return [limiter.take(key).allowed for _ in range(n)]


def test_a_new_key_may_burst_then_is_refused_with_the_wait(clock: Clock) -> None:
    limiter = RateLimiter(RateLimit(per_second=0.5, burst=3), clock)
    assert _takes(limiter, "tok_a", 3) == [True, True, True]
    refused = limiter.take("tok_a")
    assert refused == Decision(False, 2.0)  # one request's worth comes back every 2 s
    assert refused.retry_after_header == 2


def test_waiting_the_retry_after_admits_exactly_one_more(clock: Clock) -> None:
    limiter = RateLimiter(RateLimit(per_second=4, burst=2), clock)
    assert _takes(limiter, "k", 3) == [True, True, False]
    clock.now += 0.125  # half a request's worth
    half = limiter.take("k")
    assert not half.allowed and half.retry_after_s == pytest.approx(0.125)
    assert half.retry_after_header == 1  # rounded up, never 0
    clock.now += 0.125
    assert _takes(limiter, "k", 2) == [True, False]


def test_a_refused_request_takes_nothing(clock: Clock) -> None:
    limiter = RateLimiter(RateLimit(per_second=1, burst=1), clock)
    assert limiter.take("k").allowed
    for _ in range(5):  # hammering while empty does not push the next admission further away
        assert limiter.take("k") == Decision(False, 1.0)
    clock.now += 1.0
    assert limiter.take("k").allowed


def test_the_bucket_refills_to_the_burst_and_no_further(clock: Clock) -> None:
    limiter = RateLimiter(RateLimit(per_second=10, burst=3), clock)
    assert _takes(limiter, "k", 3) == [True] * 3
    clock.now += 3600  # an idle hour buys a burst, not 36000 requests
    assert _takes(limiter, "k", 4) == [True, True, True, False]


def test_keys_do_not_share_a_bucket(clock: Clock) -> None:
    limiter = RateLimiter(RateLimit(per_second=1, burst=2), clock)
    assert _takes(limiter, "tok_a", 3) == [True, True, False]
    assert _takes(limiter, "tok_b", 2) == [True, True]
    assert not limiter.take("tok_a").allowed


def test_a_clock_going_backwards_refills_nothing(clock: Clock) -> None:
    limiter = RateLimiter(RateLimit(per_second=1, burst=1), clock)
    assert limiter.take("k").allowed
    clock.now -= 50
    assert not limiter.take("k").allowed
    clock.now += 50.5  # back to half a second after the first request
    late = limiter.take("k")
    assert not late.allowed and late.retry_after_s == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("k").allowed


def test_full_buckets_are_forgotten_when_there_are_many_keys(clock: Clock) -> None:
    limiter = RateLimiter(RateLimit(per_second=1, burst=2), clock)
    assert _takes(limiter, "busy", 2) == [True, True]
    for i in range(PRUNE_ABOVE - 1):
        limiter.take(f"idle-{i}")
    assert limiter.held == PRUNE_ABOVE
    clock.now += 1.0  # the idle keys are full again (1 + 1); "busy" has 1 of 2
    assert limiter.take("new").allowed
    assert limiter.held == 2  # "busy" and "new"
    assert _takes(limiter, "busy", 2) == [True, False]  # its spent bucket was kept, not reset


@pytest.mark.parametrize(("per_second", "burst"), [(0, 5), (-1, 5), (float("inf"), 5), (float("nan"), 5), (1, 0)])
def test_a_limit_must_be_positive(per_second: float, burst: int) -> None:
    with pytest.raises(ConfigError, match="rate limit needs"):
        RateLimit(per_second=per_second, burst=burst)


def test_a_limit_reads_as_text() -> None:
    assert str(RateLimit(per_second=10, burst=60)) == "10 requests per second (bursts of 60)"
    assert str(RateLimit(per_second=0.5, burst=1)) == "0.5 requests per second (bursts of 1)"
