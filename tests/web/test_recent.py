"""What every visitor gets alike is kept a moment, and made by one thread at a time."""
from __future__ import annotations

import threading
import time

from archive.importer import ImportRequest, import_webinar
from archive.models import Webinar
from archive.worker import Worker
from web.recent import Recent


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def expired(value: str, later=None) -> Recent:
    """A Recent holding `value` under "w", made 3 s ago (kept 2 s): to be made again
    (by `later`, when given)."""
    clock = Clock()
    recent = Recent(seconds=2.0, clock=clock, later=later)
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


def test_with_later_an_old_value_is_answered_at_once_and_made_again_behind():
    clock, queued, made = Clock(), [], []
    recent = Recent(seconds=2.0, clock=clock, later=queued.append)

    def make():
        made.append(clock.now)
        return f"page of {clock.now}", True

    assert recent.made("w", make) == "page of 100.0"  # nothing kept yet: made now
    assert queued == []
    clock.now += 3
    assert recent.made("w", make) == "page of 100.0"  # old: answered, made later
    assert recent.made("w", make) == "page of 100.0"  # meanwhile nobody makes it again
    assert len(queued) == 1 and made == [100.0]
    queued.pop()()
    assert made == [100.0, 103.0]
    assert recent.made("w", make) == "page of 103.0"
    assert queued == []


def test_with_later_a_failed_making_drops_the_old_value():
    queued: list = []
    recent = expired("old", later=queued.append)

    def broken():
        raise RuntimeError("S3 down")

    assert recent.made("w", broken) == "old"
    try:
        queued.pop()()
    except RuntimeError:
        pass
    else:
        raise AssertionError("the making should have failed")
    # the next request makes it itself (and meets the error if it lasts), never the old value
    assert recent.made("w", lambda: ("new", True)) == "new"
    assert queued == []


def test_with_later_a_value_not_to_be_kept_is_dropped_once_made():
    queued: list = []
    recent = expired("settled", later=queued.append)
    assert recent.made("w", lambda: ("processing", False)) == "settled"
    queued.pop()()
    assert recent.made("w", lambda: ("processing 2", False)) == "processing 2"


def test_an_old_page_is_answered_at_once_and_rendered_again_in_the_background(client, archive, inputs):
    w = import_webinar(archive, ImportRequest(title="Kept a moment", recording=inputs["h264_aac.mp4"]))
    Worker(archive, "w").run_until_idle()
    fr = {"Accept-Language": "fr"}
    assert "Kept a moment" in client.get(f"/webinars/{w.id}").get_data(as_text=True)
    assert "Kept a moment" in client.get(f"/webinars/{w.id}", headers=fr).get_data(as_text=True)
    pages = client.application.extensions["webinar_pages"]
    with archive.catalog.transaction() as s:
        s.get(Webinar, w.id).title = "Renamed by staff"
    pages.seconds = 0.0  # everything kept is old from now on
    # The request that finds the page old gets it as it was; a thread renders it again,
    # in a copy of that request's context (its interface language included).
    assert "Kept a moment" in client.get(f"/webinars/{w.id}", headers=fr).get_data(as_text=True)
    assert "Kept a moment" in client.get(f"/webinars/{w.id}").get_data(as_text=True)
    deadline = time.monotonic() + 30
    while any(t.name == "recent-make" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pages.seconds = 60.0
    html = client.get(f"/webinars/{w.id}", headers=fr).get_data(as_text=True)
    assert "Renamed by staff" in html and '<html lang="fr">' in html
    assert "Renamed by staff" in client.get(f"/webinars/{w.id}").get_data(as_text=True)
