"""The alignment job: when each page of a presentation's deck is on screen in the recording.

Its job belongs to the deck and names the recording as its partner (pipeline.JobKind.needs);
it is queued once both are processed, and again when either is replaced. It reads the
recording's web rendition (made by the fast path: a stream copy of the original, or its
encode) and the deck's page images, runs the engine (archive/slidealign.py) over the
presentation's stretch of the recording when its start is known (up to the next
presentation's start), and grabs a small frame at each change found, for staff to compare
with the page. What it found is stored by `slidesync.record` when the job ends.
"""
from __future__ import annotations

import json
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import ffmpeg_commands as cmd, media, probe, queries, slidealign, slidesync
from ..context import Archive
from ..jobs import Heartbeat, PermanentError
from ..models import Asset
from ..states import AssetStatus
from ..wording import N_
from .common import Outcome, upload_files

log = logging.getLogger(__name__)

FRAME_WIDTH = 240
FRAMES_PER_RUN = 16  # seeks per ffmpeg run
MAX_FRAMES = 400  # a deck shown in a thousand pieces gets frames for its first changes only


def frame_key(deck: Asset, recording_id: str, at: float) -> str:
    return deck.derived_key(f"sync/{recording_id}/{int(round(at * 1000))}.jpg")


def _titles(archive: Archive, deck: Asset, count: int) -> list[str]:
    """The first text line of each page: a page's title, for chapters."""
    key = deck.outputs.get("text")
    texts: list = []
    if key:
        try:
            texts = json.loads(archive.store.get_bytes(key)).get("pages") or []
        except (ValueError, AttributeError):
            texts = []
    out = []
    for n in range(count):
        text = texts[n] if n < len(texts) and isinstance(texts[n], str) else ""
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        out.append(first[:120])
    return out


def _grab_frames(archive: Archive, src: Path, segments, work: Path, recording_id: str, deck: Asset,
                 hb: Heartbeat) -> dict[float, str]:
    limits = media.ToolLimits.from_settings(archive.settings)
    info = probe.probe(src, limits)
    if not info.has_video:
        return {}
    starts = sorted({round(float(s.start), 3) for s in segments})[:MAX_FRAMES]
    frames_dir = work / "frames"
    frames_dir.mkdir()
    grabs = []
    for at in starts:
        # A little after the change: the frame that shows the new page, not the crossfade.
        length = next(s.end - s.start for s in segments if round(float(s.start), 3) == at)
        grabs.append((at, min(max(0.0, at + min(0.5, length / 2)), max(0.0, info.duration - 0.05)),
                      frames_dir / f"{int(round(at * 1000))}.jpg"))
    for i in range(0, len(grabs), FRAMES_PER_RUN):
        batch = grabs[i:i + FRAMES_PER_RUN]
        try:
            media.run_ffmpeg(cmd.frame_grabs_args(src, [(t, p) for _, t, p in batch], info, FRAME_WIDTH),
                             limits.ffmpeg(300))
        except media.MediaError as e:  # frames help staff; the timeline stands without them
            log.warning("frame grabs for deck %s failed: %s", deck.id, e)
    made = [(at, p) for at, _, p in grabs if p.exists() and p.stat().st_size]
    hb.check()
    upload_files(archive, [(p, frame_key(deck, recording_id, at), "image/jpeg") for at, p in made])
    return {at: frame_key(deck, recording_id, at) for at, _ in made}


def align_slides(archive: Archive, deck: Asset, hb: Heartbeat) -> Outcome:
    with archive.catalog.session() as s:
        recording, start, end = queries.alignment_inputs(s, deck.id)
    if recording is None or recording.status != AssetStatus.READY or not recording.outputs.get("web"):
        raise PermanentError(N_("the webinar has no processed recording to align the slides with"))
    if recording.info.get("kind", "video") != "video":
        raise PermanentError(N_("the recording has no picture: there are no slides to find in it"))
    pages = (deck.outputs.get("pages") or {}).get("large") or []
    if not pages:
        raise PermanentError(N_("the deck has no page images"))
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="align-") as tmp:
        work = Path(tmp)
        src = work / "recording.mp4"
        page_dir = work / "pages"
        page_dir.mkdir()
        page_files = [page_dir / f"{n}.webp" for n in range(1, len(pages) + 1)]
        with ThreadPoolExecutor(max_workers=max(1, archive.settings.upload_threads)) as pool:
            fetching = pool.submit(archive.store.download_file, recording.outputs["web"], src)
            list(pool.map(lambda kf: archive.store.download_file(*kf), zip(pages, page_files)))
            fetching.result()
        hb.progress(0.1)
        scratch = work / "scratch"
        scratch.mkdir()
        try:
            alignment = slidealign.align_recording(src, page_files, archive.settings, start=start, end=end,
                                                   scratch=scratch)
        except slidealign.AlignmentError as e:  # the worker keeps ffmpeg's message, retries if passing
            raise media.MediaError(N_("aligning the slides: %(reason)s", reason=e), e.log, permanent=e.permanent) from e
        hb.progress(0.8)
        hb.check()
        frames = _grab_frames(archive, src, alignment.segments, work, recording.id, deck, hb)
    segments = slidesync.segments_from_alignment(alignment, frames)
    result = {"recording": recording.id, "segments": segments, "proposed_start": alignment.proposed_start,
              "titles": _titles(archive, deck, len(pages))}
    # The deck keeps what was found (for a presentation given the deck later); each
    # presentation showing it gets its timeline when the job ends (slidesync.record).
    return Outcome(info={"alignment": {**result, "seconds": round(alignment.seconds, 2)}}, timeline=result)
