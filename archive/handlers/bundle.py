"""The "all slides" ZIP of a webinar, made once by the worker after a deck is ready.

Its key is derived from the decks it holds (ids and checksums), so two of these jobs
running at once for the same webinar can only ever write the same bytes to the same key,
and the page offers the bundle whose decks are exactly the webinar's ready decks.
"""
from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path

from sqlalchemy import select

from ..context import Archive
from ..jobs import Heartbeat
from ..models import Asset
from ..states import AssetStatus
from .common import Outcome, fetch_original

BUNDLES = "slides/bundles/"


def ready_decks(archive: Archive, webinar_id: str) -> list[Asset]:
    with archive.catalog.session() as s:
        return list(s.scalars(select(Asset).where(
            Asset.webinar_id == webinar_id, Asset.kind == "slides", Asset.status == AssetStatus.READY)
            .order_by(Asset.position, Asset.id)))


def bundle_key(webinar_prefix: str, decks: list[Asset]) -> str:
    digest = hashlib.sha256("\n".join(f"{d.id}:{d.sha256}" for d in decks).encode()).hexdigest()[:16]
    return f"{webinar_prefix}{BUNDLES}slides-{digest}.zip"


def archive_names(decks: list[Asset]) -> list[str]:
    """Each deck under its original file name, numbered when two names collide."""
    names, seen = [], set()
    for d in decks:
        name = Path(d.original_filename).name or f"slides.{d.original_ext}"
        stem, dot, ext = name.rpartition(".")
        candidate, n = name, 2
        while candidate.lower() in seen:
            candidate = f"{stem} ({n}).{ext}" if dot else f"{name} ({n})"
            n += 1
        seen.add(candidate.lower())
        names.append(candidate)
    return names


def slides_bundle(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    decks = ready_decks(archive, asset.webinar_id)
    if not decks:
        return Outcome()
    prefix = f"webinars/{asset.webinar_id}/"
    key = bundle_key(prefix, decks)
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="zip-") as tmp:
        work = Path(tmp)
        bundle = work / "slides.zip"
        # Decks are compressed formats already (PDF streams, zipped PPTX/ODP): store them.
        with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_STORED) as z:
            for deck, name in zip(decks, archive_names(decks)):
                z.write(fetch_original(archive, deck, work), arcname=name)
        hb.check()
        archive.store.upload_file(bundle, key, "application/zip")
        size = bundle.stat().st_size
    return Outcome(outputs={"bundle": {"key": key, "size": size, "decks": [d.id for d in decks]}})


def current_bundle(decks: list[Asset]) -> dict | None:
    """The bundle that holds exactly these (ready) decks, if one was made."""
    ids = [d.id for d in decks if d.status == AssetStatus.READY]
    for d in decks:
        b = d.outputs.get("bundle") if d.outputs else None
        if b and b.get("decks") == ids:
            return b
    return None
