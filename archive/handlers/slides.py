"""Slide-deck jobs: PDF pages as images and text; a PPTX/ODP is made safe and converted first."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .. import office, slides
from ..context import Archive
from ..jobs import Heartbeat, PermanentError
from ..models import Asset
from .common import Outcome, fetch_original


def process_slides(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    """Everything that can reject the deck runs before the first upload."""
    with tempfile.TemporaryDirectory(dir=archive.settings.work_dir, prefix="deck-") as tmp:
        work = Path(tmp)
        src = fetch_original(archive, asset, work)
        info: dict = {}
        converted = asset.original_ext != "pdf"
        if converted:
            fmt = office.FORMATS.get(asset.original_ext)
            if fmt is None:
                raise PermanentError(f"slides stored as .{asset.original_ext} cannot be converted")
            clean = work / f"clean.{fmt.ext}"
            removed = office.sanitize_package(src, clean)
            if removed:
                info["external_links_removed"] = removed
            pdf = work / "deck.pdf"
            office.convert_to_pdf(clean, pdf, fmt, office.TIMEOUT_SECONDS, tmp_root=work)
            hb.progress(0.3)
        else:
            pdf = src
        deck = slides.inspect_pdf(pdf)
        hb.progress(0.4 if converted else 0.1)
        images = slides.render_pages(pdf, work / "pages")
        hb.progress(0.8)
        texts = slides.page_texts(pdf)
        hb.check()
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
        info["page_count"] = deck.page_count
        if deck.title:
            info["title"] = deck.title
        if converted:
            pdf_key = asset.derived_key("deck.pdf")
            archive.store.upload_file(pdf, pdf_key, "application/pdf")
        else:  # the PDF original is already the canonical PDF: point at it, do not copy it
            pdf_key = asset.original_key
        return Outcome(outputs={"pdf": pdf_key, "pages": pages, "text": text_key}, info=info,
                       texts=[{"page": i + 1, "text": t} for i, t in enumerate(texts) if t])
