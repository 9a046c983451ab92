"""Slides in step with the talk: when each page of a speaker's deck is on screen.

The recording is decoded once into a few small grey frames a second (ffmpeg, through
`media`/`runner` like every other decode). The deck's rendered pages are the templates.
For each frame:

- where the page sits on screen (scale and shift: letterboxed, cropped, in a presenter
  view beside notes) is found by matching ORB features of the frame against those of the
  pages (a similarity transform, RANSAC), and kept while it goes on explaining frames;
- the frame's slide area is warped onto every page at a small size, and compared cell
  by cell (a grid of small squares): cells that no page explains (a webcam tile, a
  cursor, a page still being built up) are left out of every page's score, so covered or
  unfinished pages still match, and what is left tells the pages apart;
- the few best pages are compared again at the feature size, where a word is a word and
  not a grey band: ink that does not match costs, and pages nearly alike (a deck's
  overlay steps) are told apart where they differ;
- frames whose explained cells did not change keep their scores (most of a talk is a
  page held still), so only changes are compared.

The per-frame costs then go through a Viterbi pass over the states "no page" and each
page, with a cost per change, which removes flicker (a crossfade, a moving cursor); the
path becomes segments, and a segment whose match is weak is left out (unassigned) rather
than guessed.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np
from PIL import Image

from . import ffmpeg_commands as cmd
from . import media, probe
from .wording import N_

# What is decoded: this many frames a second, this wide (height from the display aspect).
SAMPLE_FPS = 2.0
FRAME_WIDTH = 480
# Frames read ahead of the comparison (16 s at 2 a second, 2 MB at 480x270).
READ_AHEAD = 32
# Pages are compared at this width (pixels), in square cells of CELL pixels.
SCORE_WIDTH = 192
CELL = 8
# Pages' ORB features are taken at this width.
FEATURE_WIDTH = 480

# Thresholds, in units of the normalised grey level (z-scores of the slide area).
CELL_EXPLAINED = 0.30  # a cell's mean difference below this: the page explains that cell
MIN_COVERAGE = 0.45  # share of the slide area some page must explain for any page to count
MIN_EXPLAINED_CONTENT = 0.35  # share of the page's own content cells seen on screen
SCORE_UNIT = 0.05  # a page's cost per frame is its score (mean cell difference) over this
NONE_COST = 5.0  # the cost of "no page" per frame
CHANGE_COST = 3.0  # the cost of a change of state
CONFIDENT_MARGIN = 1.0  # a page's cost this far below the next best page's: fully confident
MIN_CONFIDENCE = 0.3  # weaker segments stay unassigned
MAX_GAP = 1.0  # seconds: shorter unassigned moments between two segments are closed
SEARCH_EVERY = 1.0  # seconds between two searches for the slide area while nothing matches
TIE_MARGIN = 1.5  # pages whose costs are this close to the best one's are compared at feature size
FINE_BLUR = 1.0  # sigma (feature-size pixels) of that comparison
FINE_UNIT = 0.1  # a page's mean difference there, over this, is added to its cost
FINE_OK = 0.30  # a page's mean difference on its and the frame's ink at feature size: above, it costs
FINE_ABS_UNIT = 0.02
FINE_ALIKE = 0.05  # pages whose difference there is this close match what is on screen alike
CELL_CHANGED = 0.25  # a cell's mean change (normalised grey) above this: it changed
CHANGED_CELLS = 4  # this many changed cells and the frame is compared again (a cursor: fewer)
# An overlay step that draws thin lines or one more line of text changes many cells a little
# (at score size a line is a faint band): this many cells changed by FAINT_CHANGED also count.
FAINT_CHANGED = 0.10
FAINT_CELLS = 8
# A page's ink where the screen is still plain (not shown yet: a page built up line by
# line) weighs this much against ink on screen that the page does not have.
MISSING_WEIGHT = 0.1
REFITS = 2  # fits of the frame's brightness and contrast to the best page, each on the cells it explains
DOUBTFUL_COST = 3.5  # a best page costing more: the slide area is looked for again, it may have moved
TRIMMED_CANDIDATES = 3  # pages the frame is fitted to again when no page matched
BACKFILL = 60  # unmatched frames kept to be scored again once the slide area is found (30 s)

cv2.setNumThreads(1)  # ffmpeg decodes on the other core meanwhile


@dataclass(frozen=True)
class Segment:
    start: float  # seconds in the recording
    end: float
    page: int  # 1-based page number in the deck
    confidence: float  # 0..1


@dataclass(frozen=True)
class Alignment:
    segments: tuple[Segment, ...]  # sorted, non-overlapping; unassigned stretches are absent
    proposed_start: float | None  # first time one of the deck's pages is on screen
    seconds: float  # wall time the alignment took


class AlignmentError(Exception):
    """The recording could not be read for alignment (ffmpeg's message in `log`)."""

    def __init__(self, message: str, log: str = "", permanent: bool = True):
        super().__init__(message)
        self.log = log
        self.permanent = permanent


# -- pages ------------------------------------------------------------------------------------

def _normalise(img: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Zero mean, unit spread over `mask` (or all), so brightness and contrast do not count."""
    vals = img[mask] if mask is not None else img
    if vals.size == 0:
        return np.zeros_like(img, dtype=np.float32)
    mean, std = float(vals.mean()), float(vals.std())
    return ((img - mean) / max(std, 4.0)).astype(np.float32)


_CHANNELS = 256  # OpenCV takes at most 512 channels at once


def _cells(img: np.ndarray) -> np.ndarray:
    """Mean of each CELL x CELL square of an h x w (x n) image, h and w multiples of CELL."""
    h, w = img.shape[:2]
    size = (w // CELL, h // CELL)
    if img.ndim == 2 or img.shape[2] <= _CHANNELS:
        return cv2.resize(img, size, interpolation=cv2.INTER_AREA).reshape(h // CELL, w // CELL, *img.shape[2:])
    return np.concatenate([cv2.resize(np.ascontiguousarray(img[:, :, i:i + _CHANNELS]), size,
                                      interpolation=cv2.INTER_AREA).reshape(h // CELL, w // CELL, -1)
                           for i in range(0, img.shape[2], _CHANNELS)], axis=2)


class _Deck:
    """The pages, prepared once: small normalised images side by side (sh x sw x N), the
    cells where each page shows something, and ORB features of all pages in one index."""

    def __init__(self, pages: Sequence[np.ndarray]):
        if not pages:
            raise ValueError("a deck has at least one page")
        h0, w0 = pages[0].shape[:2]
        self.sw = SCORE_WIDTH
        self.sh = max(CELL, int(round(SCORE_WIDTH * h0 / w0 / CELL)) * CELL)
        self.fw = FEATURE_WIDTH
        self.fh = int(round(FEATURE_WIDTH * h0 / w0))
        small, points, descriptors, self.fine = [], [], [], []
        self.orb = cv2.ORB_create(nfeatures=500, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=15)
        for p in pages:
            g = _grey(p)
            s = cv2.resize(g, (self.sw, self.sh), interpolation=cv2.INTER_AREA).astype(np.float32)
            small.append(_normalise(cv2.GaussianBlur(s, (0, 0), 1.0)))
            g = cv2.resize(g, (self.fw, self.fh), interpolation=cv2.INTER_AREA)
            self.fine.append(_normalise(cv2.GaussianBlur(g.astype(np.float32), (0, 0), FINE_BLUR)))
            kp, des = self.orb.detectAndCompute(g, None)
            if des is not None:
                points.append(np.float32([k.pt for k in kp]))
                descriptors.append(des)
        self.n = len(small)
        self.stack = np.ascontiguousarray(np.stack(small, axis=2))  # sh x sw x N
        # A page's content cells: where it is not plain background.
        local = np.abs(self.stack - np.median(self.stack, axis=(0, 1), keepdims=True))
        self.content = _cells(local) > 0.5  # ch x cw x N
        self.points = np.concatenate(points) if points else np.zeros((0, 2), np.float32)
        self.descriptors = np.concatenate(descriptors) if descriptors else None
        self.buffer = np.empty_like(self.stack)

    def __len__(self) -> int:
        return self.n

    def cell_diffs(self, f: np.ndarray) -> np.ndarray:
        """Mean absolute difference of `f` and each page, per cell: ch x cw x N."""
        np.subtract(self.stack, f[:, :, None], out=self.buffer)
        np.abs(self.buffer, out=self.buffer)
        return _cells(self.buffer)


def _grey(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3:
        return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY if img.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)
    return img


def load_page(path: Path) -> np.ndarray:
    """A rendered page (PNG, JPEG, WebP) as a grey array, at most twice FEATURE_WIDTH wide
    (nothing looks at more)."""
    with Image.open(path) as im:
        if im.width > 2 * FEATURE_WIDTH:
            im.thumbnail((2 * FEATURE_WIDTH, 2 * FEATURE_WIDTH * im.height // im.width + 1), Image.Resampling.BOX)
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im)
        return np.asarray(im.convert("L"))


# -- where the page is on screen ---------------------------------------------------------------

@dataclass
class _Geometry:
    """page (feature-width pixels) -> frame pixels, and what follows from it for scoring."""

    matrix: np.ndarray  # 2x3
    score_map: np.ndarray  # 2x3: score-size page pixels -> frame pixels
    valid: np.ndarray  # sh x sw bool: page pixels inside the frame
    valid_cells: np.ndarray  # ch x cw bool
    blur: float  # sigma to blur the frame with before sampling it at score size


def _geometry(deck: _Deck, matrix: np.ndarray, frame_shape: tuple[int, int]) -> _Geometry | None:
    s = np.array([[deck.fw / deck.sw, 0, 0], [0, deck.fh / deck.sh, 0], [0, 0, 1]], np.float64)
    m = np.vstack([matrix, [0, 0, 1]]) @ s
    score_map = m[:2].astype(np.float32)
    ones = np.full(frame_shape, 255, np.uint8)
    valid = cv2.warpAffine(ones, score_map, (deck.sw, deck.sh), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    valid_cells = _cells(valid.astype(np.float32)) > 0.99
    if valid_cells.mean() < MIN_COVERAGE:
        return None
    scale = float(np.sqrt(abs(np.linalg.det(score_map[:, :2]))))  # frame pixels per score pixel
    return _Geometry(matrix, score_map, valid, valid_cells, max(0.0, 0.5 * (scale - 1.0)))


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


def _find_geometries(deck: _Deck, frame: np.ndarray, top: int = 2) -> list[np.ndarray]:
    """Candidate page->frame similarity transforms, best supported first. All pages share
    one coordinate system, so the frame is matched against every page's features at once
    (the theme's features, on every page, say where the page is as well as its text)."""
    if deck.descriptors is None:
        return []
    kp, des = deck.orb.detectAndCompute(frame, None)
    if des is None or len(kp) < 8:
        return []
    pts = np.float32([k.pt for k in kp])
    pairs = _MATCHER.knnMatch(des, deck.descriptors, k=2)
    src, dst = [], []
    for m in pairs:
        if len(m) < 2:
            continue
        a, b = m
        same_place = np.abs(deck.points[a.trainIdx] - deck.points[b.trainIdx]).max() < 2.0
        if a.distance < 0.8 * b.distance or (same_place and a.distance < 40):
            src.append(deck.points[a.trainIdx])
            dst.append(pts[a.queryIdx])
    src_a, dst_a = np.float32(src), np.float32(dst)
    found = []
    while len(src_a) >= 8 and len(found) < top:
        matrix, inliers = cv2.estimateAffinePartial2D(src_a, dst_a, method=cv2.RANSAC, ransacReprojThreshold=3.0,
                                                      maxIters=1000, confidence=0.99)
        if matrix is None:
            break
        keep = inliers.ravel().astype(bool)
        scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
        if keep.sum() < 8:
            break
        if scale > 0.05:
            found.append(matrix)
        src_a, dst_a = src_a[~keep], dst_a[~keep]
    return found


# -- comparing a frame with the pages ----------------------------------------------------------

@dataclass
class _Scores:
    costs: np.ndarray  # N+1: "no page" first, then each page
    explained: np.ndarray  # ch x cw bool: cells some page explains
    good: bool  # some page matches well enough to trust the geometry


def _warp(deck: _Deck, geo: _Geometry, frame: np.ndarray) -> np.ndarray:
    """The frame's slide area at score size, normalised."""
    src = frame.astype(np.float32)
    if geo.blur > 0.3:
        src = cv2.GaussianBlur(src, (0, 0), geo.blur)
    warped = cv2.warpAffine(src, geo.score_map, (deck.sw, deck.sh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    return _normalise(cv2.GaussianBlur(warped, (0, 0), 1.0), geo.valid)


def _explained(diff: np.ndarray, valid_cells: np.ndarray) -> np.ndarray:
    """Cells some page explains, less those beside a cell none explains (a tile's edge cuts
    through them)."""
    explained = (diff.min(axis=2) < CELL_EXPLAINED) & valid_cells
    unexplained = (valid_cells & ~explained).astype(np.uint8)
    return explained & (cv2.dilate(unexplained, np.ones((3, 3), np.uint8)) == 0)


def _score(deck: _Deck, geo: _Geometry, f: np.ndarray, frame: np.ndarray, likely: Sequence[int] = ()) -> _Scores:
    """Each page's cost for the slide area `f` of `frame`; `likely`: pages (0-based) to try
    hardest when none matches (the page after the last one shown)."""
    diff = deck.cell_diffs(f)  # ch x cw x N
    explained = _explained(diff, geo.valid_cells)
    if not explained.any():
        return _Scores(_nothing(len(deck)), explained, False)
    # Once more, the frame's brightness and contrast fitted to the best page on the explained
    # cells alone (a webcam tile or another window skews the first normalisation), and again
    # on the cells explained then (after one fit, some frames of a page being built up kept
    # half their cells unexplained: bench/slidesync.py, buildup case).
    fitted = f
    for _ in range(REFITS):
        best = int(((diff * explained[:, :, None]).sum(axis=(0, 1))).argmin())
        mask = cv2.resize(explained.astype(np.uint8), (deck.sw, deck.sh), interpolation=cv2.INTER_NEAREST) > 0
        x, y = fitted[mask], deck.stack[:, :, best][mask]
        gain = float(np.clip(np.cov(x, y, bias=True)[0, 1] / max(float(x.var()), 1e-6), 0.5, 2.0))
        fitted = (gain * (fitted - x.mean()) + y.mean()).astype(np.float32)
        diff = deck.cell_diffs(fitted)
        explained = _explained(diff, geo.valid_cells)
        if not explained.any():
            break
    scores = _judge(deck, geo, fitted, diff, explained, frame)
    if scores.good:
        return scores
    # A large tile (a webcam, another window's corner) over a page full of ink can skew
    # the fit so far that too few cells are explained to fit it better: the frame is then
    # fitted to each of the likeliest pages on the whole slide area, less the cells fitting
    # worst (the tile), and the best judged fit is taken if it is good.
    candidates = list(dict.fromkeys([*likely, *np.argsort(scores.costs[1:])[:TRIMMED_CANDIDATES].tolist()]))
    for k in candidates:
        again = _trimmed_fit(f, deck.stack[:, :, k], geo.valid)
        d = deck.cell_diffs(again)
        s = _judge(deck, geo, again, d, _explained(d, geo.valid_cells), frame)
        if s.good and (not scores.good or s.costs[1:].min() < scores.costs[1:].min()):
            scores = s
    return scores


def _trimmed_fit(f: np.ndarray, page: np.ndarray, valid: np.ndarray, rounds: int = 3) -> np.ndarray:
    """`f` with its brightness and contrast fitted to `page` over `valid`, leaving out the
    fifth of the pixels that fit worst at each round."""
    x, y = f[valid], page[valid]
    if x.size < 16:
        return f
    keep = np.ones(x.shape, bool)
    a, b = 1.0, 0.0
    for _ in range(rounds):
        xs, ys = x[keep], y[keep]
        a = float(np.clip(np.cov(xs, ys, bias=True)[0, 1] / max(float(xs.var()), 1e-6), 0.5, 3.0))
        b = float(ys.mean() - a * xs.mean())
        r = np.abs(a * x + b - y)
        keep = r <= np.percentile(r, 80)
    return (a * f + b).astype(np.float32)


def _judge(deck: _Deck, geo: _Geometry, f: np.ndarray, diff: np.ndarray, explained: np.ndarray,
           frame: np.ndarray) -> _Scores:
    """Each page's cost for the slide area `f` (fitted), its cell differences `diff` and
    the cells some page explains."""
    if not explained.any():
        return _Scores(_nothing(len(deck)), explained, False)
    costs = np.empty(len(deck) + 1, np.float32)
    costs[0] = NONE_COST
    coverage = explained.sum() / max(1, int(geo.valid_cells.sum()))
    # Each page is judged on the explained cells where it or the frame shows something:
    # plain background matches every page and would only dilute the difference.
    frame_content = _cells(np.abs(f - np.median(f[geo.valid]))) > 0.5
    relevant = explained[:, :, None] & (deck.content | frame_content[:, :, None])
    # A page's ink where the screen is still plain (a page being built up) weighs less than
    # ink on screen that the page does not have.
    weight = np.where(frame_content[:, :, None], 1.0, MISSING_WEIGHT).astype(np.float32) * relevant
    score = (diff * weight).sum(axis=(0, 1)) / np.maximum(1, weight.sum(axis=(0, 1)))
    # How much of each page's own content is on screen (a page being built up shows part).
    content = deck.content & geo.valid_cells[:, :, None]
    seen = ((diff < CELL_EXPLAINED) & content).sum(axis=(0, 1)) / np.maximum(1, content.sum(axis=(0, 1)))
    page_cost = score / SCORE_UNIT + NONE_COST * np.clip(MIN_EXPLAINED_CONTENT - seen, 0, None) / MIN_EXPLAINED_CONTENT
    if coverage < MIN_COVERAGE:
        page_cost = page_cost + NONE_COST * (1.0 + (MIN_COVERAGE - coverage) / MIN_COVERAGE)
    costs[1:] = page_cost
    good = bool(coverage >= MIN_COVERAGE and costs[1:].min() < NONE_COST)
    if good:
        _tie_break(deck, geo, frame, costs, explained)
    return _Scores(costs, explained, good)


def _tie_break(deck: _Deck, geo: _Geometry, frame: np.ndarray, costs: np.ndarray, explained: np.ndarray) -> None:
    """The best pages are compared again at the feature size, where a word is a word and
    not a grey band: a page whose ink does not match what is on screen (another speaker's
    deck in the same template) costs more, and pages nearly alike at score size (a deck's
    overlay steps: a line drawn in, a word coloured) are told apart where they differ."""
    page_costs = costs[1:]
    near = np.flatnonzero(page_costs < page_costs.min() + TIE_MARGIN)
    near = near[np.argsort(page_costs[near])][:4]
    warped = cv2.warpAffine(frame.astype(np.float32), geo.matrix.astype(np.float32), (deck.fw, deck.fh),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    warped = cv2.GaussianBlur(warped, (0, 0), FINE_BLUR)
    pages = np.stack([deck.fine[k] for k in near])
    seen = cv2.resize(explained.astype(np.uint8), (deck.fw, deck.fh), interpolation=cv2.INTER_NEAREST) > 0
    if seen.sum() < 100:
        return
    x, y = warped[seen], pages[0][seen]
    gain = float(np.cov(x, y, bias=True)[0, 1] / max(float(x.var()), 1e-6))
    fitted = gain * (warped - x.mean()) + y.mean()
    background = float(np.median(y))
    frame_ink = np.abs(fitted - background) > 0.5
    extra = np.zeros(len(near), np.float32)
    on_screen = seen & frame_ink
    for n, page in enumerate(pages):
        missing = seen & ~frame_ink & (np.abs(page - background) > 0.5)  # not shown yet, maybe
        weight = on_screen.sum() + MISSING_WEIGHT * missing.sum()
        if on_screen.sum() + missing.sum() >= 12 and weight > 0:
            d = float(np.abs(fitted[on_screen] - page[on_screen]).sum()
                      + MISSING_WEIGHT * np.abs(fitted[missing] - page[missing]).sum()) / weight
            extra[n] = max(0.0, d - FINE_OK) / FINE_ABS_UNIT
    if len(near) > 1:
        apart = seen & ((pages.max(axis=0) - pages.min(axis=0)) > 0.5)
        if apart.sum() >= 12:
            # Where the screen is plain, the pages' ink weighs MISSING_WEIGHT (not shown yet);
            # pages that match what is on screen alike are then told apart by all their ink
            # (an overlay step's page shows more than the page before it: not both fit).
            diffs = np.abs(pages[:, apart] - fitted[apart][None])
            w = np.where(frame_ink[apart], 1.0, MISSING_WEIGHT)
            fine = (diffs * w[None]).sum(axis=1) / w.sum()
            extra += (fine - fine.min()) / FINE_UNIT
            alike = fine - fine.min() < FINE_ALIKE
            if alike.sum() > 1:
                whole = diffs[alike].mean(axis=1)
                extra[alike] += (whole - whole.min()) / FINE_UNIT
    others = np.ones(len(page_costs), bool)
    others[near] = False
    page_costs[others] += extra.min()
    page_costs[near] += extra


def _changed(f: np.ndarray, before: np.ndarray, scores: _Scores, geo: _Geometry) -> bool:
    """Whether the slide area changed where it matters since it was last compared: in more
    than a cursor's worth of the cells the pages explained, or a little in many of them (an
    overlay step's thin lines)."""
    change = _cells(np.abs(f - before))
    watched = scores.explained if scores.good else geo.valid_cells
    return (int(((change > CELL_CHANGED) & watched).sum()) >= CHANGED_CELLS
            or int(((change > FAINT_CHANGED) & watched).sum()) >= FAINT_CELLS)


def _thumb(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, (48, 27), interpolation=cv2.INTER_AREA).astype(np.float32)


# -- frames to segments --------------------------------------------------------------------------

def align_frames(frames: Iterable[tuple[float, np.ndarray]], pages: Sequence[np.ndarray]) -> tuple[Segment, ...]:
    """Segments (page on screen, 1-based) for grey `frames` (time in seconds, image) taken at
    an even rate, against the deck's `pages` (grey or RGB arrays, in page order)."""
    deck = _Deck(pages)
    times: list[float] = []
    costs: list[np.ndarray] = []
    geo: _Geometry | None = None
    last_f: np.ndarray | None = None  # the slide area when it was last compared
    last_scores: _Scores | None = None
    searched_at, searched_thumb = -1e9, None
    # Frames that no page matched since the slide area was last found, kept to be scored
    # again once it is found anew (a page built up line by line shows too little at first
    # for its place on screen to be found, but not too little to be told once it is known).
    pending: list[tuple[int, np.ndarray]] = []
    likely: tuple[int, ...] = ()  # the page after the last one shown: the likeliest next
    for t, frame in frames:
        frame = _grey(np.asarray(frame))
        scores = None
        if geo is not None:
            f = _warp(deck, geo, frame)
            if last_scores is not None and last_f is not None and not _changed(f, last_f, last_scores, geo):
                scores = last_scores
            else:
                scores, last_f = _score(deck, geo, f, frame, likely), f
        if scores is None or not scores.good or scores.costs[1:].min() > DOUBTFUL_COST:
            thumb = _thumb(frame)
            fresh = searched_thumb is None or float(np.abs(thumb - searched_thumb).mean()) > 2.0
            if t - searched_at >= SEARCH_EVERY and (fresh or t - searched_at >= 20 * SEARCH_EVERY):
                searched_at, searched_thumb = t, thumb
                for matrix in _find_geometries(deck, frame):
                    cand = _geometry(deck, matrix, frame.shape)
                    if cand is None:
                        continue
                    f = _warp(deck, cand, frame)
                    s = _score(deck, cand, f, frame)
                    if s.good and (scores is None or s.costs[1:].min() < scores.costs[1:].min()):
                        geo, scores, last_f = cand, s, f
                        for i, earlier in pending:
                            again = _score(deck, geo, _warp(deck, geo, earlier), earlier)
                            if again.good:
                                costs[i] = again.costs
                        pending = []
                        break
        if scores is None:
            scores = _Scores(_nothing(len(deck)), np.zeros((1, 1), bool), False)
        last_scores = scores
        if scores.good:
            shown = int(scores.costs[1:].argmin())
            likely = (shown + 1,) if shown + 1 < len(deck) else ()
        if scores.good:
            pending = []
        else:
            pending = pending[-(BACKFILL - 1):] + [(len(times), frame)] if BACKFILL else []
        times.append(float(t))
        costs.append(scores.costs)
    if not times:
        return ()
    return _segments(np.array(times), np.stack(costs))


def _nothing(n: int) -> np.ndarray:
    c = np.full(n + 1, 2 * NONE_COST, np.float32)
    c[0] = NONE_COST
    return c


def _viterbi(costs: np.ndarray, change: float) -> np.ndarray:
    t_count, n = costs.shape
    back = np.zeros((t_count, n), np.int32)
    acc = costs[0].astype(np.float64).copy()
    idx = np.arange(n)
    for t in range(1, t_count):
        best = int(acc.argmin())
        stay = acc
        move = acc[best] + change
        take_move = move < stay
        back[t] = np.where(take_move, best, idx)
        acc = np.where(take_move, move, stay) + costs[t]
    path = np.empty(t_count, np.int32)
    path[-1] = int(acc.argmin())
    for t in range(t_count - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _segments(times: np.ndarray, costs: np.ndarray) -> tuple[Segment, ...]:
    path = _viterbi(costs, CHANGE_COST)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / SAMPLE_FPS
    out: list[Segment] = []
    i = 0
    while i < len(path):
        j = i
        while j + 1 < len(path) and path[j + 1] == path[i]:
            j += 1
        state = int(path[i])
        # The page's run less its ends where it explains no more than "no page" does (the
        # path stays on a page through frames that match nothing rather than pay a change).
        a, b = i, j
        while state > 0 and a < b and costs[a, state] >= NONE_COST:
            a += 1
        while state > 0 and b > a and costs[b, state] >= NONE_COST:
            b -= 1
        if state > 0 and costs[a, state] < NONE_COST:
            c = costs[a:b + 1]
            own = c[:, state]
            others = np.delete(c, state, axis=1)
            margin = float(np.median(others.min(axis=1) - own))
            fit = float(np.median(own))
            confidence = float(np.clip(margin / CONFIDENT_MARGIN, 0, 1) * np.clip((NONE_COST - fit) / (0.3 * NONE_COST), 0, 1))
            if confidence >= MIN_CONFIDENCE:
                # A change happened between two samples: put it halfway.
                start = max(0.0, times[a] - step / 2) if a > 0 else times[a]
                end = times[b] + step / 2 if b + 1 < len(path) else times[b] + step
                out.append(Segment(round(float(start), 3), round(float(end), 3), state, round(confidence, 3)))
        i = j + 1
    return _close_gaps(out)


def _close_gaps(segments: list[Segment]) -> tuple[Segment, ...]:
    """A moment unassigned between two pages (a crossfade's middle) is no stretch of its own:
    the same page on both sides becomes one segment, two pages meet halfway."""
    out: list[Segment] = []
    for seg in segments:
        prev = out[-1] if out else None
        if prev is None or seg.start - prev.end > MAX_GAP:
            out.append(seg)
        elif prev.page == seg.page:
            out[-1] = Segment(prev.start, seg.end, seg.page, round(min(prev.confidence, seg.confidence), 3))
        else:
            middle = round((prev.end + seg.start) / 2, 3)
            out[-1] = Segment(prev.start, middle, prev.page, prev.confidence)
            out.append(Segment(middle, seg.end, seg.page, seg.confidence))
    return tuple(out)


# -- a recording ---------------------------------------------------------------------------------

def frame_size(info) -> tuple[int, int]:
    """The decoded frames' size: FRAME_WIDTH wide (never wider than the source), even."""
    from .mediatypes import display_size
    w, h = display_size(info)
    if not w or not h:
        raise AlignmentError(N_("the recording has no picture"))
    fw = min(FRAME_WIDTH, w)
    fh = max(2, int(round(fw * h / w / 2)) * 2)
    return fw - fw % 2, fh


def decode_frames(recording: Path, info, limits: media.ToolLimits, *, start: float | None = None,
                  end: float | None = None, fps: float = SAMPLE_FPS) -> Iterator[tuple[float, np.ndarray]]:
    """Grey frames (time, image) of `recording`, `fps` a second, read from ffmpeg as it decodes."""
    w, h = frame_size(info)
    read_end, write_end = os.pipe()
    args = cmd.alignment_frames_args(recording, f"pipe:{write_end}", info, fps, w, h, start, end)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            media.run_ffmpeg(args, limits.ffmpeg(), pass_fds=(write_end,))
        except BaseException as e:  # handed to the reader below
            failure.append(e)
        finally:
            os.close(write_end)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    size = w * h
    base = start or 0.0
    frames: queue.Queue = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def hand(item: bytes | None) -> None:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def read() -> None:
        """Frames off the pipe as fast as ffmpeg writes them, so that it decodes on while the
        frames before are compared (with the pipe alone, 64 KiB, it waited for each one)."""
        try:
            with open(read_end, "rb", buffering=size * 4) as stream:
                while not stop.is_set():
                    buf = stream.read(size)
                    hand(buf if len(buf) == size else None)
                    if len(buf) < size:
                        return
        except BaseException as e:  # handed to the consumer below
            failure.append(e)
            hand(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    i = 0
    try:
        while (buf := frames.get()) is not None:
            yield base + i / fps, np.frombuffer(buf, np.uint8).reshape(h, w)
            i += 1
    finally:
        stop.set()
        reader.join()
        worker.join()
    if failure:
        e = failure[0]
        if isinstance(e, media.MediaError):
            raise AlignmentError(str(e), e.log, e.permanent) from e
        raise e


def align_recording(recording: Path, pages: Sequence[Path], settings, *, start: float | None = None,
                    end: float | None = None, scratch: Path) -> Alignment:
    """pages: the deck's rendered page images (PNG/JPEG/WebP as the slides job makes them), in
    page order. `start`/`end` limit the stretch of the recording looked at (seconds)."""
    began = time.monotonic()
    limits = media.ToolLimits.from_settings(settings)
    try:
        info = probe.probe(Path(recording), limits)
    except media.MediaError as e:
        raise AlignmentError(str(e), e.log, e.permanent) from e
    if not info.has_video:
        return Alignment((), None, time.monotonic() - began)
    images = [load_page(Path(p)) for p in pages]
    segments = align_frames(decode_frames(Path(recording), info, limits, start=start, end=end), images)
    # The last sample's stretch may reach past the recording's end (the frame rate filter
    # emits one at the very end): no page is on screen after it.
    last = info.duration if end is None else min(end, info.duration or end)
    if last:
        segments = tuple(replace(s, end=min(s.end, round(float(last), 3))) for s in segments if s.start < last)
    proposed = segments[0].start if segments else None
    return Alignment(segments, proposed, round(time.monotonic() - began, 3))
