"""Staff look at a webinar visitors cannot open yet (a draft, a private one, one scheduled
for later) as visitors will see it, with a banner saying who else can; visitors still get
"not found", for the page and for its media and downloads."""
from __future__ import annotations

import datetime as dt

import pytest

from archive import queries
from archive.importer import ImportRequest, import_webinar
from archive.models import Webinar
from archive.states import Visibility

from ..staff import signed_in_fixture, staff_app_fixture  # noqa: F401 (fixtures)

LATER = dt.datetime(2999, 6, 1, 7, 30, tzinfo=dt.timezone.utc)


@pytest.fixture
def hidden(archive, inputs) -> dict[str, str]:
    """One webinar per reason visitors cannot open it, each with a recording."""
    made = {}
    for name, visibility, publish_at in (("draft", Visibility.DRAFT, None), ("private", Visibility.PRIVATE, None),
                                         ("scheduled", Visibility.PUBLIC, LATER),
                                         ("scheduled-unlisted", Visibility.UNLISTED, LATER)):
        w = import_webinar(archive, ImportRequest(title=f"A {name} webinar", recording=inputs["h264_aac.mp4"],
                                                  visibility=visibility, publish_at=publish_at))
        made[name] = w.id
    with archive.catalog.transaction() as s:
        s.get(Webinar, made["scheduled"]).timezone = "Europe/Berlin"
    return made


BANNERS = {
    "draft": "This webinar is a draft: only signed-in staff can see this page",
    "private": "This webinar is private: only signed-in staff can see this page",
    "scheduled": "This webinar is public from 2999-06-01 09:30 (Europe/Berlin); until then only signed-in staff",
    "scheduled-unlisted": "Anyone with the link can watch this webinar from 2999-06-01 07:30 (UTC)",
}


def test_visitors_get_not_found_and_staff_a_preview_that_says_who_can_see_it(app, client, hidden):
    visitor = app.test_client()
    for name, wid in hidden.items():
        for path in (f"/webinars/{wid}", f"/webinars/{wid}/recording/download", f"/api/webinars/{wid}"):
            assert visitor.get(path, headers={"Accept": "text/html"}).status_code == 404, (name, path)

        r = client.get(f"/webinars/{wid}")
        assert r.status_code == 200, name
        html = r.get_data(as_text=True)
        assert f"A {name} webinar" in html
        assert 'class="staff-preview"' in html and BANNERS[name] in html, name
        assert f'href="/staff/webinars/{wid}"' in html  # back to its staff page
        # Its footer is a signed-in staff member's: the staff area and signing out, no "Staff login".
        footer = html[html.index('<footer class="site"'):]
        assert "Staff login" not in footer and '>Staff area</a>' in footer
        assert 'action="/staff/logout"' in footer and ">Log out</button>" in footer
        # Never kept by a cache a visitor could be served from, never indexed.
        assert r.headers["Cache-Control"] == "private, no-store" and r.headers["X-Robots-Tag"] == "noindex"
        assert client.get(f"/webinars/{wid}/recording/download").status_code == 302  # its files too
        # The staff page links to it under what it is.
        staff_page = client.get(f"/staff/webinars/{wid}").get_data(as_text=True)
        assert f'<a href="/webinars/{wid}">preview of the public page</a>' in staff_page

    # Visitors are still refused after a staff member looked (nothing cached for them).
    assert visitor.get(f"/webinars/{hidden['draft']}").status_code == 404
    # The banner follows the visibility rule: from its publish time on, visitors see it.
    with app.extensions["archive"].catalog.session() as s:
        w = queries.get(s, hidden["scheduled"])
        assert queries.hidden_from_visitors(w).publish_at.isoformat() == "2999-06-01T09:30:00+02:00"
        assert queries.hidden_from_visitors(w, now=LATER) is None


def test_a_viewable_webinar_shows_no_banner(app, client, archive, inputs):
    w = import_webinar(archive, ImportRequest(title="Out there", recording=inputs["h264_aac.mp4"]))
    for who in (client, app.test_client()):
        html = who.get(f"/webinars/{w.id}").get_data(as_text=True)
        assert "Out there" in html and "staff-preview" not in html
        assert "Staff login" in html  # a page visitors share (and that is cached for them)
    assert '>public page</a>' in client.get(f"/staff/webinars/{w.id}").get_data(as_text=True)
