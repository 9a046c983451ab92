"""Staff put a webinar online in the browser (Debian's chromium through Playwright): they
log in, create it with its speakers through the forms, and upload a 200 MB recording and
two decks straight to MinIO by presigned multipart upload; the network is cut mid-upload
and the page is reloaded mid-upload, and each time the upload resumes without sending a
finished part again; the stored object is the file, byte for byte; once published through
the form, a participant's page plays the original at once (direct play)."""
from __future__ import annotations

import hashlib
import math
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from archive import uploads
from archive.models import Asset, Job, Webinar, new_id
from archive.worker import Worker

from .staff import add_speakers_in_page, sign_in_page, staff_app
from .browser import browser_context

pytestmark = pytest.mark.browser

PART = 5 * 1024 * 1024  # S3's smallest part: 41 parts for the 200 MB recording


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="module")
def big_recording(tmp_path_factory) -> Path:
    """About 200 MB of H.264 (4:2:0) + AAC in MP4: 5 s of 720p noise, nearly lossless (~4 s to make)."""
    path = tmp_path_factory.mktemp("big") / "Keynote – recording.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=gray:s=1280x720:r=30,noise=alls=60:allf=t+u", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", "5", "-c:v", "libx264", "-preset", "ultrafast",
                    "-qp", "4", "-pix_fmt", "yuv420p", "-g", "30", "-c:a", "aac", "-b:a", "128k",
                    "-movflags", "+faststart", str(path)], check=True, timeout=120)
    assert path.stat().st_size > 190_000_000
    return path


@pytest.fixture
def app(archive, request):
    return staff_app(archive, UPLOAD_PART_BYTES=PART, UPLOAD_PARALLEL_PARTS=4, **getattr(request, "param", {}))


@pytest.fixture
def webinar_id(archive) -> str:
    wid = new_id()
    with archive.catalog.transaction() as s:
        s.add(Webinar(id=wid, title="Uploaded from the browser", visibility="public"))
    return wid


@pytest.fixture(autouse=True)
def checker(archive):
    """What a worker does first: check each completed upload (and record it, or refuse it).
    Only that: no job runs, so the recording's processing stays queued."""
    stop = threading.Event()
    checks = Worker(archive, "upload-checker")

    def run():
        while not stop.is_set():
            if not checks.run_once(kinds={uploads.CHECK_KIND}):
                stop.wait(0.2)

    thread = threading.Thread(target=run, daemon=True, name="upload-checker")
    thread.start()
    yield
    stop.set()
    thread.join(timeout=60)


@pytest.fixture
def browser(tmp_path):
    with browser_context(tmp_path / "chromium-profile", 1280, 1000) as context:
        yield context


class PartLog:
    """Every part PUT the page sends to S3, and the ones S3 accepted, per (key, part)."""

    def __init__(self, page, s3_endpoint: str):
        self.sent: Counter = Counter()
        self.done: Counter = Counter()
        self.failed: Counter = Counter()  # PUTs that got no answer (the network went away)
        self.etag_visible = True
        self.list_calls = 0
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)
        self.s3 = s3_endpoint

    def _part(self, url: str):
        u = urlparse(url)
        q = parse_qs(u.query)
        if not url.startswith(self.s3) or "partNumber" not in q:
            return None
        return u.path, int(q["partNumber"][0])

    def _request(self, request):
        part = self._part(request.url)
        if request.method == "PUT" and part:
            self.sent[part] += 1
        if request.method == "GET" and request.url.endswith("/parts"):
            self.list_calls += 1

    def _response(self, response):
        part = self._part(response.url)
        if response.request.method == "PUT" and part and response.status == 200:
            self.done[part] += 1

    def _failed(self, request):
        part = self._part(request.url)
        if request.method == "PUT" and part:
            self.failed[part] += 1

    def done_for(self, key_fragment: str) -> Counter:
        return Counter({n: c for (path, n), c in self.done.items() if key_fragment in path})


def _results(page) -> dict[str, str]:
    return {li.get_attribute("data-file"): li.inner_text()
            for li in page.locator("#upload-results li").all()}


# How long the upload may stand still (no part sent or accepted, no upload changing state)
# before a wait gives up: a busy machine makes it slower, not stuck, so no wait has a
# fixed deadline for the whole of it.
STALL_SECONDS = 120


# What the uploader holds, said when a wait gives up: a file without its bytes (a "ghost",
# as after a reload that came before Golden Retriever kept it), its progress, its error.
FILES = """() => window.webinarUploader ? window.webinarUploader.getFiles().map(f => ({
  name: f.name, ghost: !!f.isGhost, uploaded: f.progress.bytesUploaded, error: f.error || null,
  upload: f.s3Multipart ? f.s3Multipart.uploadId : null })) : "no uploader on the page"
"""


