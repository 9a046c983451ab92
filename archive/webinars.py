"""Each webinar's manifest in the bucket. The catalog's reads live in archive/queries.py."""
from __future__ import annotations

import json

from .context import Archive
from .models import Webinar
from .pipeline import LABELS
from .queries import get  # noqa: F401  (worker.py and tests read it from here)


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


JOB_LABELS = LABELS  # staff and visitors see these names for the jobs

