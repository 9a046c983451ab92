"""Public pages, downloads and the JSON API, through Flask's test client.

One archive is built for the module (a processed public webinar, hidden ones, one
still processing) and only read by the tests; presigned links are fetched for real
from MinIO with urllib.
"""
from __future__ import annotations

import datetime as dt
import shutil
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from archive import queries
from archive.config import Settings
from archive.context import Archive
from archive.importer import ImportRequest, import_webinar
from archive.models import Webinar, new_id
from archive.worker import Worker
from web import create_app

from ..conftest import make_settings
from ..helpers import reload as _reload

# In the scale-out configuration too (scripts/test; tests/conftest.py).
pytestmark = pytest.mark.scaleout

# Non-ASCII, quotes and a semicolon: the names must survive Content-Disposition.
RECORDING_NAME = "Vortrag – Jürgen Müller, 東京.mp4"
DECK_NAMES = ("Präsentation – Ana Müller.pdf", "Folien; Teil 2 “final”.pdf")


class Page(HTMLParser):
    """The parts of a page the tests look at: start tags with attributes, links, text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.links: list[tuple[str, str]] = []  # (text, href)
        self.chunks: list[str] = []
        self._link: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "a":
            self._link = [attrs.get("href") or "", ""]

    def handle_data(self, data):
        self.chunks.append(data)
        if self._link is not None:
            self._link[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.links.append((" ".join(self._link[1].split()), self._link[0]))
            self._link = None

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())

    def all(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def hrefs(self, text: str) -> list[str]:
        return [href for t, href in self.links if t == text]


@dataclass
class Site:
    archive: Archive
    client: object
    public: Webinar
    draft: Webinar
    private: Webinar
    unlisted: Webinar
    processing: Webinar
    files: dict[str, Path]  # original file name -> local file


@pytest.fixture(scope="module")
def site(minio, inputs, tmp_path_factory) -> Site:
    tmp = tmp_path_factory.mktemp("pages")
    archive = Archive.from_settings(make_settings(minio, tmp))
    archive.setup()
    files = {RECORDING_NAME: tmp / RECORDING_NAME}
    shutil.copyfile(inputs["h264_aac.mp4"], files[RECORDING_NAME])
    for name in DECK_NAMES:
        files[name] = tmp / name
        shutil.copyfile(inputs["deck.pdf"], files[name])

    def add(title, visibility, day, recording=None, slides=()):
        return import_webinar(archive, ImportRequest(
            title=title, held_on=dt.date(2021, 6, day), visibility=visibility,
            recording=recording, slides=list(slides), description=f"About {title}."))

    public = add("Open data in practice", "public", 7, files[RECORDING_NAME],
                 [files[n] for n in DECK_NAMES])
    unlisted = add("Unlisted talk", "unlisted", 10, slides=[inputs["deck.pdf"]])
    Worker(archive, name="pages-worker").run_until_idle()
    # Imported after the worker ran: their jobs stay queued. Hidden webinars need no
    # processing to be hidden.
    processing = add("Talk still processing", "public", 5, inputs["h264_aac.mp4"], [inputs["deck.pdf"]])
    draft = add("Draft talk", "draft", 8, inputs["h264_aac.mp4"], [inputs["deck.pdf"]])
    private = add("Private talk", "private", 9, slides=[inputs["deck.pdf"]])
    site = Site(archive, create_app(archive, {"TESTING": True}).test_client(),
                *(_reload(archive, w.id) for w in (public, draft, private, unlisted, processing)),
                files=files)
    assert site.public.status == site.unlisted.status == "ready", site.public.errors
    assert site.processing.status == "processing"
    yield site
    archive.close()


def _fetch(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
        return r.status, r.read(), r.headers


def _assert_presigned(archive: Archive, url: str, key: str) -> dict[str, list[str]]:
    """A link signed for the browser-facing endpoint, to exactly this object."""
    u = urlsplit(url)
    assert f"{u.scheme}://{u.netloc}" == archive.settings.s3_public_endpoint
    assert unquote(u.path) == f"/{archive.settings.bucket}/{key}"
    query = parse_qs(u.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Signature"][0]
    return query


def _utf8_name(disposition: str) -> str:
    assert disposition.startswith("attachment;"), disposition
    return unquote(disposition.split("filename*=UTF-8''", 1)[1].split(";")[0])


def test_index_lists_public_webinars_only(site):
    r = site.client.get("/")
    assert r.status_code == 200
    page = Page(r.get_data(as_text=True))
    links = {href for _, href in page.links}
    assert f"/webinars/{site.public.id}" in links
    assert f"/webinars/{site.processing.id}" in links
    for hidden in (site.draft, site.private, site.unlisted):
        assert f"/webinars/{hidden.id}" not in links
        assert hidden.title not in page.text
    assert site.public.title in page.text and site.processing.title in page.text
    # newest first
    assert page.text.index(site.public.title) < page.text.index(site.processing.title)
    # the ready webinar shows its poster; the other one says it is being processed
    posters = page.all("img", **{"class": "poster"})
    rec = site.public.recording
    assert len(posters) == 1 and posters[0]["src"] == f"/webinars/{site.public.id}/recording/{rec.id}/poster"
    poster = site.client.get(posters[0]["src"])
    assert poster.status_code == 302 and "max-age" in poster.headers["Cache-Control"]
    _assert_presigned(site.archive, poster.headers["Location"], site.public.recording.outputs["poster"])
    assert "Processing…" in page.text


def test_the_index_comes_in_pages(archive, client):
    with archive.catalog.transaction() as s:
        for i in range(30):
            s.add(Webinar(id=new_id(), title=f"Talk number {i:02d}", held_on=dt.date(2020, 1, 1) + dt.timedelta(days=i)))
    first = Page(client.get("/").get_data(as_text=True))
    second = Page(client.get("/?page=2").get_data(as_text=True))
    assert len(first.all("li", **{"class": "card"})) == 24 and len(second.all("li", **{"class": "card"})) == 6
    assert "Talk number 29" in first.text and "Talk number 05" in second.text and "Talk number 05" not in first.text
    assert ("Older →", "/?page=2") in first.links and ("← Newer", "/") in second.links
    assert client.get("/?page=3").status_code == 404
    assert client.get("/?page=abc").status_code == 200


def test_webinar_page_plays_the_recording(site):
    r = site.client.get(f"/webinars/{site.public.id}")
    assert r.status_code == 200
    page = Page(r.get_data(as_text=True))
    assert site.public.title in page.text and "About Open data in practice." in page.text
    rec = site.public.recording
    (video,) = page.all("video", id="player")
    (source,) = page.all("source")
    assert source["type"] == "video/mp4"
    # The page carries app URLs that redirect to presigned links (signed once per window).
    assert source["src"] == f"/webinars/{site.public.id}/recording/{rec.id}/web"
    mp4 = _follow(site, source["src"], rec.outputs["web"])
    poster_url = _follow(site, video["poster"], rec.outputs["poster"])

    status, body, headers = _fetch(mp4)
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    assert body == site.archive.store.get_bytes(rec.outputs["web"])
    assert body[4:8] == b"ftyp"
    status, part, _ = _fetch(mp4, {"Range": "bytes=0-99"})  # the player seeks
    assert status == 206 and part == body[:100]
    status, poster, headers = _fetch(poster_url)
    assert headers["Content-Type"] == "image/jpeg" and poster[:3] == b"\xff\xd8\xff"
    assert "being prepared" not in page.text and "could not be processed" not in page.text


def test_webinar_page_links_every_download(site):
    html = site.client.get(f"/webinars/{site.public.id}").get_data(as_text=True)
    page = Page(html)
    w = site.public
    assert page.hrefs("Download the recording") == [f"/webinars/{w.id}/recording/download"]
    assert page.hrefs("Download the slides") == [
        f"/webinars/{w.id}/slides/{deck.id}/download" for deck in w.decks]
    for name in (RECORDING_NAME, *DECK_NAMES):
        assert name in page.text
    # a slide viewer per deck: the first page large, a strip of every thumbnail, app URLs
    # that redirect to signed links; nothing on the page is signed
    viewers = page.all("section", **{"class": "deck slides-viewer"})
    assert [v["data-deck"] for v in viewers] == [d.id for d in w.decks]
    larges = [img["src"] for img in page.all("img", **{"class": "page"})]
    thumbs = [img["src"] for img in page.all("img", loading="lazy")]
    assert larges == [f"/webinars/{w.id}/slides/{d.id}/pages/large/1.webp" for d in w.decks]
    assert thumbs == [f"/webinars/{w.id}/slides/{d.id}/pages/thumb/{n}.webp" for d in w.decks for n in (1, 2, 3)]
    keys = [key for deck in w.decks for key in deck.outputs["pages"]["thumb"]]
    for src, key in zip(thumbs, keys):
        status, body, headers = _fetch(_follow(site, src, key))
        assert status == 200 and headers["Content-Type"] == "image/webp" and body[8:12] == b"WEBP"
    assert "X-Amz-Signature" not in html


def _follow(site, path: str, key: str) -> str:
    """An app media route: a cached redirect to a link presigned for exactly this object."""
    r = site.client.get(path)
    assert r.status_code == 302, path
    _assert_presigned(site.archive, r.location, key)
    cache = r.headers["Cache-Control"]
    assert cache.startswith("private, max-age=")
    assert 0 < int(cache.split("=")[1]) <= min(300, site.archive.settings.presign_seconds / 2)
    return r.location


def test_media_routes_reuse_signatures_and_check_visibility_every_time(site):
    w = site.public
    deck = w.decks[0]
    path = f"/webinars/{w.id}/slides/{deck.id}/pages/large/2.webp"
    first, second = site.client.get(path), site.client.get(path)
    assert first.location == second.location  # signed once per time window
    assert _follow(site, path, deck.outputs["pages"]["large"][1])
    missing = [f"/webinars/{w.id}/slides/{deck.id}/pages/large/4.webp",
               f"/webinars/{w.id}/slides/{deck.id}/pages/large/0.webp",
               f"/webinars/{w.id}/slides/{deck.id}/pages/huge/1.webp",
               f"/webinars/{w.id}/slides/{w.recording.id}/pages/thumb/1.webp",
               f"/webinars/{w.id}/recording/{w.recording.id}/original",
               f"/webinars/{w.id}/recording/{deck.id}/web"]
    for hidden in (site.draft, site.private):
        missing.append(f"/webinars/{hidden.id}/slides/{hidden.decks[0].id}/pages/thumb/1.webp")
    missing.append(f"/webinars/{site.draft.id}/recording/{site.draft.recording.id}/web")
    assert {p: site.client.get(p).status_code for p in missing} == {p: 404 for p in missing}


def test_signed_links_are_reused_for_half_their_lifetime():
    from web.media import SignedLinks

    class Store:
        n = 0

        def presigned_get(self, key, expires):
            self.n += 1
            return f"https://s3.test/{key}?sig={self.n}&expires={expires}"

    now = [1000.0]
    links = SignedLinks(Store(), lifetime=100, size=2, clock=lambda: now[0])
    assert links.get("a") == ("https://s3.test/a?sig=1&expires=100", 100)
    now[0] += 49
    assert links.get("a") == ("https://s3.test/a?sig=1&expires=100", 51)
    now[0] += 2  # less than half the lifetime left: a fresh link
    assert links.url("a") == "https://s3.test/a?sig=2&expires=100"
    links.url("b"), links.url("c")  # the oldest key leaves the cache
    assert links.url("a").startswith("https://s3.test/a?sig=5")


def _check_download(site, path: str, key: str, name: str, content_type: str) -> None:
    r = site.client.get(path)
    assert r.status_code == 302
    query = _assert_presigned(site.archive, r.location, key)
    assert _utf8_name(query["response-content-disposition"][0]) == name
    status, body, headers = _fetch(r.location)
    assert status == 200
    assert body == site.files[name].read_bytes()
    assert headers["Content-Type"] == content_type
    assert _utf8_name(headers["Content-Disposition"]) == name
    # an ASCII fallback for old clients, with the quote and semicolon replaced
    fallback = headers["Content-Disposition"].split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and ";" not in fallback and fallback.endswith(Path(name).suffix)


def test_download_links_live_as_long_as_the_setting_says(archive, inputs):
    assert Settings.from_env({"WEBINAR_ARCHIVE_DOWNLOAD_LINK_SECONDS": "120"}).download_link_seconds == 120
    short = Archive(archive.settings.with_(download_link_seconds=120), archive.catalog, archive.store)
    w = import_webinar(short, ImportRequest(title="Short links", slides=[inputs["deck.pdf"]]))
    r = create_app(short, {"TESTING": True}).test_client().get(
        f"/webinars/{w.id}/slides/{w.decks[0].id}/download")
    assert r.status_code == 302 and parse_qs(urlsplit(r.location).query)["X-Amz-Expires"] == ["120"]


def test_recording_download_is_a_presigned_redirect_with_the_original_name(site):
    rec = site.public.recording
    _check_download(site, f"/webinars/{site.public.id}/recording/download", rec.original_key,
                    RECORDING_NAME, "video/mp4")


@pytest.mark.parametrize("n", range(len(DECK_NAMES)))
def test_slides_download_is_a_presigned_redirect_with_the_original_name(site, n):
    deck = site.public.decks[n]
    assert deck.original_filename == DECK_NAMES[n]
    _check_download(site, f"/webinars/{site.public.id}/slides/{deck.id}/download", deck.original_key,
                    DECK_NAMES[n], "application/pdf")


def test_unknown_and_hidden_webinars_are_not_found(site):
    pub, draft = site.public, site.draft
    paths = [
        "/webinars/nosuchwebinar",
        "/webinars/nosuchwebinar/recording/download",
        f"/webinars/nosuchwebinar/slides/{pub.decks[0].id}/download",
        "/api/webinars/nosuchwebinar",
        f"/webinars/{pub.id}/slides/nosuchdeck/download",
        f"/webinars/{pub.id}/slides/{pub.recording.id}/download",  # not a deck
        f"/webinars/{pub.id}/slides/{draft.decks[0].id}/download",  # another webinar's deck
        f"/webinars/{site.unlisted.id}/recording/download",  # has no recording
    ]
    for hidden in (draft, site.private):
        paths += [
            f"/webinars/{hidden.id}",
            f"/api/webinars/{hidden.id}",
            f"/webinars/{hidden.id}/slides/{hidden.decks[0].id}/download",
        ]
    paths.append(f"/webinars/{draft.id}/recording/download")
    answers = {p: site.client.get(p).status_code for p in paths}
    assert answers == {p: 404 for p in paths}
    # unlisted: reachable by its link, only absent from the index
    assert site.client.get(f"/webinars/{site.unlisted.id}").status_code == 200
    assert site.client.get(f"/api/webinars/{site.unlisted.id}").status_code == 200


def test_api_describes_a_webinar(site):
    w = site.public
    r = site.client.get(f"/api/webinars/{w.id}")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_json() == {
        "id": w.id,
        "title": "Open data in practice",
        "url": f"http://archive.test/webinars/{w.id}",
        "status": "ready",
        "assets": [
            {"id": w.recording.id, "kind": "recording", "file": RECORDING_NAME, "status": "ready"},
            *({"id": d.id, "kind": "slides", "file": d.original_filename, "status": "ready"}
              for d in w.decks),
        ],
    }


def test_a_webinar_being_processed_says_so(site):
    w = site.processing
    r = site.client.get(f"/webinars/{w.id}")
    assert r.status_code == 200
    page = Page(r.get_data(as_text=True))
    assert "The recording is being prepared" in page.text
    assert page.all("meta", **{"http-equiv": "refresh"})  # the page refreshes by itself
    assert page.all("article", **{"data-status": "processing"})
    assert not page.all("video") and not page.all("source")
    status = site.client.get(f"/api/webinars/{w.id}").get_json()
    assert status["status"] == "processing" and "error" not in status
    assert {a["status"] for a in status["assets"]} == {"queued"}


FFMPEG_TAIL = ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c] moov atom not found\n"
               "/srv/webinar-archive/work/job-7/original.mp4: Invalid data found when processing input")


def test_visitors_see_a_plain_sentence_when_processing_failed(archive, worker, client, inputs):
    """Job errors, ffmpeg's message, server paths and the retry command are for staff."""
    w = import_webinar(archive, ImportRequest(title="Broken talk", recording=inputs["h264_aac.mp4"],
                                              slides=[inputs["deck.pdf"]]))
    with archive.catalog.session() as s:
        rec = queries.get(s, w.id).recording
    archive.store.put_bytes(rec.original_key, b"not the recording any more", "video/mp4")
    worker.run_until_idle()
    with archive.catalog.session() as s:
        (job,) = [j for j in queries.jobs_of(s, w.id) if j.state == "failed"]
        job.log_tail = FFMPEG_TAIL  # what a failed ffmpeg run leaves for staff
        s.commit()
        w = queries.get(s, w.id)
        staff = queries.staff_status(s, w, "http://archive.test")
    assert w.status == "failed"
    secrets_ = [job.error, "checksum", "/srv/", "moov atom", "--retry", "original.mp4"]

    r = client.get(f"/webinars/{w.id}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    page = Page(html)
    assert "The recording could not be processed." in page.text
    assert not page.all("pre") and not page.all("details")
    status = client.get(f"/api/webinars/{w.id}").get_json()
    assert status["status"] == "failed"
    assert status["error"] == "Some files of this webinar could not be processed."
    assert [a.get("error") for a in status["assets"]] == ["The recording could not be processed.", None]
    for text in (html, str(status)):
        for secret in secrets_:
            assert secret not in text

    # staff (the CLI) keep every detail
    assert "does not match its checksum" in staff["error"]
    (failed,) = [j for j in staff["jobs"] if j["state"] == "failed"]
    assert failed["log_tail"] == FFMPEG_TAIL
    assert failed["retry"] == f"webinar-archive jobs --retry {job.id}"


def _csp(headers) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in headers["Content-Security-Policy"].split("; ")}


