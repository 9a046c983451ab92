"""Slide timelines: when each page of a presentation's deck is on screen in the recording.

The alignment job (archive/handlers/align.py, with the engine in archive/slidealign.py)
finds them; this module owns what is stored and what wins. A presentation's
`slide_timeline` holds:

    {"segments": [{"start", "end", "page", "confidence", "frame"}...],  # what is used
     "found": [...],            # the job's last result, kept when staff changed `segments`
     "source": "found" | "staff", "accepted": bool,
     "proposed_start": seconds | None,   # the first time one of its pages is on screen
     "titles": [first text line of each page, "" where none],
     "deck": asset id, "recording": asset id}

Rules, each written once here: a deck's staff-typed `slide_times` (its description file)
win over any timeline; what staff set in the review (a move, a removal, an addition, or
an acceptance of the found changes) is kept when the job runs again (only `found` is
renewed); otherwise the job's result replaces the timeline. Pure functions over dicts,
except `record` and `apply_search_moments`, which write in the caller's transaction.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import Asset, Presentation
from .search.tables import SearchDocument
from .states import TimelineSource
from .wording import N_

# A change staff move or add is at least this far from its neighbours.
MIN_GAP_SECONDS = 0.5
# A page that ends at most this long before the next one starts is taken to run up to it
# (the aligner leaves a crossfade unassigned): moving or removing the next change moves its end.
ADJACENT_SECONDS = 1.0


class TimelineRejected(ValueError):
    """A staff edit that cannot be applied (the sentence says why)."""


def _segment(start: float, end: float, page: int, confidence: float = 1.0, frame: str | None = None) -> dict:
    return {"start": round(float(start), 3), "end": round(float(end), 3), "page": int(page),
            "confidence": round(float(confidence), 3), "frame": frame}


def segments_from_alignment(alignment: Any, frames: dict[float, str] | None = None) -> list[dict]:
    """The engine's `Alignment.segments` as stored dicts, in time order; `frames` maps a
    segment's start to the key of the frame grabbed there."""
    frames = frames or {}
    return sorted((_segment(s.start, s.end, s.page, s.confidence, frames.get(round(float(s.start), 3)))
                   for s in alignment.segments if s.end > s.start), key=lambda s: s["start"])


def segments_from_times(times: Iterable[float], end: float | None) -> list[dict]:
    """Staff-typed `slide_times` (page n appears at times[n-1]) as segments: each page
    until the next one's time; the last until `end` (the recording's end), or a second."""
    times = [float(t) for t in times if isinstance(t, (int, float))]
    out = []
    for n, t in enumerate(times, 1):
        stop = times[n] if n < len(times) else max(end or 0.0, t + 1.0)
        if stop > t:
            out.append(_segment(t, stop, n, 1.0))
    return out


def staff_owned(timeline: dict | None) -> bool:
    """Staff changed or accepted it: the job's next result does not replace it."""
    return bool(timeline) and (timeline.get("source") == TimelineSource.STAFF or bool(timeline.get("accepted")))


def merged(existing: dict | None, found: list[dict], *, proposed_start: float | None, titles: list[str],
           deck_id: str, recording_id: str) -> dict:
    """The timeline after a run of the job: its result replaces what was found before, and
    what is used unless staff changed or accepted it."""
    keep = staff_owned(existing) and existing.get("deck") == deck_id
    out = dict(existing) if keep else {"source": TimelineSource.FOUND.value, "accepted": False}
    out.update(found=found, proposed_start=proposed_start, titles=titles, deck=deck_id, recording=recording_id)
    if not keep:
        out["segments"] = [dict(s) for s in found]
    return out


