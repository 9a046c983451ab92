"""Feeds, podcast, sitemap, oEmbed, the embed page and the public API v1, read the way
their consumers read them: feedparser, an XML parser, an OpenAPI validator."""
from __future__ import annotations

import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import feedparser
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from archive.importer import ImportRequest, PresentationInput, SpeakerInput, import_webinar
from archive.context import Archive
from archive.models import Webinar
from archive.storage import content_disposition
from archive.worker import Worker
from web import create_app
from web.openapi import document

from ..conftest import make_settings
from ..helpers import reload


@pytest.fixture(scope="module")
def site(minio, inputs, tmp_path_factory):
    archive = Archive.from_settings(make_settings(minio, tmp_path_factory.mktemp("syndication")))
    archive.setup()
    captions = tmp_path_factory.mktemp("captions") / "talk.vtt"
    captions.write_text("WEBVTT\n\n00:00.000 --> 00:01.500\n<v Ana Müller>Hello & welcome.\n\n"
                        "00:01.500 --> 00:03.000\nTwo <i>lines</i>\nof words.\n")
    made = {}
    for name, visibility in (("public", "public"), ("unlisted", "unlisted"), ("private", "private"),
                             ("draft", "draft")):
        made[name] = import_webinar(archive, ImportRequest(
            title=f"The {name} talk", recording=inputs["h264_aac.mp4"], slides=[inputs["deck.pdf"]],
            visibility=visibility, description=f"What the {name} talk is about & more, *in short*",
            captions=[("en", captions)],
            series=f"The {name} series", tags=[f"{name} things"],
            speakers=[SpeakerInput(f"Speaker {name}", organisation="Somewhere", bio="Has *spoken*.")],
            presentations=[PresentationInput(f"Speech {name}", speakers=[f"Speaker {name}"], start=1.5)]))
    made["slides_only"] = import_webinar(archive, ImportRequest(title="Slides only", slides=[inputs["deck.pdf"]]))
    Worker(archive, "w").run_until_idle()
    yield archive, create_app(archive, {"TESTING": True}).test_client(), made
    archive.close()


def _hidden(made) -> list[Webinar]:
    return [made[k] for k in ("unlisted", "private", "draft")]


def test_atom_feed_lists_only_public_webinars(site):
    _, client, made = site
    r = client.get("/feed.atom")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    feed = feedparser.parse(r.data)
    assert not feed.bozo, feed.bozo_exception
    links = {e.link for e in feed.entries}
    assert f"http://archive.test/webinars/{made['public'].id}" in links
    assert not any(w.id in link for w in _hidden(made) for link in links)
    entry = next(e for e in feed.entries if made["public"].id in e.link)
    assert entry.title == "The public talk" and "&amp; more" in entry.summary


def test_podcast_feed_has_audio_enclosures_a_podcast_app_accepts(site):
    archive, client, made = site
    feed = feedparser.parse(client.get("/podcast.rss").data)
    assert not feed.bozo, feed.bozo_exception
    assert "itunes_explicit" in feed.feed and feed.feed.author
    [item] = feed.entries  # the slides-only webinar has no audio; the others are not listed
    assert item.id == made["public"].id and item.itunes_duration == "0:00:04"
    [enclosure] = item.enclosures
    assert enclosure.type == "audio/mpeg"
    rec = reload(archive, made["public"].id).recording
    assert int(enclosure.length) == archive.store.head(rec.outputs["audio_mp3"])["size"]
    # The enclosure is the app's address: it redirects to a fresh link at every fetch.
    r = client.get(enclosure.href.removeprefix("http://archive.test"))
    assert r.status_code == 302 and "X-Amz-Signature" in r.headers["Location"]


def test_sitemap_and_discovery_links(site):
    _, client, made = site
    root = ET.fromstring(client.get("/sitemap.xml").data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text for e in root.findall("s:url/s:loc", ns)]
    assert f"http://archive.test/webinars/{made['public'].id}" in locs
    assert not any(w.id in loc for w in _hidden(made) for loc in locs)
    assert {"http://archive.test/series/the-public-series", "http://archive.test/speakers/speaker-public",
            "http://archive.test/tags/public-things"} <= set(locs)
    assert not any(name in loc for name in ("unlisted", "private", "draft") for loc in locs)
    page = client.get(f"/webinars/{made['public'].id}").get_data(as_text=True)
    assert 'type="application/atom+xml"' in page and 'type="application/json+oembed"' in page
    assert 'property="og:title" content="The public talk"' in page and 'name="twitter:card" content="player"' in page