def test_every_response_carries_the_security_headers(site):
    w = site.public
    paths = ["/", f"/webinars/{w.id}", f"/api/webinars/{w.id}", "/api/health", "/webinars/nosuch",
             f"/webinars/{w.id}/recording/download", "/static/player.js",
             f"/webinars/{w.id}/recording/{w.recording.id}/hls/master.m3u8"]
    media = site.archive.settings.s3_public_endpoint
    for path in paths:
        r = site.client.get(path)
        r.close()  # static files are streamed
        assert r.status_code in (200, 302, 404), path
        csp = _csp(r.headers)
        assert csp["script-src"] == ["'self'"]  # no inline script, no eval
        assert "'unsafe-inline'" not in csp["default-src"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert media in csp["media-src"] and media in csp["img-src"] and media in csp["connect-src"]
        assert "blob:" in csp["media-src"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script():
    for template in (Path(__file__).parents[2] / "web" / "templates").glob("*.html"):
        page = Page(template.read_text())
        assert all(s.get("src") for s in page.all("script")), template.name
        assert not any(k.startswith("on") for _, attrs in page.tags for k in attrs), template.name


def test_views_hold_no_sql():
    """Views call archive/ for every read and every visibility check: no module of web/
    imports SQLAlchemy."""
    web_dir = Path(__file__).parents[2] / "web"
    holding = [str(p.relative_to(web_dir)) for p in sorted(web_dir.rglob("*.py"))
               if any(line.lstrip().startswith(("import sqlalchemy", "from sqlalchemy"))
                      for line in p.read_text().splitlines())]
    assert holding == []


def test_an_embeddable_view_may_be_framed(archive):
    from web.security import embeddable

    app = create_app(archive, {"TESTING": True})
    app.add_url_rule("/embed-probe", "embed_probe", embeddable(lambda: "framed"))
    r = app.test_client().get("/embed-probe")
    assert _csp(r.headers)["frame-ancestors"] == ["*"] and "X-Frame-Options" not in r.headers
    assert _csp(app.test_client().get("/").headers)["frame-ancestors"] == ["'none'"]


def test_a_cached_page_still_checks_visibility_on_every_request(archive, worker, client, inputs):
    w = import_webinar(archive, ImportRequest(title="Soon private", slides=[inputs["deck.pdf"]]))
    worker.run_until_idle()
    path = f"/webinars/{w.id}"
    assert client.get(path).status_code == 200  # rendered, and kept for a moment
    with archive.catalog.transaction() as s:
        s.get(Webinar, w.id).visibility = "private"
    assert client.get(path).status_code == 404
    deck = _reload(archive, w.id).decks[0]
    assert client.get(f"{path}/slides/{deck.id}/pages/thumb/1.webp").status_code == 404
