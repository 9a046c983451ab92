"""Series, topic and speaker pages, the home page's filters, per-series feeds, the
sitemap and the API's series and speakers, over an archive imported from description
files: listed webinars appear, drafts, private, unlisted and not-yet-published ones never do."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import xml.etree.ElementTree as ET
from contextlib import contextmanager

import feedparser
import pytest
from PIL import Image
from sqlalchemy import event

from archive import describe
from archive.context import Archive
from archive.importer import import_webinar
from archive.worker import Worker
from web import browse as browse_views
from web import create_app
from web import public

from ..conftest import make_settings

HIDDEN = ("draft", "private", "unlisted", "future")


def _describe(folder, name: str, doc: dict):
    """Import a webinar from a JSON description file, the way staff import them."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc))
    return describe.load(path)


@pytest.fixture(scope="module")
def site(minio, inputs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("descriptions")
    Image.new("RGB", (64, 64), (40, 90, 160)).save(folder / "ada.jpg")
    # A description names only files in its own folder.
    shutil.copy(inputs["h264_aac.mp4"], folder / "talk.mp4")
    shutil.copy(inputs["deck.pdf"], folder / "deck.pdf")
    archive = Archive.from_settings(make_settings(minio, tmp_path_factory.mktemp("browse")))
    archive.setup()
    ada = {"name": "Ada Lovelace", "organisation": "Analytical Engines Ltd",
           "bio": "Writes *programs* for engines that do not exist yet.", "photo": "ada.jpg"}
    grace = {"name": "Grace Hopper", "organisation": "Navy"}
    docs = {
        "first": {
            "title": "Open data in practice", "date": "2021-06-07", "time": "14:00", "timezone": "Europe/Berlin",
            "language": "en", "series": "Open data", "tags": ["Open data", "Cities"],
            "description": "What cities learnt from opening their data.",
            "recording": "talk.mp4", "speakers": [ada, grace],
            "presentations": [{"title": "Why open data", "speakers": ["Ada Lovelace"], "start": "0:01"},
                              {"title": "Cities that did it", "speakers": ["Grace Hopper"], "start": 3,
                               "slides": "deck.pdf"}],
        },
        "second": {
            "title": "Offene Daten, zweites Jahr", "date": "2022-03-01", "language": "de-CH", "series": "Open data",
            "tags": ["Open data"], "slides": ["deck.pdf"], "speakers": [{"name": "Ada Lovelace"}],
        },
        "other": {
            "title": "Accessible maps", "date": "2022-09-15", "language": "fr", "tags": ["Maps"],
            "slides": ["deck.pdf"], "speakers": [grace],
            "presentations": [{"title": "Maps for everyone", "speakers": ["Grace Hopper"]}],
        },
    }
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)).isoformat(timespec="minutes")
    for name, extra in (("draft", {"visibility": "draft"}), ("private", {"visibility": "private"}),
                        ("unlisted", {"visibility": "unlisted"}), ("future", {"publish_at": future})):
        # Each hidden webinar shares the listed series, tag and speaker, and has its own
        # series, tag and speaker that nothing listed has.
        docs[name] = {
            "title": f"Hidden {name} webinar", "date": "2023-01-10", "language": "en", "series": "Open data",
            "tags": ["Open data", f"only-{name}"], "recording": "talk.mp4",
            "speakers": [{"name": "Ada Lovelace"}, {"name": f"Person {name}"}],
            "presentations": [{"title": f"Talk {name}", "speakers": ["Ada Lovelace", f"Person {name}"], "start": 1}],
            **extra,
        }
    made = {}
    for name, doc in docs.items():
        made[name] = import_webinar(archive, _describe(folder, name, doc))
    # A series of its own for each hidden one (a series with only hidden webinars has no page).
    for name in HIDDEN:
        docs[f"{name}-series"] = {**docs[name], "title": f"Hidden {name} in its series",
                                   "series": f"Series {name}", "presentations": []}
        made[f"{name}-series"] = import_webinar(archive, _describe(folder, f"{name}-series", docs[f"{name}-series"]))
    Worker(archive, "w").run_until_idle()
    app = create_app(archive, {"TESTING": True})
    yield archive, app, made
    archive.close()


