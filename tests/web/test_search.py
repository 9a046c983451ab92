"""The search page and /api/v1/search through Flask's test client, over a real SQLite
catalog whose documents are written by the archive's own indexing functions."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from archive import search
from archive.context import Archive
from archive.models import Asset, Webinar, new_id
from web import create_app

from ..conftest import make_settings
from .test_pages import Page
from ..archive.test_search import HOSTILE

# In the scale-out configuration too (scripts/test; tests/conftest.py).
pytestmark = pytest.mark.scaleout


def _asset(webinar_id: str, kind: str) -> Asset:
    return Asset(id=new_id(), webinar_id=webinar_id, kind=kind, original_filename=f"file.{kind}",
                 original_ext="pdf", content_type="application/pdf", size=1, sha256="0" * 64,
                 status="ready", info={}, outputs={})


@pytest.fixture(scope="module")
def site(minio, tmp_path_factory):
    archive = Archive.from_settings(make_settings(minio, tmp_path_factory.mktemp("search")))
    archive.setup()
    ids = {}
    with archive.catalog.transaction() as s:
        def add(key, title, description, visibility="public", day=1):
            w = Webinar(id=new_id(), title=title, description=description, visibility=visibility,
                        held_on=dt.date(2022, 3, day))
            s.add(w)
            search.index_webinar(s, w)
            ids[key] = w.id
            return w

        w = add("main", "Marimba workshop", 'Tuning <img src=x onerror="alert(1)"> & friends')
        deck, cap = _asset(w.id, "slides"), _asset(w.id, "captions")
        s.add_all([deck, cap])
        s.flush()
        search.index_asset(s, deck, [{"page": n, "text": "vibraphone" if n == 37 else f"page {n}"}
                                     for n in range(1, 161)])
        search.index_asset(s, cap, [{"at": 150.5, "text": "the glockenspiel"}, {"at": 160, "text": "ends"}])
        ids["deck"] = deck.id
        add("private", "Private marimba", "vibraphone glockenspiel", "private")
        add("draft", "Draft marimba", "vibraphone glockenspiel", "draft")
        add("unlisted", "Unlisted marimba", "vibraphone glockenspiel", "unlisted")
        for i in range(12):
            add(f"many{i}", f"Kalimba session {i}", "kalimba " * (i + 1), day=1 + i)
        add("body_only", "Thumb pianos", "Also known as the kalimba.")
    yield archive, create_app(archive, {"TESTING": True}).test_client(), ids
    archive.close()


def test_hits_link_to_their_slide_and_moment(site):
    archive, client, ids = site
    r = client.get("/search?q=vibraphone")
    assert r.status_code == 200
    page = Page(r.get_data(as_text=True))
    assert page.hrefs("Slide 37") == [f"/webinars/{ids['main']}?slide={ids['deck']}:37"]
    page = Page(client.get("/search?q=glockenspiel").get_data(as_text=True))
    assert page.hrefs("At 2:30") == [f"/webinars/{ids['main']}?t=150.5"]
    assert "<mark>glockenspiel</mark>" in client.get("/search?q=glockenspiel").get_data(as_text=True)


def test_highlights_are_the_only_markup(site):
    _, client, ids = site
    body = client.get("/search?q=tuning").get_data(as_text=True)
    assert "<mark>Tuning</mark>" in body and '<img src=x' not in body and "&lt;img src=x" in body
    body = client.get("/search?q=marimba").get_data(as_text=True)
    assert "<mark>Marimba</mark> workshop" in body
    r = client.get("/api/v1/search?q=tuning").get_json()
    assert r["results"][0]["hits"][0]["snippet"].startswith("<mark>Tuning</mark> &lt;img src=x")


def test_hidden_webinars_are_never_found(site):
    _, client, ids = site
    hidden = {ids["private"], ids["draft"], ids["unlisted"]}
    for q in ("marimba", "vibraphone", "glockenspiel", "private", "draft", "unlisted"):
        body = client.get(f"/search?q={q}").get_data(as_text=True)
        assert not any(h in body for h in hidden), q
        found = {r["id"] for r in client.get(f"/api/v1/search?q={q}").get_json()["results"]}
        assert not found & hidden, q


def test_api_shape(site):
    _, client, ids = site
    r = client.get("/api/v1/search?q=glockenspiel")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert body == {"query": "glockenspiel", "page": 1, "per_page": 10, "has_more": False, "results": [{
        "id": ids["main"], "title": "Marimba workshop", "held_on": "2022-03-01",
        "url": f"http://archive.test/webinars/{ids['main']}",
        "hits": [{"kind": "caption", "page": None, "at": 150.5,
                  "url": f"http://archive.test/webinars/{ids['main']}?t=150.5",
                  "snippet": "the <mark>glockenspiel</mark> ends"}]}]}


def test_pages_of_results(site):
    _, client, ids = site
    first = client.get("/api/v1/search?q=kalimba&per_page=5").get_json()
    assert len(first["results"]) == 5 and first["has_more"]
    seen = [r["id"] for p in (1, 2, 3) for r in
            client.get(f"/api/v1/search?q=kalimba&per_page=5&page={p}").get_json()["results"]]
    assert sorted(seen) == sorted([ids[f"many{i}"] for i in range(12)] + [ids["body_only"]])
    assert seen[-1] == ids["body_only"]  # a title weighs more than a description
    page = Page(client.get("/search?q=kalimba").get_data(as_text=True))
    [next_href] = page.hrefs("Next")
    assert parse_qs(urlsplit(next_href).query) == {"q": ["kalimba"], "page": ["2"]}
    page = Page(client.get(next_href).get_data(as_text=True))
    assert page.hrefs("Previous") and not page.hrefs("Next")


@pytest.mark.parametrize("query", HOSTILE + ["%ZZ", "&page=x"])
def test_hostile_input_never_fails(site, query):
    _, client, _ = site
    for path in ("/search", "/api/v1/search"):
        for extra in ({}, {"page": "x"}, {"page": "-3"}, {"page": "99999999999"}, {"per_page": "abc"}):
            r = client.get(path, query_string={"q": query, **extra})
            assert r.status_code == 200, (path, query[:40], extra)


def test_undecodable_query_strings_never_fail(site):
    _, client, _ = site
    for raw in ("q=%ff%fe%ED%A0%80", "q=kalimba&page=%ff", "q=%00", "q&q=a&q=b", "%%%"):
        for path in ("/search", "/api/v1/search"):
            assert client.get(f"{path}?{raw}").status_code == 200, (path, raw)


def test_search_box_in_the_header(site):
    _, client, _ = site
    page = Page(client.get("/").get_data(as_text=True))
    [form] = [a for t, a in page.tags if t == "form" and a.get("role") == "search"]
    assert form["action"] == "/search" and form["method"] == "get"
    page = Page(client.get("/search?q=kalimba").get_data(as_text=True))
    assert {"type": "search", "name": "q", "value": "kalimba"}.items() <= page.all("input", name="q")[0].items()
