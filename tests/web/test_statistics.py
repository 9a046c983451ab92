"""Views, plays and downloads counted from real requests, shown to staff; visitors get
no cookie for it."""
from __future__ import annotations

from archive.importer import ImportRequest, import_webinar

from ..staff import signed_in, staff_app


def test_views_plays_and_downloads_reach_the_statistics_page(archive, worker, inputs):
    app = staff_app(archive)
    w = import_webinar(archive, ImportRequest(title="Counted talk", recording=inputs["h264_aac.mp4"],
                                              slides=[inputs["deck.pdf"]]))
    worker.run_until_idle()
    visitor = app.test_client()
    for _ in range(3):
        r = visitor.get(f"/webinars/{w.id}")
        assert r.status_code == 200 and "Set-Cookie" not in r.headers  # nothing to recognise a visitor by
    page = r.get_data(as_text=True)
    assert f'data-played="/webinars/{w.id}/played"' in page
    assert visitor.post(f"/webinars/{w.id}/played").status_code == 204  # the player's beacon, no CSRF token
    deck = w.decks[0]
    assert visitor.get(f"/webinars/{w.id}/slides/{deck.id}/download").status_code == 302
    assert visitor.post("/webinars/nosuchwebinar/played").status_code == 404

    staff = signed_in(app)
    html = staff.get("/staff/statistics?days=7").get_data(as_text=True)
    assert "3 page views" in html and "1 plays" in html and "1 downloads" in html
    assert "Counted talk" in html and "<polyline" in html
    assert visitor.get("/staff/statistics").status_code == 302  # staff only


def test_a_viewer_counts_one_play_a_day_and_the_beacon_is_rate_limited(archive):
    from sqlalchemy import select

    from archive import analytics
    from archive.models import Webinar, new_id
    from archive.states import Visibility
    from archive.throttle import RateCount

    wid = new_id()
    with archive.catalog.transaction() as s:
        s.add(Webinar(id=wid, title="Played talk", visibility=Visibility.PUBLIC))
    first, second = staff_app(archive), staff_app(archive)  # two web processes
    url = f"/webinars/{wid}/played"

    def beacon(app, address: str, browser: str = "Firefox/140") -> int:
        client = app.test_client()
        client.environ_base.update(REMOTE_ADDR=address, HTTP_USER_AGENT=browser)
        return client.post(url).status_code

    answers = [beacon((first, second)[n % 2], "192.0.2.1") for n in range(200)]
    per_minute = archive.settings.play_beacons_per_minute
    assert answers == [204] * per_minute + [429] * (200 - per_minute)  # one limit for both processes
    assert beacon(first, "192.0.2.2") == 204 and beacon(second, "192.0.2.2") == 204  # another viewer, twice
    assert beacon(second, "192.0.2.2", "Chromium/142") == 204  # another browser behind the same address
    for app in (first, second):
        app.extensions["tally"].flush()
    with archive.catalog.session() as s:
        assert analytics.per_file(s, wid) == {"": {"play": 3}}
        kept = list(s.scalars(select(RateCount.key)))
    assert kept and not any("192.0.2" in k or "Firefox" in k or wid in k for k in kept)  # digests only
