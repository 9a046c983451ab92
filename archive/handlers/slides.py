"""Slide-deck jobs: PDF pages as images and text; a PPTX/ODP is made safe and converted first."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .. import decks, libreoffice, slides
from ..context import Archive
from ..jobs import Heartbeat, PermanentError
from ..models import Asset
from ..wording import N_
from .common import Outcome, fetch_original, upload_files


def process_slides(archive: Archive, asset: Asset, hb: Heartbeat) -> Outcome:
    """Everything that can reject the deck runs before the first upload."""
    settings = archive.settings
    with tempfile.TemporaryDirectory(dir=settings.work_dir, prefix="deck-") as tmp:
        work = Path(tmp)
        src = fetch_original(archive, asset, work)
        info: dict = {}
        converted = asset.original_ext != "pdf"
        if converted:
            fmt = decks.FORMATS.get(asset.original_ext)
            if fmt is None:
                raise PermanentError(N_("slides stored as .%(ext)s cannot be converted", ext=asset.original_ext))
            clean = work / f"clean.{fmt.ext}"
            removed = decks.sanitize_package(src, clean)
            if removed:
                info["external_links_removed"] = removed
            pdf = work / "deck.pdf"
            libreoffice.convert_to_pdf(clean, pdf, fmt, libreoffice.office_limits(settings), tmp_root=work)
            hb.progress(0.3)
        else:
            pdf = src
        start = 0.3 if converted else 0.05
        rendered = slides.render_deck(pdf, work / "pages", slides.render_limits(settings), settings.deck_max_pages,
                                      on_progress=lambda f: hb.progress(start + f * (0.9 - start)))
        deck = rendered.info
        hb.check()
        pages = {size: [asset.derived_key(f"pages/{f.name}") for f in files]
                 for size, files in rendered.images.items()}
        upload_files(archive, [(f, asset.derived_key(f"pages/{f.name}"), "image/webp")
                               for files in rendered.images.values() for f in files])
        text_key = asset.derived_key("text.json")
        archive.store.put_bytes(text_key, json.dumps({"pages": rendered.texts}, ensure_ascii=False).encode(),
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
                       texts=[{"page": i + 1, "text": t} for i, t in enumerate(rendered.texts) if t])
