"""Each webinar's manifest in the bucket. The catalog's reads live in archive/queries.py."""
from __future__ import annotations

import datetime as dt
import json

from .context import Archive
from .models import Speaker, Webinar


FORMAT = 3


def _utc(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _speaker(sp: Speaker) -> dict:
    return {"id": sp.id, "slug": sp.slug, "name": sp.name, "organisation": sp.organisation, "bio": sp.bio,
            "photo": ({"key": sp.photo_key, "sha256": sp.photo_sha256, "content_type": sp.photo_content_type}
                      if sp.photo_key else None),
            "created_at": _utc(sp.created_at), "updated_at": _utc(sp.updated_at)}


def manifest(webinar: Webinar) -> dict:
    """Everything needed to rebuild the catalog rows from the bucket alone. Shared rows
    (series, tags, speakers) are copied in as they were when the manifest was written.

    Format 3 added the rows' times, tag ids and each asset's extension (archive/rebuild.py
    reads format 2 too, taking those from the keys or the time of the rebuild)."""
    series = webinar.series
    return {
        "format": FORMAT,
        "id": webinar.id,
        "title": webinar.title,
        "held_on": webinar.held_on.isoformat() if webinar.held_on else None,
        "starts_at": _utc(webinar.starts_at),
        "timezone": webinar.timezone,
        "language": webinar.language,
        "description": webinar.description,
        "visibility": webinar.visibility,
        "publish_at": _utc(webinar.publish_at),
        "created_at": _utc(webinar.created_at),
        "updated_at": _utc(webinar.updated_at),
        "series": ({"id": series.id, "slug": series.slug, "title": series.title,
                    "description": series.description} if series else None),
        "tags": [{"id": t.id, "slug": t.slug, "name": t.name} for t in sorted(webinar.tags, key=lambda t: t.slug)],
        "speakers": [_speaker(sp) for sp in webinar.speakers],
        "presentations": [
            {"id": p.id, "position": p.position, "title": p.title, "speakers": [sp.id for sp in p.speakers],
             "deck_asset_id": p.deck_asset_id,
             "start_seconds": p.start_seconds,
             "slide_timeline": p.slide_timeline}
            for p in webinar.presentations
        ],
        "assets": [
            {
                "id": a.id, "kind": a.kind, "position": a.position,
                "original_filename": a.original_filename, "original_key": a.original_key,
                "original_ext": a.original_ext, "created_at": _utc(a.created_at),
                "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
                "status": a.status, "error": a.error, "info": a.info, "outputs": a.outputs,
            }
            # A replacement in processing is not the webinar yet; an upload still being read
            # (no SHA-256 yet) is not in the archive yet.
            for a in webinar.served_assets if a.verified
        ],
    }


def write_manifest(archive: Archive, webinar: Webinar) -> None:
    body = json.dumps(manifest(webinar), indent=2, ensure_ascii=False).encode("utf-8")
    archive.store.put_bytes(webinar.manifest_key, body, "application/json")
    # The webinar may have been deleted while this was written: the deletion removes its
    # objects after its commit, so a row still there means the deletion will take this
    # one too, and a row gone means it may have listed the prefix already.
    with archive.catalog.session() as s:
        gone = s.get(Webinar, webinar.id) is None
    if gone:
        archive.store.delete_keys([webinar.manifest_key])
