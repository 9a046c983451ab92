"""Slide alignment on small generated cases: each kind of difficulty a shared screen has
(scaled, letterboxed, cropped, shifted, a webcam tile, blur, build-up, presenter view,
another window, another deck), through `align_frames` on synthetic frames, and end to end
through ffmpeg on a tiny generated recording."""
from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from archive import slidealign
from archive.config import Settings

FPS = 2.0
FRAME = (270, 480)  # what align_recording decodes: 480 wide


def _page(number: int, seed: int = 0, lines: int = 5, size=(800, 600), theme: int = 60) -> np.ndarray:
    """A deck-like page: a title bar and bullet lines of made-up words."""
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, size[0], size[1] // 7), fill=theme)
    d.text((24, 18), f"Part {seed}.{number}", fill=255, font=ImageFont.load_default(size=44))
    rng = np.random.default_rng(1000 * seed + number)
    font = ImageFont.load_default(size=30)
    for k in range(lines):
        words = " ".join("".join(chr(97 + c) for c in rng.integers(0, 26, rng.integers(3, 9)))
                         for _ in range(rng.integers(2, 5)))
        d.text((60, size[1] // 7 + 30 + k * 72), "- " + words, fill=0, font=font)
    return np.asarray(im)


@pytest.fixture(scope="module")
def deck() -> list[np.ndarray]:
    return [_page(i) for i in range(1, 9)]


def _place(page: np.ndarray, box: tuple[int, int, int, int], background: int = 24) -> np.ndarray:
    """The page scaled into `box` (x, y, w, h) of a frame; parts outside the frame are cropped."""
    frame = np.full(FRAME, background, np.uint8)
    x, y, w, h = box
    scaled = cv2.resize(page, (w, h), interpolation=cv2.INTER_AREA)
    fx0, fy0, fx1, fy1 = max(0, x), max(0, y), min(FRAME[1], x + w), min(FRAME[0], y + h)
    frame[fy0:fy1, fx0:fx1] = scaled[fy0 - y:fy1 - y, fx0 - x:fx1 - x]
    return frame


LETTERBOX = (60, 0, 360, 270)  # a 4:3 page in a 16:9 frame


def _timeline(plan, render) -> list[tuple[float, np.ndarray]]:
    """`plan`: (state, seconds) pairs; `render(state, t)` draws a frame."""
    frames, t = [], 0.0
    for state, seconds in plan:
        for _ in range(int(seconds * FPS)):
            frames.append((t, render(state, t)))
            t += 1 / FPS
    return frames


def _truth(plan) -> list[tuple[float, float, int]]:
    out, t = [], 0.0
    for state, seconds in plan:
        if state:
            out.append((t, t + seconds, state))
        t += seconds
    return out


def _page_at(segments, t: float) -> int | None:
    return next((s.page for s in segments if s.start <= t < s.end), None)


def _check(segments, plan, tolerance: float = 1.0) -> None:
    """Every segment is sorted and apart; away from the changes, the page on screen is the
    planned one (None where no page of the deck is)."""
    assert all(0 <= s.confidence <= 1 and s.start < s.end for s in segments)
    assert all(a.end <= b.start for a, b in zip(segments, segments[1:]))
    t = 0.0
    for state, seconds in plan:
        for probe_t in np.arange(t + tolerance, t + seconds - tolerance, 0.5):
            assert _page_at(segments, probe_t) == (state or None), (probe_t, state, segments)
        t += seconds


PLAN = [(1, 8), (2, 6), (3, 10), (5, 5), (3, 4), (4, 8)]  # page 5 after 3: one skipped, 3 revisited


def test_letterboxed_pages_skipped_and_revisited(deck):
    segments = slidealign.align_frames(_timeline(PLAN, lambda p, t: _place(deck[p - 1], LETTERBOX)), deck)
    _check(segments, PLAN)
    changes = [s.start for s in segments[1:]]
    assert np.allclose(changes, [8, 14, 24, 29, 33], atol=0.5)


@pytest.mark.parametrize("box", [(0, 0, 480, 360), (-40, -20, 560, 420), (150, 40, 300, 225), (10, 60, 220, 165)],
                         ids=["scaled-cropped-bottom", "cropped-all-round", "shifted-small", "presenter-view-size"])
def test_scaled_cropped_shifted(deck, box):
    segments = slidealign.align_frames(_timeline(PLAN, lambda p, t: _place(deck[p - 1], box)), deck)
    _check(segments, PLAN)


def test_a_moving_webcam_tile_a_cursor_and_noise(deck):
    rng = np.random.default_rng(3)

    def render(p, t):
        frame = _place(deck[p - 1], LETTERBOX).astype(np.int16)
        x = int(270 + 80 * np.sin(t / 3))
        frame[170:260, x:x + 120] = rng.integers(40, 200, (90, 120))  # the speaker's tile
        cx, cy = int(150 + 60 * np.cos(t)), int(120 + 40 * np.sin(t))
        frame[cy:cy + 14, cx:cx + 9] = 0  # a cursor
        frame += rng.normal(0, 6, frame.shape).astype(np.int16)
        return cv2.GaussianBlur(np.clip(frame, 0, 255).astype(np.uint8), (0, 0), 0.8)  # a low bitrate

    segments = slidealign.align_frames(_timeline(PLAN, render), deck)
    _check(segments, PLAN)


def test_the_trimmed_fit_leaves_a_webcam_tile_out():
    """A dark tile over a fifth of the slide area skews a plain fit of the frame's
    brightness and contrast to the page; the trimmed fit finds them as if it were not there."""
    page = slidealign._normalise(cv2.GaussianBlur(_page(3, lines=7).astype(np.float32), (0, 0), 1.0))
    frame = 0.6 * page + 0.3  # the same page, less contrast, brighter
    valid = np.ones(page.shape, bool)
    frame[-page.shape[0] // 2:, -page.shape[1] // 3:] = -4.0  # the tile: dark
    plain = np.cov(frame[valid], page[valid], bias=True)[0, 1] / frame[valid].var()
    fitted = slidealign._trimmed_fit(frame, page, valid)
    outside = np.ones(page.shape, bool)
    outside[-page.shape[0] // 2:, -page.shape[1] // 3:] = False
    assert abs(plain - 1 / 0.6) > 0.5  # the tile spoils a plain fit
    assert np.abs(fitted[outside] - page[outside]).mean() < 0.02


def test_a_page_followed_by_frames_that_match_nothing_keeps_its_segment():
    """Frames where every page costs what "no page" does (another window, where a page of
    little ink explains nothing) do not change the path's state, and do not count
    against the page before them."""
    costs = np.full((60, 4), slidealign.NONE_COST, np.float32)
    costs[:10, 1:] = [1.0, 4.0, 6.0]  # page 1 on screen for 5 s, then nothing matches
    times = np.arange(60) / FPS
    [segment] = slidealign._segments(times, costs)
    assert segment.page == 1 and segment.start == 0.0 and segment.end == 4.75 and segment.confidence == 1.0


def test_a_page_built_up_in_steps_is_that_page(deck):
    def render(state, t):
        page, shown = state
        built = deck[page - 1].copy()
        built[int(built.shape[0] * shown):] = 255  # the lower part not shown yet
        return _place(built, LETTERBOX)

    plan = [((1, 1.0), 6), ((2, 0.45), 4), ((2, 0.7), 4), ((2, 1.0), 6), ((3, 1.0), 6)]
    segments = slidealign.align_frames(_timeline(plan, render), deck)
    _check(segments, [(1, 6), (2, 14), (3, 6)])


def test_a_page_built_up_from_a_third_first_on_screen_is_that_page_from_its_first_step(deck):
    """Its first step shows too little for the slide area to be found; once a later step
    finds it, the frames before are scored again, the page's ink not shown yet weighing
    little."""
    def render(state, t):
        page, shown = state
        built = deck[page - 1].copy()
        built[int(built.shape[0] * shown):] = 255
        return _place(built, LETTERBOX)

    plan = [((2, 0.3), 5), ((2, 0.6), 4), ((2, 1.0), 5), ((3, 1.0), 6)]
    segments = slidealign.align_frames(_timeline(plan, render), deck)
    _check(segments, [(2, 14), (3, 6)])


LINES, LINE_GREY = 3, 150  # faint: without the faint-change rule the step went unnoticed


def test_an_overlay_step_that_draws_thin_lines_is_its_own_page():
    """Beamer's overlay steps: the next page is this one with a few thin coloured lines drawn
    in (edges of a graph). The change is faint where frames are compared (a line is a pale
    band), but it is noticed, and each step is its own page."""
    base = _page(1, seed=7, lines=3)
    im = Image.fromarray(base.copy())
    d = ImageDraw.Draw(im)
    for k in range(LINES):
        d.line((420 + 40 * k, 330, 760 - 30 * k, 560), fill=LINE_GREY, width=2)
    steps = [base, np.asarray(im), _page(2, seed=7)]
    rng = np.random.default_rng(5)

    def render(p, t):
        frame = _place(steps[p - 1], LETTERBOX).astype(np.int16)
        frame += rng.normal(0, 3, frame.shape).astype(np.int16)
        return cv2.GaussianBlur(np.clip(frame, 0, 255).astype(np.uint8), (0, 0), 0.8)

    plan = [(1, 6), (2, 20), (3, 6)]
    segments = slidealign.align_frames(_timeline(plan, render), steps)
    _check(segments, plan)


def test_presenter_view_beside_notes_and_the_next_page(deck):
    def render(p, t):
        frame = _place(deck[p - 1], (10, 40, 280, 210), background=40)
        small = cv2.resize(deck[min(p, len(deck) - 1)], (160, 120), interpolation=cv2.INTER_AREA)
        frame[40:160, 305:465] = small  # the next page, smaller
        cv2.putText(frame, "notes: say hello", (305, 200), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 230, 1)
        return frame

    segments = slidealign.align_frames(_timeline(PLAN, render), deck)
    _check(segments, PLAN)


def test_another_window_and_another_deck_stay_unassigned(deck):
    # Another speaker's deck in another template: a dark one. (One in the same template,
    # with the same layout, can be taken for this one: the pages differ in their words alone.)
    other = [255 - _page(i, seed=7, lines=3, theme=170) for i in range(1, 5)]
    rng = np.random.default_rng(5)
    window = np.full(FRAME, 235, np.uint8)
    for k in range(14):  # a text editor full of lines
        window[20 + 17 * k:28 + 17 * k, 20:int(rng.integers(120, 460))] = 30

    def render(state, t):
        kind, p = state
        if kind == "window":
            return window
        return _place((deck if kind == "ours" else other)[p - 1], LETTERBOX)

    plan = [(("ours", 1), 8), (("window", 0), 10), (("ours", 2), 8), (("other", 1), 8), (("other", 2), 8),
            (("ours", 3), 6)]
    segments = slidealign.align_frames(_timeline(plan, render), deck)
    _check(segments, [(p if kind == "ours" else 0, s) for (kind, p), s in plan])


def test_a_crossfade_changes_halfway(deck):
    def render(state, t):
        if state == "fade":
            a = (t - 8) / 1.0
            mix = (1 - a) * deck[0].astype(np.float32) + a * deck[1].astype(np.float32)
            return _place(mix.astype(np.uint8), LETTERBOX)
        return _place(deck[state - 1], LETTERBOX)

    plan = [(1, 8), ("fade", 1), (2, 8)]
    segments = slidealign.align_frames(_timeline(plan, render), deck)
    assert [s.page for s in segments] == [1, 2]
    assert abs(segments[1].start - 8.5) <= 1.0


def test_nothing_on_screen_gives_no_segments(deck):
    frames = [(i / FPS, np.full(FRAME, 128, np.uint8)) for i in range(20)]
    assert slidealign.align_frames(frames, deck) == ()
    assert slidealign.align_frames([], deck) == ()


# -- end to end: ffmpeg decodes a tiny recording --------------------------------------------------

def _recording(path: Path, frames: list[tuple[float, np.ndarray]], fps: int = 10) -> None:
    h, w = FRAME
    proc = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{h}", "-r", str(FPS),
         "-i", "-", "-vf", f"fps={fps},scale=640:360", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32",
         "-pix_fmt", "yuv420p", str(path)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for _, frame in frames:
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0


def test_align_recording_end_to_end(deck, tmp_path):
    pages = []
    for i, page in enumerate(deck, 1):  # as the slides job leaves them: WebP files
        pages.append(tmp_path / f"large-{i:04d}.webp")
        Image.fromarray(page).convert("RGB").save(pages[-1], "WEBP", quality=85)
    plan = [(0, 4)] + PLAN
    recording = tmp_path / "talk.mp4"
    _recording(recording, _timeline(plan, lambda p, t: _place(deck[p - 1], LETTERBOX) if p
                                     else np.full(FRAME, 90, np.uint8)))
    settings = Settings.from_env({"WEBINAR_ARCHIVE_DATA": str(tmp_path / "data")})
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    found = slidealign.align_recording(recording, pages, settings, scratch=scratch)
    _check(found.segments, plan)
    assert found.proposed_start == pytest.approx(4.0, abs=1.0)
    assert found.seconds > 0

    part = slidealign.align_recording(recording, pages, settings, start=20.0, end=36.0, scratch=scratch)
    assert [s.page for s in part.segments] == [3, 5, 3]
    assert part.segments[0].start == pytest.approx(20.0, abs=0.6)
    assert part.segments[-1].end == pytest.approx(36.0, abs=0.6)


def test_the_frames_command():
    from archive import ffmpeg_commands as cmd
    from archive.mediatypes import MediaInfo

    info = MediaInfo(demuxer="mov", duration=60, size=1, video_codec="h264", width=1280, height=720)
    args = cmd.alignment_frames_args(Path("/in/talk.mp4"), "pipe:5", info, 2.0, 480, 270, start=10, end=30)
    text = " ".join(args)
    assert "-ss 10.000" in text and "-t 20.000" in text and "-protocol_whitelist file" in text
    assert "fps=fps=2.0" in text and "scale=flags=area:h=270:w=480" in text and "format=gray" in text
    assert "pipe:5" in args and "-skip_frame noref" in text and "nokey" not in text
    assert slidealign.frame_size(info) == (480, 270)


def _decoding(recording: Path) -> bool:
    """Whether an ffmpeg is still reading `recording`."""
    return subprocess.run(["pgrep", "-f", f"ffmpeg.*{recording}"], capture_output=True).returncode == 0


def test_frames_are_read_ahead_of_the_comparison_and_a_closed_reader_stops_ffmpeg(deck, tmp_path):
    from archive import media, probe

    settings = Settings.from_env({"WEBINAR_ARCHIVE_DATA": str(tmp_path / "data")})
    limits = media.ToolLimits.from_settings(settings)
    short, long = tmp_path / "short.mp4", tmp_path / "long.mp4"
    _recording(short, _timeline([(1, 6)], lambda p, t: _place(deck[p - 1], LETTERBOX)))
    _recording(long, _timeline([(1, 30), (2, 30)], lambda p, t: _place(deck[p - 1], LETTERBOX)))

    # 12 frames of 480x270 (130 kB each: more than a pipe holds): while the first one is
    # still being looked at, ffmpeg decodes the rest and ends, rather than wait on the pipe
    frames = slidealign.decode_frames(short, probe.probe(short, limits), limits)
    first_time, first = next(frames)
    assert first_time == 0.0 and first.shape == FRAME
    deadline = time.monotonic() + 30
    while _decoding(short) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _decoding(short)
    assert len(list(frames)) == 11

    # a reader that stops early (a failed alignment) leaves no ffmpeg behind, no thread waiting
    threads = threading.active_count()
    frames = slidealign.decode_frames(long, probe.probe(long, limits), limits)
    [next(frames) for _ in range(3)]
    frames.close()
    assert not _decoding(long) and threading.active_count() == threads
