"""The PDF child: pypdfium2 opens, checks, renders and reads an untrusted PDF here, in a
process of its own started by `slides` through `runner` (time and memory limits, no
network, dies with the worker), never in the worker itself.

    python -P -m archive.render_pdf inspect PDF --max-pages N
    python -P -m archive.render_pdf render PDF OUT_DIR --max-pages N --width large=1600 ...

stdout carries `progress <done> <pages>` lines, then one `result <json>` line: the deck
(`page_count`, `page_sizes`, `title`, and when rendering `images` and `texts`) or
`{"rejected": "<why>"}`. Anything else (a traceback, a crash, a kill) is the parent's to
report.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pypdfium2 as pdfium

from .slides import SlidesRejected, render_scale
from .wording import N_


def _open(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        text = str(e)
        if "password" in text.lower():
            raise SlidesRejected(N_("the PDF is password-protected; upload it without a password")) from e
        raise SlidesRejected(N_("the PDF cannot be read: %(reason)s", reason=text)) from e


def _summary(doc: pdfium.PdfDocument, max_pages: int) -> dict:
    n = len(doc)
    if n == 0:
        raise SlidesRejected(N_("the PDF has no pages"))
    if n > max_pages:
        raise SlidesRejected(N_("the PDF has %(pages)s pages; at most %(max)s are accepted", pages=n, max=max_pages))
    sizes = [list(doc.get_page_size(i)) for i in range(n)]
    title = (doc.get_metadata_dict().get("Title") or "").strip() or None
    return {"page_count": n, "page_sizes": sizes, "title": title}


def _progress(done: int, total: int) -> None:
    print(f"progress {done} {total}", flush=True)


def render(doc: pdfium.PdfDocument, out_dir: Path, widths: dict[str, int]) -> dict:
    """WebP images of every page at each width, and each page's text; one page load each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, list[str]] = {name: [] for name in widths}
    texts: list[str] = []
    n = len(doc)
    for i in range(n):
        page = doc[i]
        try:
            w_pt, h_pt = page.get_size()
            if not (w_pt >= 1 and h_pt >= 1):  # also NaN
                raise SlidesRejected(f"page {i + 1} has no usable size ({w_pt:g} x {h_pt:g} pt)")
            for name, width in widths.items():
                image = page.render(scale=render_scale(w_pt, h_pt, width)).to_pil()
                target = out_dir / f"{name}-{i + 1:04d}.webp"
                image.convert("RGB").save(target, "WEBP", quality=85, method=4)
                images[name].append(target.name)
            textpage = page.get_textpage()
            try:
                texts.append(textpage.get_text_bounded().replace("\r\n", "\n").strip())
            finally:
                textpage.close()
        finally:
            page.close()
        _progress(i + 1, n)
    return {"images": images, "texts": texts}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="archive.render_pdf")
    p.add_argument("mode", choices=("inspect", "render"))
    p.add_argument("pdf", type=Path)
    p.add_argument("out_dir", type=Path, nargs="?")
    p.add_argument("--max-pages", type=int, required=True)
    p.add_argument("--width", action="append", default=[], help="NAME=PIXELS")
    args = p.parse_args(argv)
    try:
        doc = _open(args.pdf)
        try:
            result = _summary(doc, args.max_pages)
            if args.mode == "render":
                widths = {k: int(v) for k, v in (w.split("=", 1) for w in args.width)}
                result.update(render(doc, args.out_dir, widths))
        finally:
            doc.close()
    except SlidesRejected as e:
        result = {"rejected": str(e)}
    except MemoryError:
        result = {"out_of_memory": True}
    # ASCII: a title or text with a lone surrogate (a broken UTF-16 string) still prints.
    print("result " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
