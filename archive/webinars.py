"""Reading the catalog and keeping each webinar's manifest in the bucket."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from .context import Archive
from .models import Asset, Job, Presentation, PresentationSpeaker, Speaker, Webinar, WebinarSpeaker, utcnow

LISTED = ("public",)
VIEWABLE = ("public", "unlisted")

# Everything a page or the manifest reads, loaded up front: rows outlive their session.
_FULL = (
    selectinload(Webinar.assets),
    selectinload(Webinar.series),
    selectinload(Webinar.tags),
    selectinload(Webinar.speaker_links).selectinload(WebinarSpeaker.speaker),
    selectinload(Webinar.presentations).selectinload(Presentation.speaker_links)
    .selectinload(PresentationSpeaker.speaker),
    selectinload(Webinar.presentations).selectinload(Presentation.deck),
)


def get(session: Session, webinar_id: str) -> Webinar | None:
    return session.scalars(select(Webinar).where(Webinar.id == webinar_id).options(*_FULL)).first()


def listed(session: Session, now: dt.datetime | None = None) -> list[Webinar]:
    """Public webinars whose publish_at has passed, newest first."""
    now = now or utcnow()
    return list(session.scalars(
        select(Webinar).where(Webinar.visibility.in_(LISTED),
                              or_(Webinar.publish_at.is_(None), Webinar.publish_at <= now))
        .options(*_FULL)
        .order_by(Webinar.held_on.desc(), Webinar.created_at.desc())
    ))


def is_viewable(webinar: Webinar, now: dt.datetime | None = None) -> bool:
    """Whether anyone with the link may see it now (public or unlisted, publish_at passed)."""
    return webinar.visibility in VIEWABLE and webinar.is_published(now)


def _utc(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _speaker(sp: Speaker) -> dict:
    return {"id": sp.id, "slug": sp.slug, "name": sp.name, "organisation": sp.organisation, "bio": sp.bio,
            "photo": ({"key": sp.photo_key, "sha256": sp.photo_sha256, "content_type": sp.photo_content_type}
                      if sp.photo_key else None)}


def manifest(webinar: Webinar) -> dict:
    """Everything needed to rebuild the catalog rows from the bucket alone. Shared rows
    (series, tags, speakers) are copied in as they were when the manifest was written."""
    series = webinar.series
    return {
        "format": 2,
        "id": webinar.id,
        "title": webinar.title,
        "held_on": webinar.held_on.isoformat() if webinar.held_on else None,
        "starts_at": _utc(webinar.starts_at),
        "timezone": webinar.timezone,
        "language": webinar.language,
        "description": webinar.description,
        "visibility": webinar.visibility,
        "publish_at": _utc(webinar.publish_at),
        "series": ({"id": series.id, "slug": series.slug, "title": series.title,
                    "description": series.description} if series else None),
        "tags": [{"slug": t.slug, "name": t.name} for t in sorted(webinar.tags, key=lambda t: t.slug)],
        "speakers": [_speaker(sp) for sp in webinar.speakers],
        "presentations": [
            {"id": p.id, "position": p.position, "title": p.title, "speakers": [sp.id for sp in p.speakers],
             "deck_asset_id": p.deck_asset_id,
             "start_seconds": p.start_seconds}
            for p in webinar.presentations
        ],
        "assets": [
            {
                "id": a.id, "kind": a.kind, "position": a.position,
                "original_filename": a.original_filename, "original_key": a.original_key,
                "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
                "status": a.status, "error": a.error, "info": a.info, "outputs": a.outputs,
            }
            for a in webinar.assets
        ],
    }


def write_manifest(archive: Archive, webinar: Webinar) -> None:
    body = json.dumps(manifest(webinar), indent=2, ensure_ascii=False).encode("utf-8")
    archive.store.put_bytes(webinar.manifest_key, body, "application/json")


def status_dict(webinar: Webinar, base_url: str) -> dict:
    d = {
        "id": webinar.id,
        "title": webinar.title,
        "url": f"{base_url}/webinars/{webinar.id}",
        "status": webinar.status,
        "assets": [{"id": a.id, "kind": a.kind, "file": a.original_filename, "status": a.status,
                    **({"error": a.error} if a.error else {})} for a in webinar.assets],
    }
    if webinar.status == "failed":
        d["error"] = "; ".join(webinar.errors)
    return d


def asset(session: Session, webinar_id: str, asset_id: str) -> Asset | None:
    a = session.get(Asset, asset_id)
    return a if a is not None and a.webinar_id == webinar_id else None


JOB_LABELS = {
    "process_recording": "Making the recording watchable",
    "recording_renditions": "Renditions for slow links, audio downloads, timeline thumbnails",
    "process_slides": "Slide pages and text",
    "process_captions": "Captions",
}


def jobs_of(session: Session, webinar_id: str) -> list[Job]:
    """The webinar's jobs, oldest first: what the page shows while it is being processed."""
    return list(session.scalars(
        select(Job).join(Asset).where(Asset.webinar_id == webinar_id).order_by(Job.id)))
