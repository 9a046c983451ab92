"""Slide decks: PDF is the canonical form. pypdfium2 checks, renders and reads it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

# Page images: the viewer's size and a thumbnail strip.
PAGE_WIDTHS = {"large": 1600, "thumb": 320}
MAX_PAGES = 2000
MAX_PIXELS = 1600 * 4000  # a very tall page is rendered narrower, never huge


class SlidesRejected(Exception):
    """The deck cannot be used; the message says why (known-bad input: never retried)."""


@dataclass(frozen=True)
class DeckInfo:
    page_count: int
    page_sizes: list[tuple[float, float]]  # points
    title: str | None = None


def _open(path: Path) -> pdfium.PdfDocument:
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise SlidesRejected("the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(1024)
    if b"%PDF-" not in head:
        raise SlidesRejected("not a PDF file (no %PDF header)")
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        text = str(e)
        if "password" in text.lower():
            raise SlidesRejected("the PDF is password-protected; upload it without a password") from e
        raise SlidesRejected(f"the PDF cannot be read: {text}") from e


def inspect_pdf(path: Path) -> DeckInfo:
    doc = _open(path)
    try:
        n = len(doc)
        if n == 0:
            raise SlidesRejected("the PDF has no pages")
        if n > MAX_PAGES:
            raise SlidesRejected(f"the PDF has {n} pages; at most {MAX_PAGES} are accepted")
        sizes = [tuple(doc.get_page_size(i)) for i in range(n)]
        title = (doc.get_metadata_dict().get("Title") or "").strip() or None
        return DeckInfo(page_count=n, page_sizes=sizes, title=title)
    finally:
        doc.close()


def render_pages(path: Path, out_dir: Path, widths: dict[str, int] = PAGE_WIDTHS) -> dict[str, list[Path]]:
    """WebP images of every page at each width; returns {size name: [file per page]}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, list[Path]] = {name: [] for name in widths}
    doc = _open(path)
    try:
        for i in range(len(doc)):
            page = doc[i]
            try:
                w_pt, h_pt = page.get_size()
                if w_pt <= 0 or h_pt <= 0:
                    raise SlidesRejected(f"page {i + 1} has no size")
                for name, width in widths.items():
                    scale = width / w_pt
                    if (w_pt * scale) * (h_pt * scale) > MAX_PIXELS:
                        scale = (MAX_PIXELS / (w_pt * h_pt)) ** 0.5
                    image = page.render(scale=scale).to_pil()
                    target = out_dir / f"{name}-{i + 1:04d}.webp"
                    image.convert("RGB").save(target, "WEBP", quality=85, method=4)
                    result[name].append(target)
            finally:
                page.close()
    finally:
        doc.close()
    return result


def page_texts(path: Path) -> list[str]:
    doc = _open(path)
    try:
        texts = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            try:
                texts.append(textpage.get_text_bounded().replace("\r\n", "\n").strip())
            finally:
                textpage.close()
                page.close()
        return texts
    finally:
        doc.close()
