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