def _progress(archive, log: PartLog) -> tuple:
    with archive.catalog.session() as s:
        states = sorted(s.execute(select(uploads.Upload.id, uploads.Upload.state)).all())
    return sum(log.sent.values()), sum(log.done.values()), tuple(states)


def _wait_moving(page, archive, log: PartLog, done: Callable[[], bool], what: str) -> None:
    """Wait until `done()`; fail only once nothing has moved for STALL_SECONDS."""
    last, since = _progress(archive, log), time.monotonic()
    while not done():
        now = _progress(archive, log)
        if now != last:
            last, since = now, time.monotonic()
        assert time.monotonic() - since < STALL_SECONDS, \
            f"{what}: nothing moved for {STALL_SECONDS} s; the page's files: {page.evaluate(FILES)}"
        page.wait_for_timeout(100)


def _wait_for_parts(page, archive, log: PartLog, n: int) -> None:
    _wait_moving(page, archive, log, lambda: sum(log.done.values()) >= n, f"fewer than {n} parts uploaded")


def _wait_for_results(page, archive, log: PartLog, names: list[str]) -> dict[str, str]:
    _wait_moving(page, archive, log, lambda: set(names) <= set(_results(page)),
                 f"no result for all of {names}: {_results(page)}")
    return _results(page)


# Golden Retriever has saved what a reload needs to resume: the file's upload id (in
# localStorage) and, when it keeps files, the file itself (in IndexedDB).
SAVED_FOR_RESUME = """async ([storeName, kept]) => {
  const saved = JSON.parse(localStorage.getItem("uppyState:" + storeName) || "null");
  const files = (saved && saved.metadata && saved.metadata.files) || {};
  const ids = Object.keys(files).filter(id => files[id].s3Multipart && files[id].s3Multipart.uploadId);
  if (!ids.length) return false;
  if (!kept) return true;
  if (!(await indexedDB.databases()).some(d => d.name === "uppy-blobs")) return false;
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open("uppy-blobs");
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  try {
    if (!db.objectStoreNames.contains("files")) return false;
    const keys = await new Promise((ok, fail) => {
      const r = db.transaction("files").objectStore("files").getAllKeys();
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    return ids.every(id => keys.some(k => String(k).endsWith(id)));
  } finally {
    db.close();
  }
}"""


# Installed before a reload, for the page that comes after it: every text the Dashboard's
# status bar shows, and every part PUT that S3 accepted (Uppy sends them by XMLHttpRequest),
# each with the page's clock. The PUTs of the resume's first second go only after that
# second, so that the status bar surely shows something before a part has gone since.
WATCH_STATUS_AND_PARTS = """(() => {
  const statusTexts = window.statusTexts = [], partsDone = window.partsDone = [];
  let last = null, gate = null;
  new MutationObserver(() => {
    const bar = document.querySelector(".uppy-StatusBar");
    const text = bar ? bar.textContent.trim() : null;
    if (text && text !== last) statusTexts.push([performance.now(), text]);
    last = text;
  }).observe(document, { subtree: true, childList: true, characterData: true });
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.partPut = method === "PUT" && /[?&]partNumber=/.test(String(url));
    // Added before Uppy's own handler: the time is taken before Uppy hears of the answer.
    if (this.partPut) this.addEventListener("load", () => {
      if (this.status === 200) partsDone.push(performance.now());
    });
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (this.partPut && gate === null) gate = performance.now() + HOLD_MS;
    const wait = this.partPut ? gate - performance.now() : 0;
    if (wait <= 0) return send.apply(this, arguments);
    setTimeout(() => send.apply(this, arguments), wait);
  };
})();"""

# A time left as Uppy writes it: "0s left", "42s left", "3m 05s left", "1h 02m left".
TIME_LEFT = re.compile(r"\d\s*[hms]\s*left", re.I)


def _the_upload(archive, filename: str):
    with archive.catalog.session() as s:
        return s.query(uploads.Upload).filter_by(filename=filename).one()


