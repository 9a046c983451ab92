"""What every visitor gets alike is kept a moment, and made by one thread at a time."""
from __future__ import annotations

import threading

from web.recent import Recent


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def expired(value: str) -> Recent:
    """A Recent holding `value` under "w", made 3 s ago (kept 2 s): to be made again."""
    clock = Clock()
    recent = Recent(seconds=2.0, clock=clock)
    assert recent.made("w", lambda: (value, True)) == value
    clock.now += 3
    return recent


def test_a_value_is_kept_its_seconds_then_made_again():
    clock, made = Clock(), []
    recent = Recent(seconds=2.0, clock=clock)

    def make():
        made.append(clock.now)
        return f"page of {clock.now}", True

    assert recent.made("w", make) == "page of 100.0"
    clock.now += 1.5
    assert recent.made("w", make) == "page of 100.0"
    clock.now += 0.5
    assert recent.made("w", make) == "page of 102.0"
    assert made == [100.0, 102.0]


def test_a_value_not_to_be_kept_is_made_each_time_and_drops_the_old_one():
    recent = expired("settled")
    assert recent.made("w", lambda: ("processing 1", False)) == "processing 1"
    assert recent.made("w", lambda: ("processing 2", False)) == "processing 2"


def test_while_one_thread_makes_a_value_again_the_others_get_the_old_one():
    recent = expired("old")
    making, release = threading.Event(), threading.Event()

    def slow():
        making.set()
        release.wait(10)
        return "new", True

    maker = threading.Thread(target=lambda: recent.made("w", slow))
    maker.start()
    assert making.wait(10)
    assert recent.made("w", lambda: ("made twice", True)) == "old"
    release.set()
    maker.join(10)
    assert recent.made("w", lambda: ("made twice", True)) == "new"


def test_a_failed_making_lets_the_next_request_make_it():
    recent = expired("old")

    def broken():
        raise RuntimeError("S3 down")

    try:
        recent.made("w", broken)
    except RuntimeError:
        pass
    assert recent.made("w", lambda: ("new", True)) == "new"


def test_the_least_recently_used_go_beyond_its_size():
    recent = Recent(size=2, clock=Clock())
    for key in "abc":
        recent.made(key, lambda key=key: (key, True))
    assert recent.made("a", lambda: ("a again", True)) == "a again"