def test_oembed_and_the_embeddable_player(site):
    _, client, made = site
    w = made["public"]
    data = client.get("/oembed", query_string={"url": f"http://archive.test/webinars/{w.id}"}).get_json()
    assert data["type"] == "video" and data["version"] == "1.0" and data["width"] == 640
    assert f'src="http://archive.test/embed/{w.id}"' in data["html"]
    assert client.get(data["thumbnail_url"].removeprefix("http://archive.test")).status_code == 302
    embed = client.get(f"/embed/{w.id}")
    assert embed.status_code == 200 and "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers and 'id="player"' in embed.get_data(as_text=True)
    page = client.get(f"/webinars/{w.id}")  # every other page still refuses frames
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    for hidden in (made["private"], made["draft"]):
        assert client.get(f"/embed/{hidden.id}").status_code == 404
        assert client.get("/oembed", query_string={"url": f"http://archive.test/webinars/{hidden.id}"}).status_code == 404
    assert client.get("/oembed", query_string={"url": f"http://elsewhere.test/webinars/{w.id}"}).status_code == 404


@pytest.mark.parametrize("args, answer", [
    ({"maxwidth": "abc"}, 400), ({"maxheight": "1e9"}, 400), ({"maxwidth": "-5"}, 400),
    ({"maxwidth": "0"}, 400), ({"maxheight": "12.5"}, 400), ({"maxwidth": "\u0663\u0662\u0660"}, 400),
    ({"maxwidth": ""}, (640, 360)), ({"maxwidth": "320"}, (320, 180)), ({"maxheight": "90"}, (160, 90)),
    ({"maxwidth": "320", "maxheight": "90"}, (160, 90)), ({"maxwidth": "1"}, (1, 1)),
    ({"maxwidth": "9" * 5000, "maxheight": "1000000000"}, (640, 360)),
])
def test_oembed_sizes_are_positive_whole_numbers_within_the_consumers_maxima(site, args, answer):
    _, client, made = site
    r = client.get("/oembed", query_string={"url": f"http://archive.test/webinars/{made['public'].id}", **args})
    if answer == 400:
        assert r.status_code == 400 and "positive whole number" in r.get_data(as_text=True)
        return
    data = r.get_json()
    assert r.status_code == 200 and (data["width"], data["height"]) == answer
    assert f'width="{answer[0]}" height="{answer[1]}"' in data["html"]