def test_staff_put_a_webinar_online_from_the_browser(live_server, archive, minio, big_recording, inputs,
                                                     tmp_path):
    """The whole way, as staff and a participant do it: log in, create the webinar with two
    speakers through the forms, upload a 200 MB recording and two decks (the network is
    cut mid-upload), publish, and a visitor who is not signed in watches it."""
    decks = []
    for name in ("Deck one.pdf", "Deck two.pdf"):
        decks.append(tmp_path / name)
        shutil.copyfile(inputs["deck.pdf"], decks[-1])
    fake = tmp_path / "Not a deck.pdf"
    fake.write_text("hello, I am no PDF\n")

    with browser_context(tmp_path / "staff-profile", 1280, 1000) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log = PartLog(page, minio.endpoint)
        sign_in_page(page, live_server)
        page.get_by_role("link", name="New webinar").click()
        page.get_by_label("Title").fill("Uploaded from the browser")
        page.get_by_label("Time zone").fill("Europe/Berlin")
        page.get_by_role("button", name="Create webinar").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Edit “Uploaded from the browser”")
        webinar_id = page.url.split("/")[-2]
        add_speakers_in_page(page, (("Anna Schmidt", "TU Berlin"), ("Ben Okafor", "Harbour Lab")))

        page.get_by_role("link", name="Upload files").click()
        expect(page).to_have_url(f"{live_server}/staff/webinars/{webinar_id}/upload")
        expect(page.locator(".uppy-Dashboard")).to_be_visible()
        page.locator("input.uppy-Dashboard-input").first.set_input_files([big_recording, *decks, fake])

        _wait_for_parts(page, archive, log, 8)
        browser.set_offline(True)  # the connection drops mid-upload...
        finished_before_cut = set(log.done)
        status = page.locator(".uppy-StatusBar-status")
        expect(status).to_contain_text("Waiting for the network")  # and no time left, which nobody knows
        expect(status).not_to_contain_text(re.compile(r"\ds left"))
        page.wait_for_function("() => !navigator.onLine")
        _wait_moving(page, archive, log, lambda: sum(log.failed.values()) > 0, "no part cut off")
        assert sum(log.done.values()) < 41, "the upload ended before the cut"
        browser.set_offline(False)  # ...and comes back
        expect(status).to_contain_text("Uploading")

        results = _wait_for_results(page, archive, log, [big_recording.name, *[d.name for d in decks], fake.name])
        assert "received" in results[big_recording.name]
        assert all("received" in results[d.name] for d in decks)
        assert results[fake.name] == "slides Not a deck.pdf: not a PDF, PPTX or ODP file"
        # A refusal is final: the Dashboard offers no Retry for it (nor for anything else).
        expect(page.locator(".uppy-Dashboard-Item", has_text="Not a deck.pdf")).to_have_count(0)
        expect(page.locator(".uppy-StatusBar-actionBtn--retry, .uppy-Dashboard-Item-progressIcon--retry")) \
            .to_have_count(0)

        rec = _the_upload(archive, big_recording.name)
        parts = math.ceil(big_recording.stat().st_size / PART)
        done = log.done_for(rec.id)
        # Every part was accepted exactly once: what had finished before the cut was not resent.
        assert sorted(done) == list(range(1, parts + 1))
        assert set(done.values()) == {1}, done
        assert all(log.sent[p] == 1 for p in finished_before_cut), log.sent
        assert max(log.sent.values()) > 1  # the cut did interrupt parts in flight; they were sent again
        assert archive.store.head(rec.key)["size"] == big_recording.stat().st_size
        stored = tmp_path / "stored.mp4"
        archive.store.download_file(rec.key, stored)
        assert _sha256(stored) == _sha256(big_recording)
        with archive.catalog.session() as s:
            asset = s.get(Asset, rec.id)
            assert asset.sha256 == _sha256(big_recording)
            assert asset.info["direct_play"] is True
            assert s.query(Job).filter_by(asset_id=rec.id).one().state == "queued"  # checked, not processed
            assert sorted(a.original_filename for a in s.query(Asset).filter_by(webinar_id=webinar_id,
                                                                               kind="slides")) \
                == ["Deck one.pdf", "Deck two.pdf"]
        refused = _the_upload(archive, fake.name)
        assert refused.state == "refused" and archive.store.head(refused.key) is None
        assert archive.store.list_multipart_uploads() == []
        page.screenshot(path=tmp_path / "upload.png", full_page=True)

        # Still a draft: a visitor cannot open it yet. Published through the form.
        assert urlopen_status(f"{live_server}/webinars/{webinar_id}") == 404
        page.goto(f"{live_server}/staff/webinars/{webinar_id}")
        page.get_by_role("link", name="Edit", exact=True).click()
        page.get_by_role("button", name="Publish").click()
        expect(page.locator(".flash.ok")).to_contain_text("Published")
        expect(page.get_by_role("button", name="Unpublish")).to_be_visible()
        assert errors == []

    # A participant, not signed in, in a browser of their own: the original plays at once.
    with browser_context(tmp_path / "participant-profile", 1280, 1000) as visitor:
        page = visitor.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{live_server}/webinars/{webinar_id}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Uploaded from the browser")
        video = page.locator("video#player")
        expect(video).to_be_visible()
        video.evaluate("v => { v.muted = true; v.play(); }")
        page.wait_for_function("() => document.querySelector('#player').currentTime > 1", timeout=30_000)
        assert video.evaluate("v => v.videoWidth") == 1280
        assert errors == []


