"""Slide decks: PDF is the canonical form. pypdfium2 checks, renders and reads it.

PPTX and ODP decks are checked and converted to PDF by `office`; `deck_kind` tells
the two apart by their bytes, never by the file name.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

# Page images: the viewer's size and a thumbnail strip.
PAGE_WIDTHS = {"large": 1600, "thumb": 320}
MAX_PAGES = 2000
MAX_PIXELS = 1600 * 4000  # a very tall page is rendered narrower, never huge
MAX_SIDE = 8000  # pixels on either side (WebP stops at 16383)


class SlidesRejected(Exception):
    """The deck cannot be used; the message says why (known-bad input: never retried)."""


@dataclass(frozen=True)
class DeckInfo:
    page_count: int
    page_sizes: list[tuple[float, float]]  # points
    title: str | None = None


_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


def deck_kind(path: Path) -> str:
    """What the bytes say: "pdf", or "office" for a zip or OLE file (office.py looks closer)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise SlidesRejected("the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(1024)
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
        return "office"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(_HTML_STARTS):
        raise SlidesRejected("not a PDF, PPTX or ODP file: it is a web page (HTML), "
                             "perhaps an error or sign-in page saved instead of the deck")
    raise SlidesRejected("not a PDF, PPTX or ODP file")


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
                if w_pt < 1 or h_pt < 1:
                    raise SlidesRejected(f"page {i + 1} has no usable size ({w_pt:g} x {h_pt:g} pt)")
                for name, width in widths.items():
                    scale = render_scale(w_pt, h_pt, width)
                    image = page.render(scale=scale).to_pil()
                    target = out_dir / f"{name}-{i + 1:04d}.webp"
                    image.convert("RGB").save(target, "WEBP", quality=85, method=4)
                    result[name].append(target)
            finally:
                page.close()
    finally:
        doc.close()
    return result


def render_scale(w_pt: float, h_pt: float, width: int) -> float:
    """Pixels per point for a page `width` pixels wide, within MAX_PIXELS and MAX_SIDE."""
    return min(width / w_pt, (MAX_PIXELS / (w_pt * h_pt)) ** 0.5, MAX_SIDE / max(w_pt, h_pt))


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