def _validator(schema_name: str) -> Draft202012Validator:
    doc = document("http://archive.test")
    registry = Registry().with_resource("urn:api", Resource.from_contents(doc, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:api#/components/schemas/{schema_name}"}, registry=registry)


def test_the_openapi_document_is_valid_and_describes_the_real_responses(site):
    _, client, made = site
    served = client.get("/api/v1/openapi.json").get_json()
    validate(served)  # raises if the document is not valid OpenAPI 3.1
    listing = client.get("/api/v1/webinars", query_string={"per_page": 100}).get_json()
    _validator("WebinarList").validate(listing)
    ids = [i["id"] for i in listing["items"]]
    assert made["public"].id in ids and not set(ids) & {w.id for w in _hidden(made)}
    assert listing["total"] == len(ids) == 2
    for webinar_id in ids:
        body = client.get(f"/api/v1/webinars/{webinar_id}").get_json()
        _validator("Webinar").validate(body)
    detail = client.get(f"/api/v1/webinars/{made['public'].id}").get_json()
    assert detail["recording"]["downloads"]["mp3"]["url"].endswith("/audio.mp3")
    assert detail["slides"][0]["pages"] == 3 and detail["slides_zip"].endswith("/slides.zip")
    for hidden in _hidden(made):
        r = client.get(f"/api/v1/webinars/{hidden.id}")
        assert r.status_code == 404
        _validator("Error").validate(r.get_json())
    bad = client.get("/api/v1/webinars", query_string={"per_page": "lots"})
    assert bad.status_code == 400
    _validator("Error").validate(bad.get_json())
    assert "/search" in served["paths"]
    found = client.get("/api/v1/search", query_string={"q": "talk about", "per_page": 50}).get_json()
    _validator("SearchResults").validate(found)
    [result] = found["results"]
    assert result["id"] == made["public"].id and result["hits"][0]["snippet"].count("<mark>") == 2
    assert "&amp; more" in result["hits"][0]["snippet"]


def test_absolute_urls_use_the_configured_public_url_whatever_the_host_header(site):
    """A client that forges Host never gets its host back in a URL others will follow."""
    _, client, made = site
    w = made["public"].id
    paths = ["/api/v1/webinars", f"/api/v1/webinars/{w}", "/api/v1/search?q=talk", "/api/v1/series",
             "/api/v1/series/the-public-series", "/api/v1/speakers", "/api/v1/speakers/speaker-public",
             "/api/v1/openapi.json", f"/api/webinars/{w}", "/feed.atom", "/podcast.rss",
             "/series/the-public-series/feed.atom", "/series/the-public-series/podcast.rss", "/sitemap.xml",
             f"/oembed?url=http://archive.test/webinars/{w}"]
    for path in paths:
        r = client.get(path, headers={"Host": "forged.example", "X-Forwarded-Host": "forged.example"})
        body = r.get_data(as_text=True)
        assert r.status_code == 200, path
        assert "forged.example" not in body and "http://archive.test/" in body, path


def test_the_openapi_document_describes_series_and_speakers(site):
    _, client, made = site
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/series", "/series/{slug}", "/speakers", "/speakers/{slug}"} <= set(paths)
    series = client.get("/api/v1/series", query_string={"per_page": 100}).get_json()
    _validator("SeriesList").validate(series)
    assert [s["slug"] for s in series["items"]] == ["the-public-series"] and series["total"] == 1
    one = client.get("/api/v1/series/the-public-series").get_json()
    _validator("Series").validate(one)
    assert [w["id"] for w in one["webinars"]["items"]] == [made["public"].id]
    speakers = client.get("/api/v1/speakers", query_string={"per_page": 100}).get_json()
    _validator("SpeakerList").validate(speakers)
    assert [s["slug"] for s in speakers["items"]] == ["speaker-public"]
    speaker = client.get("/api/v1/speakers/speaker-public").get_json()
    _validator("Speaker").validate(speaker)
    [appearance] = speaker["webinars"]["items"]
    assert appearance["webinar"]["id"] == made["public"].id and appearance["talks"][0]["start"] == 1.5
    assert appearance["talks"][0]["url"] == f"http://archive.test/webinars/{made['public'].id}?t=1"
    for name in ("unlisted", "private", "draft"):
        for path in (f"/api/v1/series/the-{name}-series", f"/api/v1/speakers/speaker-{name}"):
            r = client.get(path)
            assert r.status_code == 404, path
            _validator("Error").validate(r.get_json())
    bad = client.get("/api/v1/speakers", query_string={"page": "0"})
    assert bad.status_code == 400
    _validator("Error").validate(bad.get_json())


def test_pages_of_the_listing(site):
    _, client, _ = site
    first = client.get("/api/v1/webinars", query_string={"per_page": 1}).get_json()
    second = client.get("/api/v1/webinars", query_string={"per_page": 1, "page": 2}).get_json()
    third = client.get("/api/v1/webinars", query_string={"per_page": 1, "page": 3}).get_json()
    assert first["total"] == 2 and len(first["items"]) == len(second["items"]) == 1
    assert first["items"][0]["id"] != second["items"][0]["id"] and third["items"] == []


def test_a_series_has_its_own_feeds_with_only_its_listed_webinars(site):
    _, client, made = site
    series = client.get("/series/the-public-series").get_data(as_text=True)
    assert 'rel="alternate" type="application/atom+xml"' in series and "/series/the-public-series/feed.atom" in series
    feed = feedparser.parse(client.get("/series/the-public-series/feed.atom").data)
    assert not feed.bozo, feed.bozo_exception
    assert [e.link for e in feed.entries] == [f"http://archive.test/webinars/{made['public'].id}"]
    podcast = feedparser.parse(client.get("/series/the-public-series/podcast.rss").data)
    assert not podcast.bozo and [i.id for i in podcast.entries] == [made["public"].id]
    for name in ("unlisted", "private", "draft"):
        assert client.get(f"/series/the-{name}-series/feed.atom").status_code == 404
        assert client.get(f"/series/the-{name}-series/podcast.rss").status_code == 404


def test_feeds_carry_pictures_and_descriptions_without_markdown(site):
    _, client, made = site
    entry = feedparser.parse(client.get("/feed.atom").data).entries
    entry = next(e for e in entry if made["public"].id in e.link)
    assert "<em>in short</em>" in entry.summary and "*" not in entry.summary  # sanitised HTML
    for path in ("/podcast.rss", "/series/the-public-series/podcast.rss"):
        r = client.get(path)
        root = ET.fromstring(r.data)
        itunes = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
        [item] = root.findall("channel/item")
        assert item.find("description").text.startswith("<p>What the public talk is about &amp; more, <em>")
        assert item.find(f"{itunes}summary").text == "What the public talk is about & more, in short"
        picture = item.find(f"{itunes}image").get("href")
        assert root.find(f"channel/{itunes}image").get("href") == picture
        assert picture.startswith("http://archive.test/webinars/") and picture.endswith("/poster")
        assert client.get(picture.removeprefix("http://archive.test")).status_code == 302
        assert not feedparser.parse(r.data).bozo


def test_the_api_answers_at_its_root_with_its_entry_points(site):
    _, client, _ = site
    r = client.get("/api/v1/")
    assert r.status_code == 200
    body = r.get_json()
    _validator("ApiIndex").validate(body)
    assert body["openapi"] == "http://archive.test/api/v1/openapi.json"
    for name in ("webinars", "series", "speakers", "search"):
        assert client.get(body[name].removeprefix("http://archive.test")).status_code == 200, name
    assert "/" in client.get("/api/v1/openapi.json").get_json()["paths"]


def test_unlisted_pages_ask_search_engines_not_to_index_them(site):
    _, client, made = site
    for path in (f"/webinars/{made['unlisted'].id}", f"/embed/{made['unlisted'].id}"):
        for _ in range(2):  # rendered, then from the page cache
            r = client.get(path)
            assert r.status_code == 200 and r.headers.get("X-Robots-Tag") == "noindex", path
            assert '<meta name="robots" content="noindex">' in r.get_data(as_text=True), path
    for path in (f"/webinars/{made['public'].id}", f"/embed/{made['public'].id}"):
        r = client.get(path)
        assert "X-Robots-Tag" not in r.headers and 'name="robots"' not in r.get_data(as_text=True), path


def _disposition(redirect) -> str:
    """The Content-Disposition a presigned redirect asks S3 for."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(redirect.headers["Location"]).query)
    return query["response-content-disposition"][0]


def test_captions_and_all_slides_download_under_the_webinars_name(site):
    archive, client, made = site
    w = reload(archive, made["public"].id)
    [track] = w.captions
    page = client.get(f"/webinars/{w.id}").get_data(as_text=True)
    vtt_link = f"/webinars/{w.id}/captions/{track.id}/download.vtt"
    srt_link = f"/webinars/{w.id}/captions/{track.id}/download.srt"
    assert f'href="{vtt_link}"' in page and f'href="{srt_link}"' in page
    r = client.get(vtt_link)
    assert r.status_code == 302
    assert _disposition(r) == content_disposition("The public talk (en).vtt")
    with urllib.request.urlopen(r.headers["Location"]) as got:
        assert got.read().decode().startswith("WEBVTT")
    r = client.get(srt_link)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == content_disposition("The public talk (en).srt")
    assert r.get_data(as_text=True) == ("1\n00:00:00,000 --> 00:00:01,500\nAna Müller: Hello & welcome.\n\n"
                                        "2\n00:00:01,500 --> 00:00:03,000\nTwo lines\nof words.\n")
    assert client.get(f"/webinars/{w.id}/captions/{track.id}/download.txt").status_code == 404
    assert client.get(f"/webinars/{made['private'].id}/captions/{track.id}/download.srt").status_code == 404
    r = client.get(f"/webinars/{w.id}/slides.zip")
    assert r.status_code == 302
    assert _disposition(r) == content_disposition("The public talk.zip")
