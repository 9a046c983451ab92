"""Counting views, plays and downloads per day, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect

from archive import analytics
from archive.models import Webinar, new_id


@pytest.fixture
def settings(backend_settings):
    return backend_settings


def _webinar(archive, title: str) -> str:
    w = Webinar(id=new_id(), title=title)
    with archive.catalog.transaction() as s:
        s.add(w)
    return w.id


def test_counts_add_up_across_flushes_and_processes(archive):
    a, b = _webinar(archive, "Alpha"), _webinar(archive, "Beta")
    first, second = analytics.Tally(archive.catalog, 0), analytics.Tally(archive.catalog, 0)  # two web processes
    for _ in range(3):
        first.add(a, "view")
    second.add(a, "view")
    second.add(a, "play")
    first.add(a, "download", asset_id="deck1")
    second.add(b, "view")
    first.flush()
    second.flush()
    first.add(a, "view")
    first.flush()
    with archive.catalog.session() as s:
        top = analytics.top_webinars(s, since=dt.date.today() - dt.timedelta(days=7))
        files = analytics.per_file(s, a)
        days = analytics.per_day(s, since=dt.date.today() - dt.timedelta(days=6))
    assert [(r.title, r.views, r.plays, r.downloads) for r in top] == [("Alpha", 5, 1, 1), ("Beta", 1, 0, 0)]
    assert files == {"": {"view": 5, "play": 1}, "deck1": {"download": 1}}
    assert len(days) == 7 and days[-1][1] == {"view": 6, "play": 1, "download": 1}
    assert all(counts == {"view": 0, "play": 0, "download": 0} for _, counts in days[:-1])


def test_nothing_personal_is_stored(archive):
    columns = {c["name"] for c in inspect(archive.catalog.engine).get_columns("daily_counts")}
    assert columns == {"day", "webinar_id", "asset_id", "event", "count"}


def test_counts_of_a_deleted_webinar_are_dropped(archive):
    a = _webinar(archive, "Gone")
    tally = analytics.Tally(archive.catalog, 0)
    tally.add(a, "view")
    with archive.catalog.transaction() as s:
        s.delete(s.get(Webinar, a))
    tally.flush()  # no error, nothing kept
    with archive.catalog.session() as s:
        assert analytics.per_file(s, a) == {}


def test_unknown_events_are_refused(archive):
    with pytest.raises(ValueError):
        analytics.Tally(archive.catalog, 0).add("x", "like")


def test_a_viewer_is_counted_once_per_webinar_and_day_by_every_process(archive):
    from archive import throttle

    a, b = _webinar(archive, "Alpha"), _webinar(archive, "Beta")
    first, second = (throttle.counters_from_settings(archive.settings, archive.catalog) for _ in range(2))
    seen = [analytics.first_play(counters, a, "192.0.2.1", "Firefox/140") for counters in (first, second, first)]
    assert seen == [True, False, False]
    assert analytics.first_play(second, b, "192.0.2.1", "Firefox/140")  # another webinar
    assert analytics.first_play(first, a, "192.0.2.1", "Chromium/142")  # another browser
    assert analytics.first_play(second, a, "192.0.2.2", "Firefox/140")  # another address
    assert [analytics.beacon_allowed(c, "192.0.2.9", 3) for c in (first, second) * 3] == [True] * 3 + [False] * 3