def urlopen_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


KEPT_IN_BROWSER = {}
TOO_LARGE_TO_KEEP = {"UPLOAD_RESUME_STORE_BYTES": 100 * 1024 * 1024}


@pytest.mark.parametrize("app", [KEPT_IN_BROWSER, TOO_LARGE_TO_KEEP], indirect=True, ids=["kept", "chosen-again"])
def test_upload_resumes_after_a_reload(live_server, archive, minio, webinar_id, browser, big_recording, tmp_path,
                                       app):
    page = browser.new_page()
    log = PartLog(page, minio.endpoint)
    sign_in_page(page, live_server)
    page.goto(f"{live_server}/staff/webinars/{webinar_id}/upload")
    page.locator("input.uppy-Dashboard-input").first.set_input_files([big_recording])
    _wait_for_parts(page, archive, log, 6)
    kept = not app.config.get("UPLOAD_RESUME_STORE_BYTES")
    page.wait_for_function(SAVED_FOR_RESUME, arg=[f"webinar-upload-{webinar_id}", kept],
                           timeout=STALL_SECONDS * 1000, polling=100)
    finished_before_reload = set(log.done)
    assert len(finished_before_reload) < 41
    if kept:
        page.add_init_script(WATCH_STATUS_AND_PARTS.replace("HOLD_MS", "1000"))
    page.reload()
    if not kept:
        # Too large to keep in the browser: the page shows the file without its bytes and
        # sends nothing, then asks for it again, and resumes.
        page.wait_for_function("() => { const u = window.webinarUploader, f = u && u.getFiles();"
                               " return f && f.length === 1 && f[0].isGhost; }", timeout=STALL_SECONDS * 1000)
        assert _results(page) == {}
        page.locator(".uppy-DashboardContent-addMore").click()  # "Add more", then choose it again
        page.locator("input.uppy-Dashboard-input").first.set_input_files([big_recording])
    _wait_for_results(page, archive, log, [big_recording.name])
    assert "received" in _results(page)[big_recording.name]
    if kept:
        # Resumed by itself: no time left is shown until a part has gone since the reload
        # (Uppy would count it from the first start: "0s left" for a long while).
        texts, parts_done = page.evaluate("() => [window.statusTexts, window.partsDone]")
        assert parts_done
        before_a_part = [text for t, text in texts if t < min(parts_done)]
        assert any("Uploading" in text for text in before_a_part), texts
        assert not [text for text in before_a_part if TIME_LEFT.search(text)], texts
        # Later, the time left is the resumed upload's own: never "0s left" with most of it to go
        # (Uppy's estimate said so for the rest of the upload, the parts S3 had counting as sent).
        later = [text for t, text in texts if t >= min(parts_done)]
        if max(parts_done) - min(parts_done) > 3000:  # parts went long enough for a speed (1.5 s)
            assert any(TIME_LEFT.search(text) for text in later), texts  # a time left is shown again
        sent = [(float(m.group(1)), float(m.group(2)), text) for text in later
                if (m := re.search(r"([\d.]+) MB of ([\d.]+) MB", text))]
        early = [text for done, total, text in sent if done < 0.6 * total]  # 40% or more to go
        assert not [text for text in early if re.search(r"\b0\s*s\s*left", text)], texts

    rec = _the_upload(archive, big_recording.name)
    assert rec.state == "done"
    assert log.list_calls >= 1  # the resumed upload asked S3 which parts it had
    done = log.done_for(rec.id)
    assert set(done.values()) == {1}, done  # no part accepted twice
    assert all(log.sent[p] == 1 for p in finished_before_reload), log.sent  # none finished was resent
    # Part PUTs counted over the whole upload: one per part, and again at most the 4 that
    # were in flight when the page went away.
    parts = math.ceil(big_recording.stat().st_size / PART)
    assert sum(n for (path, _), n in log.sent.items() if rec.id in path) <= parts + 4, log.sent
    # At most the 4 parts in flight at the reload may have landed unseen by the page (ListParts
    # then had them); every other part was seen accepted, once.
    assert len(done) >= parts - 4
    stored = tmp_path / "stored.mp4"
    archive.store.download_file(rec.key, stored)
    assert _sha256(stored) == _sha256(big_recording)