def _text(client, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return r.get_data(as_text=True)


def _assert_nothing_hidden(body: str, made) -> None:
    for name in HIDDEN:
        for key in (name, f"{name}-series"):
            assert made[key].id not in body and made[key].title not in body, (name, body[:300])
        assert f"Person {name}" not in body and f"person-{name}" not in body
        assert f"only-{name}" not in body and f"Series {name}" not in body and f"series-{name}" not in body
        assert f"Talk {name}" not in body


def test_series_page_lists_its_listed_webinars_newest_first_with_its_feeds(site):
    _, app, made = site
    client = app.test_client()
    page = _text(client, "/series/open-data")
    assert "<h1>Open data</h1>" in page
    assert page.index(made["second"].title) < page.index(made["first"].title)  # newest first
    assert made["other"].title not in page
    assert '2 webinars' in page
    assert ('<link rel="alternate" type="application/atom+xml" title="Open data: new webinars" '
            'href="/series/open-data/feed.atom">') in page
    assert 'href="/series/open-data/podcast.rss"' in page
    _assert_nothing_hidden(page, made)
    for name in HIDDEN:
        assert client.get(f"/series/series-{name}").status_code == 404
    assert client.get("/series/no-such-series").status_code == 404
    index = _text(client, "/series")
    assert 'href="/series/open-data"' in index
    _assert_nothing_hidden(index, made)


def test_series_description_is_rendered_markdown(site):
    archive, app, _ = site
    from archive.models import Series
    with archive.catalog.transaction() as s:
        series = s.query(Series).filter_by(slug="open-data").one()
        series.description = "Talks about **open data**.\n\n<script>alert(1)</script>"
    try:
        page = _text(app.test_client(), "/series/open-data")
        assert "<strong>open data</strong>" in page and "<script>alert(1)" not in page
    finally:
        with archive.catalog.transaction() as s:
            s.query(Series).filter_by(slug="open-data").one().description = ""


def test_tag_pages_and_index(site):
    _, app, made = site
    client = app.test_client()
    page = _text(client, "/tags/open-data")
    assert made["first"].title in page and made["second"].title in page and made["other"].title not in page
    _assert_nothing_hidden(page, made)
    assert made["other"].title in _text(client, "/tags/maps")
    for name in HIDDEN:
        assert client.get(f"/tags/only-{name}").status_code == 404
    index = _text(client, "/tags")
    assert 'href="/tags/open-data"' in index and 'href="/tags/cities"' in index and 'href="/tags/maps"' in index
    _assert_nothing_hidden(index, made)


def test_speaker_page_shows_the_person_and_links_each_talk_at_its_start(site):
    _, app, made = site
    client = app.test_client()
    page = _text(client, "/speakers/ada-lovelace")
    assert "<h1>Ada Lovelace</h1>" in page and "Analytical Engines Ltd" in page
    assert "<em>programs</em>" in page
    assert f'href="/webinars/{made["first"].id}?t=1">Why open data</a>' in page
    assert "Cities that did it" not in page  # Grace's talk
    assert f'href="/webinars/{made["second"].id}"' in page  # on the webinar, without a talk of her own
    assert page.index(made["second"].title) < page.index(made["first"].title)
    _assert_nothing_hidden(page, made)
    # The photo: a cached redirect to a presigned link, the bytes never through the app.
    assert 'src="/speakers/ada-lovelace/photo"' in page
    photo = client.get("/speakers/ada-lovelace/photo")
    assert photo.status_code == 302 and "X-Amz-Signature" in photo.headers["Location"]
    assert client.get("/speakers/grace-hopper/photo").status_code == 404  # none given
    grace = _text(client, "/speakers/grace-hopper")
    assert f'href="/webinars/{made["first"].id}?t=3">Cities that did it</a>' in grace
    assert "Maps for everyone" in grace  # a talk without a start time
    for name in HIDDEN:
        assert client.get(f"/speakers/person-{name}").status_code == 404
        assert client.get(f"/speakers/person-{name}/photo").status_code == 404
    index = _text(client, "/speakers")
    assert 'href="/speakers/ada-lovelace"' in index and 'href="/speakers/grace-hopper"' in index
    _assert_nothing_hidden(index, made)


def test_site_navigation_and_home_link_to_the_indexes(site):
    _, app, made = site
    client = app.test_client()
    home = _text(client, "/")
    nav = re.search(r'<nav class="browse".*?</nav>', home, re.S).group(0)
    for path in ("/series", "/tags", "/speakers"):
        assert f'href="{path}"' in nav
        assert home.count(f'href="{path}"') == 2  # in the navigation and on the page
    _assert_nothing_hidden(home, made)
    assert 'href="/series"' in _text(client, f"/webinars/{made['first'].id}")


def test_home_page_filters_by_language_and_date(site):
    _, app, made = site
    client = app.test_client()
    home = _text(client, "/")
    # The form offers the languages and years of listed webinars only (2023 is hidden ones').
    assert '<option value="de-CH" lang="de-CH">' in home and '<option value="2021">' in home
    assert '<option value="2023">' not in home
    assert '<label for="f-language">' in home and '<label for="f-from">' in home

    def titles(**args) -> set[str]:
        body = _text(client, "/?" + "&".join(f"{k}={v}" for k, v in args.items()))
        _assert_nothing_hidden(body, made)
        return {w.title for w in (made["first"], made["second"], made["other"]) if w.title in body}

    assert titles(language="en") == {made["first"].title}
    assert titles(language="de") == {made["second"].title}  # "de" finds de-CH
    assert titles(year="2022") == {made["second"].title, made["other"].title}
    assert titles(**{"from": "2022-01-01", "to": "2022-06-30"}) == {made["second"].title}
    assert titles(year="2022", language="fr") == {made["other"].title}
    assert titles(year="2020") == set()
    assert "No webinar matches these filters." in _text(client, "/?year=2020")
    # Values that do not parse are ignored, not an error.
    assert titles(year="soon", **{"from": "yesterday"}) == {made["first"].title, made["second"].title,
                                                             made["other"].title}


def test_pages_keep_the_filters(site, monkeypatch):
    _, app, made = site
    monkeypatch.setattr(public, "PER_PAGE", 1)
    client = app.test_client()
    first = _text(client, "/?year=2022")
    assert "Page 1 of 2" in first
    assert 'href="/?year=2022&amp;page=2"' in first
    second = _text(client, "/?year=2022&page=2")
    assert 'rel="prev" href="/?year=2022"' in second
    shown = {w.title for w in (made["second"], made["other"]) if w.title in first + second}
    assert shown == {made["second"].title, made["other"].title}
    assert client.get("/?year=2022&page=3").status_code == 404


def test_series_tag_and_speaker_pages_are_paginated(site, monkeypatch):
    _, app, made = site
    monkeypatch.setattr(browse_views, "PER_PAGE", 1)
    monkeypatch.setattr(browse_views, "TALKS_PER_PAGE", 1)
    client = app.test_client()
    first, second = _text(client, "/series/open-data"), _text(client, "/series/open-data?page=2")
    assert made["second"].title in first and made["first"].title not in first
    assert made["first"].title in second and 'href="/series/open-data?page=2"' in first
    assert 'rel="prev" href="/series/open-data"' in second
    assert client.get("/series/open-data?page=3").status_code == 404
    assert "Page 1 of 2" in _text(client, "/tags/open-data")
    ada1, ada2 = _text(client, "/speakers/ada-lovelace"), _text(client, "/speakers/ada-lovelace?page=2")
    assert made["second"].title in ada1 and made["first"].title not in ada1 and "Page 1 of 2" in ada1
    assert "Why open data" in ada2 and 'rel="prev" href="/speakers/ada-lovelace"' in ada2
    assert client.get("/speakers/ada-lovelace?page=3").status_code == 404


@contextmanager
def _counting(archive):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(archive.catalog.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(archive.catalog.engine, "before_cursor_execute", count)


def _queries(archive, client, path: str) -> int:
    with _counting(archive) as statements:
        assert client.get(path).status_code == 200, path
    return len(statements)


def test_queries_per_page_do_not_grow_with_the_number_of_webinars(site, monkeypatch):
    """No N+1: a page with two webinars (or talks) runs as many queries as one with one."""
    archive, app, _ = site
    client = app.test_client()
    two = _queries(archive, client, "/series/open-data")
    monkeypatch.setattr(browse_views, "PER_PAGE", 1)
    assert _queries(archive, client, "/series/open-data") == two <= 6
    monkeypatch.undo()
    pairs = [("/tags/open-data", "/tags/cities"),
             ("/speakers/ada-lovelace", "/speakers/grace-hopper"), ("/?year=2022", "/?year=2021"),
             ("/api/v1/series/open-data", "/api/v1/series/open-data?per_page=1"),
             ("/api/v1/speakers/ada-lovelace", "/api/v1/speakers/grace-hopper")]
    for more, fewer in pairs:
        counts = [_queries(archive, client, more), _queries(archive, client, fewer)]
        assert counts[0] == counts[1] and counts[0] <= 8, (more, fewer, counts)


def test_series_feeds_list_only_listed_webinars_of_the_series(site):
    archive, app, made = site
    client = app.test_client()
    r = client.get("/series/open-data/feed.atom")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    feed = feedparser.parse(r.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title.startswith("Open data")
    assert [e.link for e in feed.entries] == [f"http://archive.test/webinars/{made[k].id}" for k in ("second", "first")]
    assert any(link.rel == "self" and link.href == "http://archive.test/series/open-data/feed.atom"
               for link in feed.feed.links)
    _assert_nothing_hidden(r.get_data(as_text=True), made)
    podcast = feedparser.parse(client.get("/series/open-data/podcast.rss").data)
    assert not podcast.bozo, podcast.bozo_exception
    [item] = podcast.entries  # the second webinar has slides only, no audio
    assert item.id == made["first"].id and item.enclosures[0].type == "audio/mpeg"
    for name in HIDDEN:
        assert client.get(f"/series/series-{name}/feed.atom").status_code == 404
        assert client.get(f"/series/series-{name}/podcast.rss").status_code == 404


def test_sitemap_has_series_tag_and_speaker_pages_but_nothing_hidden(site):
    _, app, made = site
    client = app.test_client()
    body = client.get("/sitemap.xml").get_data(as_text=True)
    root = ET.fromstring(body)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {e.text for e in root.findall("s:url/s:loc", ns)}
    for path in ("/series", "/tags", "/speakers", "/series/open-data", "/tags/open-data", "/tags/maps",
                 "/speakers/ada-lovelace", "/speakers/grace-hopper", f"/webinars/{made['other'].id}"):
        assert f"http://archive.test{path}" in locs
    _assert_nothing_hidden(body, made)
    for loc in locs:  # every page the sitemap names exists
        assert client.get(loc.removeprefix("http://archive.test")).status_code == 200, loc


def test_api_series_and_speakers_list_nothing_hidden(site):
    _, app, made = site
    client = app.test_client()
    series = client.get("/api/v1/series").get_json()
    assert [s["slug"] for s in series["items"]] == ["open-data"] and series["total"] == 1
    assert series["items"][0]["webinar_count"] == 2 and series["items"][0]["latest"] == "2022-03-01"
    one = client.get("/api/v1/series/open-data", query_string={"per_page": 1, "page": 2}).get_json()
    assert [w["id"] for w in one["webinars"]["items"]] == [made["first"].id] and one["webinars"]["total"] == 2
    speakers = client.get("/api/v1/speakers").get_json()
    assert [s["slug"] for s in speakers["items"]] == ["ada-lovelace", "grace-hopper"]
    page2 = client.get("/api/v1/speakers", query_string={"per_page": 1, "page": 2}).get_json()
    assert [s["slug"] for s in page2["items"]] == ["grace-hopper"] and page2["total"] == 2
    ada = client.get("/api/v1/speakers/ada-lovelace").get_json()
    assert [a["webinar"]["id"] for a in ada["webinars"]["items"]] == [made["second"].id, made["first"].id]
    assert ada["webinar_count"] == ada["webinars"]["total"] == 2
    ada2 = client.get("/api/v1/speakers/ada-lovelace", query_string={"per_page": 1, "page": 2}).get_json()
    assert [a["webinar"]["id"] for a in ada2["webinars"]["items"]] == [made["first"].id]
    assert ada["webinars"]["items"][1]["talks"] == [{"title": "Why open data", "start": 1.0,
                                            "url": f"http://archive.test/webinars/{made['first'].id}?t=1"}]
    assert ada["photo"] == "http://archive.test/speakers/ada-lovelace/photo"
    for body in (series, one, speakers, ada, client.get("/api/v1/speakers/grace-hopper").get_json()):
        _assert_nothing_hidden(json.dumps(body), made)
    for name in HIDDEN:
        assert client.get(f"/api/v1/series/series-{name}").status_code == 404
        assert client.get(f"/api/v1/speakers/person-{name}").status_code == 404


def test_a_speaker_of_a_talk_only_has_a_page_too(site):
    """Counted once per webinar, whether named on the webinar, on its talks, or both."""
    archive, app, made = site
    from archive.models import Presentation, PresentationSpeaker, Speaker
    with archive.catalog.transaction() as s:
        guest = Speaker(slug="talk-only-guest", name="Talk-only guest")
        s.add(guest)
        s.flush()
        for position, title in ((5, "A guest's first word"), (6, "A guest's last word")):
            talk = Presentation(webinar_id=made["other"].id, position=position, title=title, start_seconds=None)
            talk.speaker_links.append(PresentationSpeaker(speaker_id=guest.id, position=0))
            s.add(talk)
    client = app.test_client()
    try:
        page = _text(client, "/speakers/talk-only-guest")
        assert "A guest&#39;s first word" in page and "A guest&#39;s last word" in page
        assert page.count(f'href="/webinars/{made["other"].id}"') == 1
        body = client.get("/api/v1/speakers").get_json()
        counts = {i["slug"]: i["webinar_count"] for i in body["items"]}
        assert counts == {"ada-lovelace": 2, "grace-hopper": 2, "talk-only-guest": 1} and body["total"] == 3
    finally:
        with archive.catalog.transaction() as s:
            for talk in s.query(Presentation).filter(Presentation.title.like("A guest%")):
                s.delete(talk)
            s.query(Speaker).filter_by(slug="talk-only-guest").delete()
    assert client.get("/speakers/talk-only-guest").status_code == 404


def test_the_watch_page_links_its_series_speakers_and_topics(site):
    _, app, made = site
    client = app.test_client()
    page = _text(client, f"/webinars/{made['first'].id}")
    context = re.search(r'<ul class="context">.*?</ul>', page, re.S).group(0)
    for path in ("/series/open-data", "/speakers/ada-lovelace", "/speakers/grace-hopper", "/tags/open-data",
                 "/tags/cities"):
        assert f'href="{path}"' in context
        assert client.get(path).status_code == 200
    # An unlisted webinar links to no page that would reveal it or answer 404.
    unlisted = _text(client, f"/webinars/{made['unlisted'].id}")
    assert 'class="context"' not in unlisted and "/speakers/person-unlisted" not in unlisted
