"""`webinar-archive rebuild-catalog`: the catalog made again from the bucket's manifests.

Each webinar's `manifest.json` (archive/webinars.py) holds its row, its series, tags,
speakers (as they were when it was written), presentations with their speakers, decks and
start times, and its files with their checksums, outputs and info (slide times, caption
languages, page counts). From those alone this writes every row back, with the same ids,
into an empty catalog, indexes the webinars for search again (slide text from each deck's
`text.json`, captions from their WebVTT), and queues the first job of any file that was
not processed yet. Accounts, sessions, statistics and past jobs are not in the bucket and
stay empty. Shared rows named by several manifests take the newest copy (`updated_at`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select

from . import captions, jobs, pipeline, search
from .context import Archive
from .models import (Asset, Presentation, PresentationSpeaker, Series, Speaker, Tag, Webinar, WebinarSpeaker,
                     slugify, utcnow)
from .states import AssetStatus
from .storage import StorageError

log = logging.getLogger(__name__)


class RebuildRefused(Exception):
    """The catalog is not empty, or the bucket holds no usable manifest."""


@dataclass
class Rebuilt:
    webinars: list[str] = field(default_factory=list)
    speakers: int = 0
    series: int = 0
    assets: int = 0
    jobs: int = 0
    skipped: list[str] = field(default_factory=list)  # "key: why" for manifests not read


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def _newer(candidate: dict, held: dict | None) -> bool:
    return held is None or (candidate.get("updated_at") or "") > (held.get("updated_at") or "")


def read_manifests(archive: Archive) -> tuple[list[dict], list[str]]:
    """Every webinar's manifest in the bucket, and the keys that could not be read (why)."""
    found, skipped = [], []
    for key in sorted(archive.store.list_keys("webinars/")):
        parts = key.split("/")
        if len(parts) != 3 or parts[2] != "manifest.json":
            continue
        try:
            doc = json.loads(archive.store.get_bytes(key))
        except (StorageError, ValueError) as e:
            skipped.append(f"{key}: {e}")
            continue
        if not isinstance(doc, dict) or doc.get("id") != parts[1] or doc.get("format") not in (2, 3):
            skipped.append(f"{key}: not a manifest this version reads")
            continue
        found.append(doc)
    return found, skipped


def rebuild(archive: Archive) -> Rebuilt:
    """Write the catalog's rows from the manifests; the catalog must hold no webinar."""
    with archive.catalog.session() as s:
        if s.scalar(select(func.count()).select_from(Webinar)) or s.scalar(select(func.count()).select_from(Asset)):
            raise RebuildRefused("the catalog already holds webinars; rebuild into an empty catalog "
                                 "(a new database, migrated)")
    docs, skipped = read_manifests(archive)
    if not docs and skipped:
        raise RebuildRefused(f"no manifest could be read: {skipped[0]}")
    done = Rebuilt(skipped=skipped)

    # Shared rows first: the newest copy of each among the manifests.
    series: dict[str, dict] = {}
    tags: dict[str, dict] = {}
    speakers: dict[str, dict] = {}
    for doc in docs:
        if doc.get("series") and _newer(doc, series.get(doc["series"]["id"])):
            series[doc["series"]["id"]] = {**doc["series"], "updated_at": doc.get("updated_at")}
        for t in doc.get("tags") or []:
            tags.setdefault(t["slug"], t)
        for sp in doc.get("speakers") or []:
            if _newer(sp, speakers.get(sp["id"])):
                speakers[sp["id"]] = sp

    texts: dict[str, list[dict]] = {}
    for doc in docs:
        for a in doc.get("assets") or []:
            found = _texts(archive, a)
            if found is not None:
                texts[a["id"]] = found

    with archive.catalog.transaction() as s:
        series_rows = {sid: Series(id=sid, slug=v["slug"], title=v["title"], description=v.get("description") or "")
                       for sid, v in series.items()}
        tag_rows = {slug: Tag(id=t.get("id") or _tag_id(slug), slug=slug, name=t["name"]) for slug, t in tags.items()}
        speaker_rows = {sid: _speaker(v) for sid, v in speakers.items()}
        s.add_all([*series_rows.values(), *tag_rows.values(), *speaker_rows.values()])
        for doc in docs:
            w = _webinar(doc, series_rows, tag_rows, speaker_rows)
            s.add(w)
            s.flush()
            search.index_webinar(s, w)
            for a in w.assets:
                if a.id in texts:
                    search.index_asset(s, a, texts[a.id])
                if a.status not in (AssetStatus.READY, AssetStatus.FAILED):
                    a.status = AssetStatus.QUEUED  # its job died with the old catalog: it starts again
                    pipeline.start(s, a, archive.settings.job_max_attempts)
                    done.jobs += 1
                elif a.status == AssetStatus.READY and a.kind == "recording" and not (a.info or {}).get("renditions"):
                    jobs.enqueue(s, a.id, "recording_renditions", archive.settings.job_max_attempts)
                    done.jobs += 1
            done.webinars.append(w.id)
            done.assets += len(w.assets)
        done.speakers, done.series = len(speaker_rows), len(series_rows)
    log.info("catalog rebuilt: %d webinar(s), %d file(s), %d job(s) queued", len(done.webinars), done.assets,
             done.jobs)
    return done


