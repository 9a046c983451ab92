"""Counters shared by processes (the catalog, or Redis when configured), and the sign-in
limits built on them, on SQLite and PostgreSQL+Redis."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from archive import throttle
from archive.throttle import RateCount, SignInLimits


@pytest.fixture
def settings(backend_settings):
    return backend_settings


def _two_processes(archive) -> tuple[throttle.Counters, throttle.Counters]:
    """Two web processes' counters: each its own object and connections, one store."""
    return (throttle.counters_from_settings(archive.settings, archive.catalog),
            throttle.counters_from_settings(archive.settings, archive.catalog))


def test_counts_are_shared_atomic_and_kept_without_the_key_in_clear(archive):
    first, second = _two_processes(archive)
    in_redis = isinstance(first, throttle.RedisCounters)
    assert in_redis == bool(archive.settings.redis_url)
    key = "sign-in client|192.0.2.7"
    results: list[int] = []

    def hammer(counters) -> None:
        for _ in range(10):
            results.append(counters.hit(key, 600))

    threads = [threading.Thread(target=hammer, args=(c,)) for c in (first, second, first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 41))  # every hit saw its own count: none lost, none twice
    assert first.count(key, 600) == second.count(key, 600) == 40
    assert second.hit(key, 600, -1) == 39
    assert first.count(key, 60) == 0 and first.count("another key", 600) == 0  # windows and keys apart
    if in_redis:
        stored = [k.decode() for k in first.redis.scan_iter(f"{first.prefix}*")]
    else:
        with archive.catalog.session() as s:
            stored = list(s.scalars(select(RateCount.key)))
    assert stored and all(re.fullmatch(r"(webinar-archive:[^:]+:count:)?[0-9a-f]{64}", k) for k in stored)
    assert not any("192.0.2.7" in k for k in stored)


def test_sign_in_limits_count_failures_per_client_and_per_account(archive):
    limits = SignInLimits(throttle.counters_from_settings(archive.settings, archive.catalog),
                          window=600, per_client=3, per_account=5)
    for _ in range(3):
        assert limits.begin("192.0.2.1", "ed@example.org")  # three failures (never given back)
    assert not limits.begin("192.0.2.1", "ed@example.org")  # this client is refused now
    assert not limits.begin("192.0.2.1", "admin@example.org")  # for every account
    assert limits.begin("192.0.2.2", "Ed@Example.org")  # the account's owner, elsewhere, is not
    limits.succeeded("192.0.2.2", "Ed@Example.org")  # ... and signs in: a success is not a failure
    for _ in range(2):
        assert limits.begin("192.0.2.3", "ed@example.org")
    assert not limits.begin("192.0.2.4", "ed@example.org")  # five failures: the account waits
    assert limits.begin("192.0.2.4", "admin@example.org")  # but not its client, for others


def test_sign_in_limits_hold_across_the_turn_of_a_window(archive, monkeypatch):
    """A guesser gets no fresh allowance when the fixed window turns over: the window
    before still counts, by how much of it lies within the last `window` seconds."""
    limits = SignInLimits(throttle.counters_from_settings(archive.settings, archive.catalog),
                          window=600, per_client=3, per_account=50)
    turn = (int(throttle.time.time()) // 600 + 1) * 600  # the next turn of a 10-minute window
    clock = {"now": turn - 2.0}
    monkeypatch.setattr(throttle.time, "time", lambda: clock["now"])
    for _ in range(3):
        assert limits.begin("192.0.2.9", "ed@example.org")  # three failures just before the turn
    clock["now"] = turn + 1.0
    assert not limits.begin("192.0.2.9", "ed@example.org")  # just after it: still refused
    clock["now"] = turn + 599.0  # the old window nearly out of reach: the fourth failure is allowed
    assert limits.begin("192.0.2.9", "ed@example.org")
