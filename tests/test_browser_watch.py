"""The watch page in a viewer's browser (Debian's chromium through Playwright): HLS through
hls.js (forced: this chromium also plays HLS natively), quality and caption choices, deep
links, the slide viewer, the transcript, presigned links renewed while playing (and after a
pause longer than they live), and every
control within a 360 px wide screen, in English, German and French. Screenshots go to
/tmp/shots-watch/ and, for the languages, /tmp/shots-player/."""
from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from archive import queries
from archive.context import Archive
from archive.importer import ImportRequest, PresentationInput, import_webinar
from archive.pdfgen import write_deck
from archive.states import AssetStatus
from archive.worker import Worker
from web import create_app

from .conftest import make_settings
from .services import free_port

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-watch")
LANGUAGE_SHOTS = Path("/tmp/shots-player")
SLIDE_TIMES = [5.0, 20.0, 40.0]  # the long deck's first three pages; the others have no known time
SECONDS = 120
CUE_SECONDS = 10


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True, timeout=300)


def _captions(path: Path, lang: str, word: str) -> Path:
    lines = ["WEBVTT", ""]
    for n in range(SECONDS // CUE_SECONDS):
        a, b = n * CUE_SECONDS, (n + 1) * CUE_SECONDS
        lines += [f"00:{a // 60:02d}:{a % 60:02d}.000 --> 00:{b // 60:02d}:{b % 60:02d}.000",
                  f"{word} {n + 1} of the talk", ""]
    path.write_text("\n".join(lines))
    return path


@dataclasses.dataclass
class Watch:
    archive: Archive
    url: str
    video: object  # Webinar: 540p, two decks (the long one a talk with slide times), captions in two languages
    audio: object  # Webinar: audio only, with captions


def _serve(app):
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def watch(minio, inputs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("watch")
    archive = Archive.from_settings(make_settings(minio, tmp))
    archive.setup()
    talk = tmp / "talk.mp4"
    # 540p: the ladder has two rungs (360p, 540p) to choose between.
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=960x540:rate=10:duration={SECONDS}",
            "-f", "lavfi", "-i", f"sine=f=440:d={SECONDS}", "-c:v", "libx264", "-preset", "ultrafast",
            "-g", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(talk))
    long_deck = write_deck(tmp / "long deck.pdf", "Long deck",
                           [(f"Slide {n}", [f"Point {n}.1", f"Point {n}.2"]) for n in range(1, 13)])
    video = import_webinar(archive, ImportRequest(
        title="Open data in practice", held_on=dt.date(2021, 6, 7), recording=talk,
        slides=[inputs["deck.pdf"]],
        presentations=[PresentationInput(title="The long talk", slides=long_deck, start=SLIDE_TIMES[0],
                                         slide_times=SLIDE_TIMES)],
        captions=[("en", _captions(tmp / "en.vtt", "en", "Cue")), ("de", _captions(tmp / "de.vtt", "de", "Satz"))],
        description="A generated 540p talk with two decks and captions in two languages."))
    audio = import_webinar(archive, ImportRequest(
        title="A podcast episode", held_on=dt.date(2021, 6, 8), recording=inputs["audio.m4a"],
        captions=[("en", _captions(tmp / "audio-en.vtt", "en", "Said"))]))
    Worker(archive, name="watch-worker").run_until_idle()
    with archive.catalog.session() as s:
        video, audio = queries.get(s, video.id), queries.get(s, audio.id)
    assert video.status == audio.status == AssetStatus.READY, video.errors + audio.errors
    assert set(video.recording.outputs["renditions"]) >= {"360p", "540p"}
    server, thread, url = _serve(create_app(archive, {"TESTING": True}))
    yield Watch(archive, url, video, audio)
    server.shutdown()
    thread.join(timeout=10)
    archive.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def _start(page, url: str) -> None:
    page.goto(url)
    page.locator("#player").evaluate("m => { m.muted = true; }")


def _wait_time(page, at_least: float, timeout: float = 30_000) -> None:
    page.wait_for_function(f"() => document.querySelector('#player').currentTime >= {at_least}", timeout=timeout)


def _open_setting(page, name: str):
    page.locator("media-settings-menu-button").click()
    menu = page.locator("media-settings-menu")
    expect(menu).to_be_visible()
    menu.locator("media-settings-menu-item", has_text=name).click()


def test_hls_js_plays_and_switches_quality_and_captions(watch, page):
    _start(page, f"{watch.url}/webinars/{watch.video.id}?engine=hlsjs")
    video = page.locator("video#player")
    page.wait_for_function("() => window.webinarHls && window.webinarHls.levels.length === 2", timeout=20_000)
    assert video.evaluate("v => v.dataset.engine") == "hls.js"
    page.locator("media-play-button").click()
    _wait_time(page, 1.0)
    assert video.evaluate("v => v.currentSrc").startswith("blob:")  # MediaSource, not native HLS

    heights = page.evaluate("() => window.webinarHls.levels.map(l => l.height)")
    assert sorted(heights) == [360, 540]
    _open_setting(page, "Quality")
    page.locator("#quality-menu media-chrome-menu-item", has_text="360p").click()
    level360 = heights.index(360)
    page.wait_for_function(f"() => window.webinarHls.currentLevel === {level360}"
                           f" && document.querySelector('#player').dataset.level === '{level360}'", timeout=20_000)
    assert video.evaluate("v => v.dataset.quality") == "360p"
    assert not page.evaluate("() => window.webinarHls.autoLevelEnabled")

    # captions: English by default, German chosen in the menu
    modes = "() => Object.fromEntries([...document.querySelector('#player').textTracks]" \
            ".filter(t => t.kind === 'captions').map(t => [t.language, t.mode]))"
    page.wait_for_function(f"() => ({modes})().en === 'showing'")
    page.keyboard.press("Escape")
    # paused, the controls stay up: while playing they hide after a while, menus with them
    video.evaluate("v => v.pause()")
    _open_setting(page, "Captions")
    page.locator("media-captions-menu media-chrome-menu-item", has_text="German").click()
    page.wait_for_function(f"() => ({modes})().de === 'showing' && ({modes})().en !== 'showing'")
    _shot(page, "video-1280")


def test_deep_links_start_there_and_copy_link_gives_one(watch, page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    for query, at in (("?engine=hlsjs&t=20", 20), ("?engine=hlsjs&t=0m35s", 35), ("?engine=mp4#t=0:42", 42)):
        _start(page, f"{watch.url}/webinars/{watch.video.id}{query}")
        page.wait_for_function(f"() => Math.abs(document.querySelector('#player').currentTime - {at}) < 1",
                               timeout=20_000)
    page.locator("#copy-link").click()
    expect(page.locator("#copy-link-status")).to_contain_text("copied")
    link = page.evaluate("() => navigator.clipboard.readText()")
    assert link == f"{watch.url}/webinars/{watch.video.id}?t=42"
    # the link opens the page at that time
    _start(page, link + "&engine=hlsjs")
    page.wait_for_function("() => Math.abs(document.querySelector('#player').currentTime - 42) < 1", timeout=20_000)
    # media-chrome's keyboard shortcuts, once the player has focus: k plays and pauses, → seeks
    page.locator("#watch").focus()
    page.keyboard.press("k")
    page.wait_for_function("() => !document.querySelector('#player').paused", timeout=20_000)
    # media-chrome toggles by its own state, which follows the element's events: wait for it
    page.wait_for_function("() => !document.querySelector('#watch').hasAttribute('mediapaused')", timeout=20_000)
    page.keyboard.press("k")
    page.wait_for_function("() => document.querySelector('#player').paused")
    before = page.locator("#player").evaluate("v => v.currentTime")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('#player').currentTime >= {before + 4}", timeout=20_000)


def _long_deck(watch):
    return next(d for d in watch.video.decks if d.original_filename == "long deck.pdf")


def test_slide_viewer_pages_by_button_key_swipe_strip_and_link(watch, page):
    deck = _long_deck(watch)
    page.goto(f"{watch.url}/webinars/{watch.video.id}")
    viewer = page.locator(f"#deck-{deck.id}")
    large = viewer.locator("img.page")

    def at(n: int) -> None:
        expect(viewer).to_have_attribute("data-page", str(n))
        expect(large).to_have_attribute("src", f"/webinars/{watch.video.id}/slides/{deck.id}/pages/large/{n}.webp")
        expect(viewer.locator(".counter .current")).to_have_text(str(n))
        page.wait_for_function("img => img.complete && img.naturalWidth === 1600", arg=large.element_handle(),
                               timeout=20_000)

    at(1)
    expect(viewer.get_by_role("button", name="Previous slide")).to_be_disabled()
    viewer.get_by_role("button", name="Next slide").click()
    at(2)
    viewer.focus()
    page.keyboard.press("ArrowRight")
    at(3)
    page.keyboard.press("ArrowLeft")
    at(2)
    viewer.locator(".strip button[data-page='7']").click()
    at(7)
    expect(viewer.locator(".strip button[aria-current]")).to_have_attribute("data-page", "7")
    box = large.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * .8, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * .2, y, steps=5)
    page.mouse.up()
    at(8)  # swiped left: the next page
    page.keyboard.press("End")
    at(12)
    expect(viewer.get_by_role("button", name="Next slide")).to_be_disabled()
    # thumbnails: lazy, and each one decodes when scrolled into view
    thumbs = viewer.locator(".strip img")
    expect(thumbs).to_have_count(12)
    assert set(thumbs.evaluate_all("imgs => imgs.map(i => i.loading)")) == {"lazy"}
    page.wait_for_function("imgs => imgs.every(i => i.complete && i.naturalWidth === 320)",
                           arg=thumbs.element_handles(), timeout=20_000)

    page.goto(f"{watch.url}/webinars/{watch.video.id}?slide={deck.id}:5")
    at(5)
    page.wait_for_function("el => { const r = el.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; }",
                           arg=viewer.element_handle())
    _shot(page, "slides-deep-link-1280")


def _cue_seeks_and_filter_finds(page, number: int, current: str, query: str, found_at: str) -> None:
    """A click on cue `number` seeks to its start and marks it current; the filter then keeps
    the one cue matching `query` (shown at `found_at`), and is emptied again."""
    start = (number - 1) * CUE_SECONDS
    page.locator("#transcript-cues li").nth(number - 1).get_by_role("button").click()
    page.wait_for_function("s => { const t = document.querySelector('#player').currentTime; return t >= s && t < s + 4; }",
                           arg=start, timeout=20_000)
    expect(page.locator("#transcript-cues li.current")).to_contain_text(current)
    page.locator("#transcript-filter").fill(query)
    expect(page.locator("#transcript-cues li:visible")).to_have_count(1)
    expect(page.locator("#transcript-cues li:visible")).to_contain_text(found_at)
    page.locator("#transcript-filter").fill("")


def test_transcript_follows_seeks_and_filters(watch, page):
    _start(page, f"{watch.url}/webinars/{watch.video.id}?engine=hlsjs")
    cues = page.locator("#transcript-cues li")
    expect(cues).to_have_count(SECONDS // CUE_SECONDS)
    expect(cues.nth(0)).to_contain_text("0:00")
    _cue_seeks_and_filter_finds(page, 7, "Cue 7 of the talk", "cue 11", "1:40")
    expect(page.locator("#transcript-cues li:visible")).to_have_count(SECONDS // CUE_SECONDS)
    page.locator("#transcript-lang").select_option(label="German")
    expect(cues.nth(0)).to_contain_text("Satz 1 of the talk")


def test_transcript_keeps_the_current_cue_in_view_while_playing(watch, page):
    """Played past the cues the panel shows at first, the current cue is scrolled into the
    panel (the page itself does not move)."""
    _start(page, f"{watch.url}/webinars/{watch.video.id}?engine=hlsjs&t=60")
    cues = page.locator("#transcript-cues")
    expect(cues).to_have_attribute("data-state", "ready")
    page.wait_for_function("() => document.querySelector('#player').readyState >= 1", timeout=20_000)
    shown = cues.evaluate("l => Math.floor(l.clientHeight / l.querySelector('li').offsetHeight)")
    assert shown < 9  # cues from 1:30 on are below what the panel shows unscrolled
    page.locator("#player").evaluate("m => { m.playbackRate = 16; m.play(); }")
    _wait_time(page, 95)
    page.locator("#player").evaluate("m => m.pause()")
    page.wait_for_function(f"""() => {{
        const current = document.querySelector('#transcript-cues li.current');
        return current && [...current.parentNode.children].indexOf(current) >= {shown};
    }}""", timeout=10_000)  # a cue the panel did not show unscrolled
    page.wait_for_function("""() => {
        const list = document.querySelector('#transcript-cues').getBoundingClientRect();
        const cue = document.querySelector('#transcript-cues li.current').getBoundingClientRect();
        return cue.top >= list.top - 1 && cue.bottom <= list.bottom + 1;
    }""", timeout=10_000)
    assert cues.evaluate("l => l.scrollTop") > 0


def _rows_of_colour(png: bytes, rgb: tuple[int, int, int]) -> list[int]:
    """The pixel rows of a screenshot where at least 20 pixels have exactly (±3) this colour."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    data = image.load()
    return [y for y in range(height)
            if sum(1 for x in range(0, width, 2) if all(abs(a - b) <= 3 for a, b in zip(data[x, y], rgb))) >= 10]


CUE_COLOUR = (40, 200, 120)  # in none of the test pattern's colours, nor their blends


def test_captions_are_lifted_above_the_control_bar_while_it_shows(watch, page):
    """The cue box (painted a colour no frame has, so the screenshot shows where the browser
    drew it) ends above the control bars while they show, and goes down when they hide."""
    _start(page, f"{watch.url}/webinars/{watch.video.id}?engine=hlsjs&t=15")
    page.add_style_tag(content="video::cue { background: rgb(40 200 120); color: rgb(40 200 120); }")
    page.wait_for_function("() => [...document.querySelector('#player').textTracks]"
                           ".some(t => t.mode === 'showing' && t.activeCues && t.activeCues.length)", timeout=20_000)
    player = page.locator("#watch")
    expect(player).to_have_attribute("mediapaused", "")  # paused: the controls show
    page.wait_for_timeout(300)
    box = player.bounding_box()
    bar = page.locator("#watch media-control-bar.timeline").bounding_box()
    shot = page.screenshot(clip=box)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "captions-above-controls-1280.png").write_bytes(shot)
    rows = _rows_of_colour(shot, CUE_COLOUR)
    assert rows, "no caption drawn"
    assert max(rows) <= bar["y"] - box["y"], (max(rows), bar["y"] - box["y"])
    # Playing, the viewer inactive: the controls hide and the cue goes back to the bottom.
    page.locator("#player").evaluate("m => m.play()")
    expect(player).not_to_have_attribute("mediapaused", "")
    player.evaluate("c => c.setAttribute('userinactive', '')")
    lowered: list[int] = []
    for _ in range(20):  # the browser redraws the moved cue with a coming frame
        page.wait_for_timeout(250)
        lowered = _rows_of_colour(page.screenshot(clip=box), CUE_COLOUR)
        if lowered and max(lowered) > bar["y"] - box["y"]:
            break
    assert lowered and max(lowered) > bar["y"] - box["y"], (lowered[-1:], bar["y"] - box["y"])
    # a phone's width, paused, for a look
    page.locator("#player").evaluate("m => m.pause()")
    page.set_viewport_size({"width": 360, "height": 800})
    page.wait_for_timeout(300)
    page.screenshot(path=SHOTS / "captions-above-controls-360.png", full_page=True)


def test_the_embed_fills_a_640x360_frame_with_the_title_over_the_player(watch, page):
    page.set_viewport_size({"width": 640, "height": 360})
    page.goto(f"{watch.url}/embed/{watch.video.id}")
    page.wait_for_function("() => customElements.get('media-controller')")
    player = page.locator("#watch").bounding_box()
    assert (player["x"], player["y"], player["width"], player["height"]) == (0, 0, 640, 360), player
    title = page.locator(".embed-title")
    expect(title).to_be_visible()
    expect(title.get_by_role("link")).to_have_text("Open data in practice")
    t = title.bounding_box()
    assert t["y"] >= 0 and t["y"] + t["height"] <= 360 / 3, t  # over the player's top
    assert page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]") == [640, 360]
    bar = page.locator("#watch media-control-bar.buttons").bounding_box()
    assert bar["y"] + bar["height"] <= 360.5
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "embed-640x360.png")
    page.set_viewport_size({"width": 360, "height": 203})
    page.screenshot(path=SHOTS / "embed-360x203.png")


def test_transcript_follows_the_captions_chosen_in_the_player(watch, page):
    _start(page, f"{watch.url}/webinars/{watch.video.id}?engine=hlsjs")
    cues = page.locator("#transcript-cues li")
    expect(cues.nth(0)).to_contain_text("Cue 1 of the talk")
    tracks = "() => [...document.querySelector('#player').textTracks].map(t => [t.kind, t.language, t.mode])"

    def captions_showing(lang: str) -> None:
        for _ in range(100):
            shown = [t[1] for t in page.evaluate(tracks) if t[0] == "captions" and t[2] == "showing"]
            if shown == [lang]:
                return
            page.wait_for_timeout(200)
        raise AssertionError(page.evaluate(tracks))

    captions_showing("en")
    _open_setting(page, "Captions")
    page.locator("media-captions-menu media-chrome-menu-item", has_text="German").click()
    expect(cues.nth(0)).to_contain_text("Satz 1 of the talk")
    expect(cues).to_have_count(SECONDS // CUE_SECONDS)
    expect(page.locator("#transcript-cues")).to_have_attribute("data-lang", "de")
    assert page.locator("#transcript-lang option:checked").inner_text() == "German"
    # in German: it follows playback, a click seeks, the search finds German words
    _cue_seeks_and_filter_finds(page, 4, "Satz 4 of the talk", "satz 9", "1:20")
    # the panel's own list turns the player's captions too
    page.keyboard.press("Escape")
    page.locator("#transcript-lang").select_option(label="English")
    expect(cues.nth(0)).to_contain_text("Cue 1 of the talk")
    captions_showing("en")


def test_a_slide_page_with_a_known_time_seeks_there(watch, page):
    deck = _long_deck(watch)
    _start(page, f"{watch.url}/webinars/{watch.video.id}?engine=hlsjs")
    viewer = page.locator(f"#deck-{deck.id}")
    large = viewer.locator("img.page")
    media = page.locator("#player")
    page.wait_for_function("() => document.querySelector('#player').readyState >= 1", timeout=20_000)

    def near(t: float) -> None:
        page.wait_for_function(f"() => Math.abs(document.querySelector('#player').currentTime - {t}) < 1.5",
                               timeout=20_000)

    viewer.locator(".strip button[data-page='3']").click()
    expect(viewer).to_have_attribute("data-page", "3")
    expect(large).to_have_class("page seekable")
    large.click()
    near(SLIDE_TIMES[2])
    # the "play from" button of page 2, and page 1 at its presentation's start
    viewer.locator(".strip button[data-page='2']").click()
    expect(viewer.locator("button.page-seek")).to_have_text("Play from 0:20")
    viewer.locator("button.page-seek").click()
    near(SLIDE_TIMES[1])
    viewer.locator(".strip button[data-page='1']").click()
    large.click()
    near(SLIDE_TIMES[0])
    # a page without a known time is only shown large
    media.evaluate("m => { m.pause(); m.currentTime = 60; }")
    near(60)
    viewer.locator(".strip button[data-page='6']").click()
    expect(viewer).to_have_attribute("data-page", "6")
    expect(large).not_to_have_class("page seekable")
    expect(viewer.locator("button.page-seek")).to_be_hidden()
    large.click()
    page.wait_for_timeout(500)
    assert abs(media.evaluate("m => m.currentTime") - 60) < 0.5
    assert viewer.locator(".strip button[data-page='3']").get_attribute("aria-label") == "Slide 3, at 0:40"
    assert viewer.locator(".strip button[data-page='6']").get_attribute("aria-label") == "Slide 6"


@contextmanager
def _links_living(watch, seconds: int) -> Iterator[str]:
    """The same archive served with presigned playback links that live `seconds`."""
    settings = dataclasses.replace(watch.archive.settings, presign_seconds=seconds)
    archive = Archive.from_settings(settings)
    server, thread, url = _serve(create_app(archive, {"TESTING": True}))
    yield url
    server.shutdown()
    thread.join(timeout=10)
    archive.close()


@pytest.fixture
def short_links(watch):
    """The same archive served with presigned links that live three seconds."""
    with _links_living(watch, 3) as url:
        yield url


# Records, in the page, what a viewer would notice: errors, and each time the player
# waited for data after it had started playing (how long, in ms).
WATCH_PLAYBACK = """m => {
    window.seen = {errors: [], waits: [], since: null, started: null, startedAt: 0, furthest: 0};
    const seen = window.seen;
    m.addEventListener("error", () => seen.errors.push("media error " + (m.error && m.error.code)));
    if (window.webinarHls) window.webinarHls.on("hlsError", (_e, d) => {
        if (d.type === "networkError" || d.fatal) seen.errors.push(d.details);
    });
    m.addEventListener("waiting", () => { if (seen.started !== null) seen.since = performance.now(); });
    m.addEventListener("timeupdate", () => { seen.furthest = Math.max(seen.furthest, m.currentTime); });
    m.addEventListener("playing", () => {
        if (seen.started === null) { seen.started = performance.now(); seen.startedAt = m.currentTime; }
        if (seen.since !== null) seen.waits.push(performance.now() - seen.since);
        seen.since = null;
    });
}"""


# hls.js renews each link before it fetches with it: no stall at all. The MP4's src is
# swapped for a fresh one, which reloads it: a short wait each time, no error.
@pytest.mark.parametrize("engine, rate, longest_wait_ms, share", [("hlsjs", 1, 1500, 0.9), ("mp4", 1.5, 3000, 0.75)])
def test_playback_renews_its_links_and_plays_past_several_expiries(watch, page, engine, rate, longest_wait_ms, share):
    lifetime = 20
    with _links_living(watch, lifetime) as url:
        _start(page, f"{url}/webinars/{watch.video.id}?engine={engine}")
        media = page.locator("#player")
        media.evaluate(WATCH_PLAYBACK)
        media.evaluate(f"m => {{ m.playbackRate = {rate}; m.play(); }}")
        # Three lifetimes and a bit of wall time after playback started.
        page.wait_for_function(f"""() => window.seen.started !== null
            && performance.now() - window.seen.started > {3 * lifetime + 2} * 1000""", timeout=120_000)
        seen = page.evaluate("""() => ({errors: window.seen.errors, waits: window.seen.waits,
            waiting: window.seen.since === null ? 0 : performance.now() - window.seen.since,
            advanced: window.seen.furthest - window.seen.startedAt})""")
        data = media.evaluate("m => ({...m.dataset})")
        # the timeline's thumbnails were renewed too: their first sheet still loads
        sheet = media.evaluate("""m => [...m.textTracks].find(t => t.label === "thumbnails").cues[0].text""")
        with urllib.request.urlopen(sheet.split("#")[0]) as r:
            assert r.status == 200
    assert seen["errors"] == []
    assert max(seen["waits"] + [seen["waiting"]]) < longest_wait_ms, seen["waits"]
    assert seen["advanced"] >= share * rate * (3 * lifetime + 2), seen  # it kept playing at its rate
    assert data["engine"] == ("hls.js" if engine == "hlsjs" else "mp4")
    assert "recoveries" not in data  # renewed before they expired: nothing had to be recovered
    assert int(data.get("renewals", "0")) >= 3


def test_playback_resumes_after_the_links_expired(watch, short_links, page):
    _start(page, f"{short_links}/webinars/{watch.video.id}?engine=hlsjs")
    video = page.locator("video#player")
    video.evaluate("v => v.play()")
    _wait_time(page, 1.0)
    video.evaluate("v => v.pause()")
    buffered = video.evaluate("v => v.buffered.end(v.buffered.length - 1)")
    assert buffered < 90  # what follows must be fetched with links signed before the pause
    page.wait_for_timeout(4500)  # the viewer pauses longer than the links live
    video.evaluate("v => { v.currentTime = 100; v.play().catch(() => {}); }")  # a reload may interrupt play()
    _wait_time(page, 102.0, timeout=40_000)
    assert int(video.evaluate("v => v.dataset.renewals || '0'")) >= 2  # the playlist fetched afresh
    assert video.evaluate("v => v.dataset.engine") == "hls.js"
    assert not video.evaluate("v => v.paused")

    # The MP4 and the audio-only player ask the app again too (their src is an app route).
    for webinar, at in ((watch.video, 50), (watch.audio, 2)):
        _start(page, f"{short_links}/webinars/{webinar.id}?engine=mp4")
        media = page.locator("#player")
        media.evaluate("m => m.play()")
        _wait_time(page, 0.5)
        media.evaluate("m => m.pause()")
        page.wait_for_timeout(4500)
        media.evaluate(f"m => {{ m.currentTime = {at}; m.play().catch(() => {{}}); }}")
        _wait_time(page, at + 1, timeout=30_000)
        assert media.evaluate("m => m.error") is None


CONTROLS = ("media-play-button", "media-mute-button", "media-time-display",
            "media-settings-menu-button", "media-fullscreen-button", "media-time-range")


def _within(page, selector: str, width: int) -> None:
    for el in page.locator(selector).all():
        expect(el).to_be_visible()
        box = el.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, box)


@pytest.mark.parametrize("width", [1280, 360])
def test_every_control_is_within_the_screen(watch, page, width):
    page.set_viewport_size({"width": width, "height": 800 if width == 360 else 1000})
    for name, webinar, controls in (
            ("video", watch.video, CONTROLS),
            ("audio", watch.audio, tuple(c for c in CONTROLS if c != "media-fullscreen-button"))):
        _start(page, f"{watch.url}/webinars/{webinar.id}")
        page.wait_for_function("() => customElements.get('media-controller')")
        _shot(page, f"{name}-{width}")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        for selector in controls:
            _within(page, f"#watch {selector}", width)
        _within(page, "#copy-link", width)
        # the settings menu opens inside the screen, every entry in reach
        page.locator("media-settings-menu-button").click()
        _within(page, "media-settings-menu", width)
        _within(page, "media-settings-menu media-settings-menu-item:not([hidden])", width)
        page.keyboard.press("Escape")
        if webinar.decks:
            _within(page, ".slides-viewer .stage button", width)
    page.goto(f"{watch.url}/")
    _shot(page, f"index-{width}")


SPOKEN = {"de": {"label": "Wiedergabezeit 1:05 / 2:00", "times": "1 Minute, 5 Sekunden von 2 Minuten"},
          "fr": {"label": "Temps de lecture 1:05 / 2:00", "times": "1 minute 5 secondes sur 2 minutes"}}


@pytest.mark.parametrize("lang,words", [("de", ("Tempo", "Untertitel", "Folie", "Abspielen", "Einstellungen")),
                                        ("fr", ("Vitesse", "Sous-titres", "Diapositive", "Lecture", "Paramètres"))])
def test_the_watch_page_in_german_and_french_fits_the_screen(watch, page, lang, words):
    """Longer words must not push the controls off a 360 px screen; screenshots for a look."""
    LANGUAGE_SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 800 if width == 360 else 1000})
        _start(page, f"{watch.url}/webinars/{watch.video.id}?lang={lang}")
        page.wait_for_function("() => customElements.get('media-controller')")
        page.wait_for_function("() => document.querySelector('#transcript-cues').dataset.state === 'ready'")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        # media-chrome's own labels, in the page's language
        expect(page.locator("#watch media-play-button")).to_have_attribute("aria-label", words[3])
        expect(page.locator("#watch media-settings-menu-button")).to_have_attribute("aria-label", words[4])
        # ... and its spoken times: the time display's name holds the time it shows
        page.locator("#player").evaluate("m => { m.currentTime = 65; }")
        display = page.locator("#watch media-time-display")
        expect(display).to_have_attribute("aria-label", SPOKEN[lang]["label"])
        expect(display).to_have_attribute("aria-description", SPOKEN[lang]["times"])
        seek = page.locator("#watch media-time-range")
        page.wait_for_function("([el, said]) => el.shadowRoot.querySelector('[role=slider], input')"
                               ".getAttribute('aria-valuetext') === said", arg=[seek.element_handle(), SPOKEN[lang]["times"]])
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        for selector in CONTROLS:
            _within(page, f"#watch {selector}", width)
        for selector in ("#copy-link", ".slides-viewer .stage button", ".slides-viewer .counter",
                         "#transcript-filter", ".downloads a.download"):
            _within(page, selector, width)
        page.screenshot(path=LANGUAGE_SHOTS / f"watch-{lang}-{width}.png", full_page=True)
        if width > 360:  # a tooltip, where a pointer hovers
            page.locator("#watch media-settings-menu-button").hover()
            page.screenshot(path=LANGUAGE_SHOTS / f"watch-{lang}-{width}-tooltip.png",
                            clip=page.locator("#watch").bounding_box())
        page.locator("media-settings-menu-button").click()
        menu = page.locator("media-settings-menu")
        for word in words[:2]:
            expect(menu.locator("media-settings-menu-item", has_text=word)).to_be_visible()
        _within(page, "media-settings-menu", width)
        _within(page, "media-settings-menu media-settings-menu-item:not([hidden])", width)
        page.screenshot(path=LANGUAGE_SHOTS / f"watch-{lang}-{width}-menu.png")
        page.keyboard.press("Escape")
        expect(page.locator(".slides-viewer .counter").first).to_contain_text(words[2])
