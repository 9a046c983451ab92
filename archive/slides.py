"""Slide decks: PDF is the canonical form. pypdfium2 checks, renders and reads it, in a
child process (`render_pdf`) run through `runner` within the limits from Settings, so
that a 2,000-page deck or a pathological page ends with a clear error and the worker
goes on.

PPTX and ODP decks are checked (`decks`) and converted to PDF (`libreoffice`) first;
`deck_kind` tells the two apart by their bytes, never by the file name.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import runner
from .wording import N_

# Page images: the viewer's size and a thumbnail strip.
PAGE_WIDTHS = {"large": 1600, "thumb": 320}
MAX_PIXELS = 1600 * 4000  # a very tall page is rendered narrower, never huge
MAX_SIDE = 8000  # pixels on either side (WebP stops at 16383)


class SlidesRejected(Exception):
    """The deck cannot be used; the message says why (known-bad input: never retried)."""


class RenderFailed(SlidesRejected):
    """The PDF child went over a limit or crashed on this deck; `log` is its tail.
    Known-bad input too: the same deck would do the same again."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class DeckInfo:
    page_count: int
    page_sizes: list[tuple[float, float]]  # points
    title: str | None = None


@dataclass(frozen=True)
class RenderedDeck:
    info: DeckInfo
    images: dict[str, list[Path]]  # size name -> one WebP per page
    texts: list[str] = field(default_factory=list)  # one per page


_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


def deck_kind(path: Path) -> str:
    """What the bytes say: "pdf", or "office" for a zip or OLE file (`decks` looks closer)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise SlidesRejected(N_("the file is empty (0 bytes)"))
    with open(path, "rb") as f:
        head = f.read(1024)
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
        return "office"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(_HTML_STARTS):
        raise SlidesRejected(N_("not a PDF, PPTX or ODP file: it is a web page (HTML), "
                                "perhaps an error or sign-in page saved instead of the deck"))
    raise SlidesRejected(N_("not a PDF, PPTX or ODP file"))


def render_scale(w_pt: float, h_pt: float, width: int) -> float:
    """Pixels per point for a page `width` pixels wide, within MAX_PIXELS and MAX_SIDE."""
    return min(width / w_pt, (MAX_PIXELS / (w_pt * h_pt)) ** 0.5, MAX_SIDE / max(w_pt, h_pt))


def render_limits(settings) -> runner.Limits:
    """The PDF child's limits, from Settings; it never needs the network."""
    return runner.Limits(settings.render_timeout_seconds, settings.render_memory_mb, network=False,
                         isolation=settings.tool_isolation)


# How running out of address space shows in the child's last words.
_OUT_OF_MEMORY = ("MemoryError", "failed to map segment", "Cannot allocate memory", "std::bad_alloc")
_PACKAGE = Path(__file__).resolve().parent
_PACKAGE_ROOT = str(_PACKAGE.parent)


def _child(args: list[str], pdf: Path, limits: runner.Limits, work: Path,
           on_progress: Callable[[float], None] | None) -> dict:
    """Run the PDF child on `pdf` (read-only; `work` its writable cwd); its result, or
    RenderFailed with a sentence."""
    result: list[dict] = []

    def line(text: str) -> None:
        if text.startswith("progress "):
            done, total = (int(x) for x in text.split()[1:3])
            if on_progress is not None:
                on_progress(done / total)
        elif text.startswith("result "):
            result.append(json.loads(text[len("result "):]))

    # -P: nothing from the scratch folder (the child's cwd) is ever imported.
    argv = [sys.executable, "-P", "-m", "archive.render_pdf", *args]
    env = runner.minimal_env(home=work, extra={"PYTHONPATH": _PACKAGE_ROOT})
    try:
        done = runner.run(argv, limits, cwd=work, env=env, on_stdout_line=line,
                          view=runner.python_view() + runner.View(read=(_PACKAGE, pdf)))
    except runner.ToolUnavailable:
        raise  # an operator's problem (no sandbox here): retried
    except runner.ToolError as e:
        raise RenderFailed(N_("reading the PDF took longer than the %(limit)s s limit "
                              "(too many pages, or a page too complex to draw)", limit=f"{limits.seconds:g}"),
                           e.log) from e
    out_of_memory = N_("reading the PDF needs more than the %(limit)s MB memory limit", limit=limits.memory_mb)
    if done.returncode == 0 and result:
        out = result[-1]
        if out.get("out_of_memory"):
            raise RenderFailed(out_of_memory, done.log)
        if "rejected" in out:
            raise SlidesRejected(out["rejected"])
        return out
    if done.returncode < 0:
        if limits.memory_mb:
            raise RenderFailed(N_("the PDF renderer was killed by signal %(signal)s on this deck (out of memory? "
                                  "the limit is %(limit)s MB)", signal=-done.returncode, limit=limits.memory_mb),
                               done.log)
        raise RenderFailed(N_("the PDF renderer was killed by signal %(signal)s on this deck",
                              signal=-done.returncode), done.log)
    if any(sign in ln for ln in done.log.splitlines()[-3:] for sign in _OUT_OF_MEMORY):
        raise RenderFailed(out_of_memory, done.log)
    last = done.log.strip().splitlines()[-1] if done.log.strip() else f"exit status {done.returncode}"
    raise RenderFailed(N_("the PDF could not be rendered: %(reason)s", reason=last), done.log)


def _check_header(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise SlidesRejected(N_("the file is empty (0 bytes)"))
    with open(path, "rb") as f:
        head = f.read(1024)
    if b"%PDF-" not in head:
        raise SlidesRejected(N_("not a PDF file (no PDF header)"))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: str) -> str:
    """Valid UTF-8 whatever the PDF held (a lone surrogate becomes U+FFFD)."""
    return _SURROGATE.sub("\ufffd", value)


def _deck_info(out: dict) -> DeckInfo:
    title = out.get("title")
    return DeckInfo(page_count=out["page_count"], page_sizes=[tuple(s) for s in out["page_sizes"]],
                    title=_text(title) if title else None)


def inspect_pdf(path: Path, limits: runner.Limits, max_pages: int, work: Path | None = None) -> DeckInfo:
    """Open and count a PDF in the child (the import check)."""
    path = Path(path).resolve()
    _check_header(path)
    with tempfile.TemporaryDirectory(prefix="pdf-", dir=work if work and Path(work).is_dir() else None) as tmp:
        out = _child(["inspect", str(path), "--max-pages", str(max_pages)], path, limits, Path(tmp), None)
    return _deck_info(out)


def render_deck(path: Path, out_dir: Path, limits: runner.Limits, max_pages: int,
                widths: dict[str, int] = PAGE_WIDTHS,
                on_progress: Callable[[float], None] | None = None) -> RenderedDeck:
    """Check a PDF, render every page at each width (WebP) and read its text, in one child."""
    path, out_dir = Path(path).resolve(), Path(out_dir).resolve()
    _check_header(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    args = ["render", str(path), str(out_dir), "--max-pages", str(max_pages),
            *(f"--width={name}={px}" for name, px in widths.items())]
    out = _child(args, path, limits, out_dir, on_progress)
    images = {name: [out_dir / f for f in files] for name, files in out["images"].items()}
    return RenderedDeck(info=_deck_info(out), images=images, texts=[_text(t) for t in out["texts"]])
