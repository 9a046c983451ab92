"""Reading the catalog and keeping each webinar's manifest in the bucket."""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .context import Archive
from .models import Asset, Job, Webinar
from .pipeline import LABELS

LISTED = ("public",)
VIEWABLE = ("public", "unlisted")


def get(session: Session, webinar_id: str) -> Webinar | None:
    return session.scalars(
        select(Webinar).where(Webinar.id == webinar_id).options(selectinload(Webinar.assets))
    ).first()


def listed(session: Session) -> list[Webinar]:
    return list(session.scalars(
        select(Webinar).where(Webinar.visibility.in_(LISTED))
        .options(selectinload(Webinar.assets))
        .order_by(Webinar.held_on.desc(), Webinar.created_at.desc())
    ))


def manifest(webinar: Webinar) -> dict:
    """Everything needed to rebuild the catalog row from the bucket alone."""
    return {
        "format": 1,
        "id": webinar.id,
        "title": webinar.title,
        "held_on": webinar.held_on.isoformat() if webinar.held_on else None,
        "description": webinar.description,
        "visibility": webinar.visibility,
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


JOB_LABELS = LABELS  # staff and visitors see these names for the jobs


def jobs_of(session: Session, webinar_id: str) -> list[Job]:
    """The webinar's jobs, oldest first: what the page shows while it is being processed."""
    return list(session.scalars(
        select(Job).join(Asset).where(Asset.webinar_id == webinar_id).order_by(Job.id)))