def _tag_id(slug: str) -> str:
    """A format-2 manifest names tags by slug alone: an id made from the slug, the same
    in every manifest."""
    return hashlib.sha256(slug.encode()).hexdigest()[:12]


def _speaker(v: dict) -> Speaker:
    photo = v.get("photo") or {}
    now = utcnow()
    return Speaker(id=v["id"], slug=v.get("slug") or slugify(v["name"]), name=v["name"],
                   organisation=v.get("organisation") or "", bio=v.get("bio") or "",
                   photo_key=photo.get("key"), photo_sha256=photo.get("sha256"),
                   photo_content_type=photo.get("content_type"),
                   created_at=_time(v.get("created_at")) or now, updated_at=_time(v.get("updated_at")) or now)


def _webinar(doc: dict, series: dict[str, Series], tags: dict[str, Tag], speakers: dict[str, Speaker]) -> Webinar:
    now = utcnow()
    w = Webinar(id=doc["id"], title=doc["title"],
                held_on=dt.date.fromisoformat(doc["held_on"]) if doc.get("held_on") else None,
                starts_at=_time(doc.get("starts_at")), timezone=doc.get("timezone"), language=doc.get("language"),
                description=doc.get("description") or "", visibility=doc["visibility"],
                publish_at=_time(doc.get("publish_at")),
                series=series[doc["series"]["id"]] if doc.get("series") else None,
                tags=[tags[t["slug"]] for t in doc.get("tags") or []],
                created_at=_time(doc.get("created_at")) or now, updated_at=_time(doc.get("updated_at")) or now,
                speaker_links=[], presentations=[])
    for position, sp in enumerate(doc.get("speakers") or []):
        w.speaker_links.append(WebinarSpeaker(speaker=speakers[sp["id"]], position=position))
    for a in doc.get("assets") or []:
        ext = a.get("original_ext") or a["original_key"].rsplit(".", 1)[-1]
        w.assets.append(Asset(id=a["id"], webinar_id=w.id, kind=a["kind"], position=a["position"],
                              original_filename=a["original_filename"], original_ext=ext,
                              content_type=a["content_type"], size=a["size"], sha256=a["sha256"],
                              status=a["status"], error=a.get("error"), info=a.get("info") or {},
                              outputs=a.get("outputs") or {}, created_at=_time(a.get("created_at")) or now))
    assets = {a.id for a in w.assets}
    for p in doc.get("presentations") or []:
        row = Presentation(id=p["id"], position=p["position"], title=p["title"],
                           deck_asset_id=p.get("deck_asset_id") if p.get("deck_asset_id") in assets else None,
                           start_seconds=p.get("start_seconds"), speaker_links=[])
        for i, sid in enumerate(p.get("speakers") or []):
            row.speaker_links.append(PresentationSpeaker(speaker=speakers[sid], position=i))
        w.presentations.append(row)
    return w


def _texts(archive: Archive, a: dict) -> list[dict] | None:
    """The searchable text a processed file's job found, read back from its outputs."""
    outputs = a.get("outputs") or {}
    try:
        if a["kind"] == "slides" and isinstance(outputs.get("text"), str):
            pages = json.loads(archive.store.get_bytes(outputs["text"])).get("pages") or []
            return [{"page": i + 1, "text": t} for i, t in enumerate(pages) if t]
        if a["kind"] == "captions" and isinstance(outputs.get("vtt"), str):
            cues = captions.parse(archive.store.get_bytes(outputs["vtt"]))
            return [{"at": c.start, "text": c.text} for c in cues if c.text.strip()]
    except (StorageError, ValueError, captions.CaptionsRejected) as e:
        log.warning("the text of %s was not read back: %s", a["id"], e)
    return None


__all__ = ["Rebuilt", "RebuildRefused", "rebuild", "read_manifests"]
