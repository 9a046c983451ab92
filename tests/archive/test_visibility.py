"""Who may see a webinar: one rule (`Audience` in archive/models.py), read in SQL by every
listing, by search and by the cheap per-request check, and in Python on loaded rows; on
SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from archive import browse, queries, search
from archive.models import Webinar, new_id, utcnow
from archive.states import Visibility


@pytest.fixture
def settings(backend_settings):
    return backend_settings


def test_one_rule_in_sql_and_in_python_for_every_visibility_and_publish_at(archive):
    now = utcnow()
    hour = dt.timedelta(hours=1)
    made: dict[str, tuple[Visibility, dt.datetime | None]] = {}
    with archive.catalog.transaction() as s:
        for visibility, publish_at in itertools.product(Visibility, (None, now - hour, now + hour)):
            w = Webinar(id=new_id(), title="Zanzibar", visibility=visibility, publish_at=publish_at)
            s.add(w)
            search.index_webinar(s, w)
            made[w.id] = (visibility, publish_at)
    passed = {i for i, (_, at) in made.items() if at is None or at <= now}
    expected = {"is_listed": {i for i in passed if made[i][0] == Visibility.PUBLIC},
                "is_viewable": {i for i in passed if made[i][0] in (Visibility.PUBLIC, Visibility.UNLISTED)}}
    aware = now.replace(tzinfo=dt.timezone.utc).astimezone(dt.timezone(dt.timedelta(hours=5)))
    with archive.catalog.session() as s:
        rows = list(s.scalars(select(Webinar)))
        for rule, ids in expected.items():
            assert set(s.scalars(select(Webinar.id).where(getattr(Webinar, rule)(now)))) == ids, rule
            assert {w.id for w in rows if getattr(w, rule)(now)} == ids, rule
            assert {w.id for w in rows if getattr(w, rule)(aware)} == ids, rule
        # Every reader goes through the same rule: the listing, search, the per-request check.
        assert {w.id for w in browse.webinars(s, now=now)[1]} == expected["is_listed"]
        assert {r.webinar_id for r in search.search(s, "zanzibar", limit=100).results} == expected["is_listed"]
    assert {i for i in made if queries.viewable_now(archive.catalog.engine, i)} == expected["is_viewable"]
    assert not queries.viewable_now(archive.catalog.engine, "no-such-id")
