"""What the worker does with each job: make the derived files from an original.

Every handler downloads the original to local scratch space, checks its SHA-256,
writes its outputs under fixed keys (a rerun replaces, never duplicates) and
returns the asset's new info and outputs.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

from . import media, slides
from .context import Archive
from .hashing import sha256_file
from .jobs import Heartbeat, PermanentError
from .models import Asset

Result = tuple[dict, dict]  # (info, outputs)


def _fetch_original(archive: Archive, asset: Asset, workdir: Path) -> Path:
    local = workdir / f"original.{asset.original_ext}"
    archive.store.download_file(asset.original_key, local)
    digest = sha256_file(local)
    if digest != asset.sha256:
        raise PermanentError(f"the stored original does not match its checksum "
                             f"(expected {asset.sha256[:12]}…, found {digest[:12]}…)")
    return local


def process_recording(archive: Archive, asset: Asset, hb: Heartbeat) -> Result:
    timeout = archive.settings.ffmpeg_timeout_seconds
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="rec-") as tmp:
        work = Path(tmp)
        src = _fetch_original(archive, asset, work)
        info = media.probe(src)
        plan = media.plan_web(info)
        web_name = "web.mp4" if info.has_video else "audio.m4a"
        web = work / web_name
        # Stream copy takes seconds; an encode reports progress as it goes.
        media.run_ffmpeg(media.web_rendition_args(src, web, info, plan), timeout, info.duration,
                         lambda f: hb.progress(f * 0.9))
        poster = work / "poster.jpg"
        media.run_ffmpeg(media.poster_args(src, poster, info), min(timeout, 600))
        outputs = {"web": asset.derived_key(web_name), "poster": asset.derived_key("poster.jpg")}
        archive.store.upload_file(web, outputs["web"], "video/mp4" if info.has_video else "audio/mp4")
        archive.store.upload_file(poster, outputs["poster"], "image/jpeg")
        result_info = {**info.summary(), "web_plan": {"video": plan.video, "audio": plan.audio}}
        return result_info, outputs


def process_slides(archive: Archive, asset: Asset, hb: Heartbeat) -> Result:
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="deck-") as tmp:
        work = Path(tmp)
        src = _fetch_original(archive, asset, work)
        deck = slides.inspect_pdf(src)
        hb.progress(0.1)
        images = slides.render_pages(src, work / "pages")
        hb.progress(0.7)
        texts = slides.page_texts(src)
        pages: dict[str, list[str]] = {}
        for size, files in images.items():
            pages[size] = []
            for f in files:
                key = asset.derived_key(f"pages/{f.name}")
                archive.store.upload_file(f, key, "image/webp")
                pages[size].append(key)
        text_key = asset.derived_key("text.json")
        archive.store.put_bytes(text_key, json.dumps({"pages": texts}, ensure_ascii=False).encode(),
                                "application/json")
        info = {**asset.info, "page_count": deck.page_count}
        if deck.title:
            info["title"] = deck.title
        # The PDF original is already the canonical PDF: point at it, do not copy it.
        return info, {"pdf": asset.original_key, "pages": pages, "text": text_key}


HANDLERS: dict[str, Callable[[Archive, Asset, Heartbeat], Result]] = {
    "process_recording": process_recording,
    "process_slides": process_slides,
}

PERMANENT = (PermanentError, media.MediaRejected, slides.SlidesRejected)
