"""Staff's corrections of a caption track, cue by cue: the corrected text becomes human
captions (a new captions asset processed as an uploaded file is), which win over the
automatic track of their language and are never touched by the `transcribe` job. A
corrected human track replaces the one it was made from."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from . import captions, pipeline, transcripts
from .context import Archive
from .models import Asset, new_id
from .states import AssetStatus


@dataclass
class Track:
    asset: Asset
    cues: list[captions.Cue]


def track(archive: Archive, webinar_id: str, asset_id: str) -> Track | None:
    """A ready caption track of the webinar with its cues, or None."""
    with archive.catalog.session() as s:
        asset = s.scalars(select(Asset).where(Asset.id == asset_id, Asset.webinar_id == webinar_id,
                                              Asset.kind == "captions")).first()
    if asset is None or asset.status != AssetStatus.READY or "vtt" not in (asset.outputs or {}):
        return None
    return Track(asset, captions.parse(archive.store.get_bytes(asset.outputs["vtt"])))


def save(archive: Archive, source: Track, texts: list[str]) -> Asset:
    """The corrected track as new human captions, queued for processing like an upload
    (its end indexes it, and takes the automatic track of its language out of search)."""
    body = transcripts.corrected_vtt(source.cues, texts)
    old = source.asset
    language = old.info["language"]
    asset = Asset(id=new_id(), webinar_id=old.webinar_id, kind="captions", position=old.position,
                  original_filename=f"{language}-corrected.vtt", original_ext="vtt", content_type="text/vtt",
                  size=len(body), sha256=hashlib.sha256(body).hexdigest(), status=AssetStatus.QUEUED,
                  outputs={}, info={"language": language, "corrected_from": old.id})
    if not old.automatic:  # a human track corrected: the new one takes its place once processed
        asset.info["replaces"] = old.id
    archive.store.put_bytes(asset.original_key, body, "text/vtt; charset=utf-8")
    with archive.catalog.transaction() as s:
        s.add(asset)
        s.flush()
        pipeline.start(s, asset, archive.settings.job_max_attempts)
    return asset