def record(session: Session, deck: Asset, result: dict) -> list[Presentation]:
    """A finished alignment of `deck` (the job's `Outcome.timeline`): stored with each
    presentation that shows the deck, in the finishing transaction, unless the recording
    it was made from is no longer the webinar's (a replacement took over: its own job
    follows). Returns the presentations changed."""
    served = session.scalar(select(Asset.id).where(
        Asset.webinar_id == deck.webinar_id, Asset.kind == "recording", Asset.id == result["recording"]))
    recording = session.get(Asset, served) if served else None
    if recording is None or not recording.served:
        return []
    changed = []
    for p in session.scalars(select(Presentation).where(Presentation.deck_asset_id == deck.id)):
        timeline = merged(p.slide_timeline, result["segments"], proposed_start=result.get("proposed_start"),
                          titles=result.get("titles") or [], deck_id=deck.id, recording_id=recording.id)
        p.slide_timeline = timeline
        changed.append(p)
    apply_search_moments(session, deck)
    return changed


def alignable(asset: Asset) -> bool:
    """A deck, or a recording with a picture: the files an alignment pairs."""
    return asset.kind == "slides" or (asset.kind == "recording" and (asset.info or {}).get("kind", "video") == "video")


def effective(presentation: Presentation | None, deck: Asset | None, duration: float | None = None) -> dict | None:
    """What visitors see: {"segments", "source", "accepted", "proposed_start", "titles"},
    or None when nothing is known. The deck's `slide_times` win over any timeline; a
    presentation's own timeline (for this deck) over what the job found for the deck
    (kept in its info, for a deck given to a presentation after it was aligned)."""
    timeline = presentation.slide_timeline if presentation is not None else None
    if timeline and deck is not None and timeline.get("deck") not in (None, deck.id):
        timeline = None
    found = ((deck.info or {}).get("alignment") if deck is not None else None) or None
    titles = (timeline or found or {}).get("titles") or []
    times = ((deck.info or {}).get("slide_times") if deck is not None else None) or []
    if times:
        return {"segments": segments_from_times(times, duration), "source": TimelineSource.STAFF.value,
                "accepted": True, "proposed_start": None, "titles": titles}
    if not timeline:
        if not found or not isinstance(found.get("segments"), list):
            return None
        timeline = {"segments": found["segments"], "source": TimelineSource.FOUND.value, "accepted": False,
                    "proposed_start": found.get("proposed_start")}
    pages = int((deck.info or {}).get("page_count") or 0) if deck is not None else 0
    segments = [s for s in timeline.get("segments") or [] if not pages or 1 <= s["page"] <= pages]
    return {"segments": segments, "source": timeline.get("source", TimelineSource.FOUND.value),
            "accepted": bool(timeline.get("accepted")), "proposed_start": timeline.get("proposed_start"),
            "titles": titles}


def public(view: dict | None) -> dict | None:
    """An effective timeline as the API and the watch page give it: no storage keys."""
    if view is None:
        return None
    return {"source": view["source"], "accepted": view["accepted"], "proposed_start": view["proposed_start"],
            "segments": [{k: s[k] for k in ("start", "end", "page", "confidence")} for s in view["segments"]]}


def first_times(segments: list[dict]) -> dict[int, float]:
    """Each page's first appearance."""
    out: dict[int, float] = {}
    for s in sorted(segments, key=lambda s: s["start"]):
        out.setdefault(s["page"], s["start"])
    return out


def apply_search_moments(session: Session, deck: Asset) -> None:
    """A slide's search hit opens the moment its page is first on screen: the moments of
    the deck's pages written into its search documents (None where unknown)."""


    p = session.scalar(select(Presentation).where(Presentation.deck_asset_id == deck.id).limit(1))
    view = effective(p, deck) if p is not None else None
    moments = first_times(view["segments"]) if view else {}
    session.execute(update(SearchDocument).where(SearchDocument.asset_id == deck.id, SearchDocument.kind == "slide")
                    .values(at_seconds=None).execution_options(synchronize_session=False))
    for page, at in moments.items():
        session.execute(update(SearchDocument).where(
            SearchDocument.asset_id == deck.id, SearchDocument.kind == "slide", SearchDocument.page == page)
            .values(at_seconds=at).execution_options(synchronize_session=False))


# -- staff edits ----------------------------------------------------------------------

def for_review(presentation: Presentation, deck: Asset | None) -> dict | None:
    """The timeline staff review: the presentation's own for its deck, else what the job
    found for the deck; None when the deck was not aligned yet."""
    timeline = presentation.slide_timeline
    if deck is None:
        return None
    if timeline and timeline.get("deck") == deck.id:
        return timeline
    found = (deck.info or {}).get("alignment")
    if not found or not isinstance(found.get("segments"), list):
        return None
    return merged(None, found["segments"], proposed_start=found.get("proposed_start"),
                  titles=found.get("titles") or [], deck_id=deck.id, recording_id=found.get("recording") or "")


@dataclasses.dataclass(frozen=True)
class Edit:
    """One change staff make in the review: `move` (index, start), `remove` (index),
    `add` (start, page), `accept`, or `reset` (back to the found changes)."""

    action: str
    index: int | None = None
    start: float | None = None
    page: int | None = None


def edited(timeline: dict | None, edit: Edit, *, page_count: int, duration: float | None) -> dict:
    """The timeline after a staff edit; TimelineRejected when it cannot apply."""
    if timeline is None:
        timeline = {"segments": [], "found": [], "source": TimelineSource.FOUND.value, "accepted": False}
    out = dict(timeline)
    segments = [dict(s) for s in timeline.get("segments") or []]
    end = duration if duration else max([s["end"] for s in segments] + [0.0]) + 60.0
    if edit.action == "accept":
        out["accepted"] = True
        return out
    if edit.action == "reset":
        out.update(segments=[dict(s) for s in timeline.get("found") or []], source=TimelineSource.FOUND.value,
                   accepted=False)
        return out
    if edit.action in ("move", "remove"):
        if edit.index is None or not 0 <= edit.index < len(segments):
            raise TimelineRejected(N_("There is no such slide change."))
        i = edit.index
        seg = segments[i]
        prev = segments[i - 1] if i > 0 else None
        if edit.action == "remove":
            if prev is not None and seg["start"] - prev["end"] <= ADJACENT_SECONDS:
                prev["end"] = seg["end"]
            del segments[i]
        else:
            start = _checked_time(edit.start, end)
            low = prev["start"] + MIN_GAP_SECONDS if prev is not None else 0.0
            high = seg["end"] - MIN_GAP_SECONDS
            if not low <= start <= high:
                raise TimelineRejected(N_("A slide change cannot move past its neighbours."))
            if prev is not None and (seg["start"] - prev["end"] <= ADJACENT_SECONDS or prev["end"] > start):
                prev["end"] = round(start, 3)
            segments[i] = _segment(start, seg["end"], seg["page"], 1.0)
    elif edit.action == "add":
        start = _checked_time(edit.start, end)
        if edit.page is None or not 1 <= edit.page <= max(page_count, 1):
            raise TimelineRejected(N_("There is no such page in the deck."))
        if any(abs(s["start"] - start) < MIN_GAP_SECONDS for s in segments):
            raise TimelineRejected(N_("There is already a slide change at that time."))
        after = [s for s in segments if s["start"] > start]
        stop = after[0]["start"] if after else end
        for s in segments:
            if s["start"] < start < s["end"]:  # inside a segment: it ends where the new one starts
                stop = min(stop, s["end"])
                s["end"] = round(start, 3)
        segments.append(_segment(start, max(stop, start + MIN_GAP_SECONDS), edit.page, 1.0))
        segments.sort(key=lambda s: s["start"])
    else:
        raise TimelineRejected(N_("Unknown change."))
    out.update(segments=segments, source=TimelineSource.STAFF.value)
    return out


def _checked_time(value: float | None, end: float) -> float:
    if value is None or value < 0 or value > end:
        raise TimelineRejected(N_("The time is outside the recording."))
    return round(float(value), 3)
