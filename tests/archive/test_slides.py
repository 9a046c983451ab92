"""Slide decks through the real pipeline: PDF, PPTX and ODP (real LibreOffice, real MinIO),
and the PDF child's limits (archive/slides.py, archive/render_pdf.py).

LibreOffice takes a few seconds per run, so the decks are made once per module and only
a handful of tests convert anything.
"""
from __future__ import annotations

import io
import json
import time
import zlib
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from archive import runner, slides
from archive.context import Archive
from archive.hashing import sha256_file
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.models import Asset, Job, Webinar
from archive.pdfgen import write_deck
from archive.worker import Worker

from ..conftest import make_settings
from ..helpers import reload as _reload
from .deck_inputs import ODP_TYPE, PPTX_TYPE, beamer_deck, deck_files, listener  # noqa: F401


def _import(archive, *deck: Path) -> Webinar:
    return import_webinar(archive, ImportRequest(title="Slides", slides=list(deck)))


def _count(archive, model) -> int:
    with archive.catalog.session() as s:
        return s.query(model).count()


def _pdf_pages(data: bytes) -> int:
    doc = pdfium.PdfDocument(data)
    try:
        return len(doc)
    finally:
        doc.close()


def _image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


# -- the PDF child ------------------------------------------------------------------------

def test_page_images_stay_bounded_however_large_the_page():
    assert slides.render_scale(14400, 14400, 1600) * 14400 == pytest.approx(1600)
    for w_pt, h_pt in [(600, 14400), (1, 14400), (14400, 1), (14400, 14400)]:
        s = slides.render_scale(w_pt, h_pt, 1600)
        assert (w_pt * s) * (h_pt * s) <= slides.MAX_PIXELS * 1.001
        assert max(w_pt, h_pt) * s <= slides.MAX_SIDE * 1.001


def test_rendering_a_14400_pt_page_needs_little_memory(tmp_path):
    """Three huge pages render within a 300 MB address-space limit (the child's own)."""
    pdf = tmp_path / "huge.pdf"
    doc = pdfium.PdfDocument.new()
    for w, h in [(14400, 14400), (600, 14400), (14400, 600)]:
        doc.new_page(w, h)  # at 1 px/pt the first alone would be an 830 MB bitmap
    doc.save(pdf)
    doc.close()
    rendered = slides.render_deck(pdf, tmp_path / "pages", runner.Limits(120, 300, network=False), 2000)
    sizes = {f.name: _image_size(f.read_bytes()) for f in (tmp_path / "pages").glob("*.webp")}
    assert sizes["large-0001.webp"] == (1600, 1600) and sizes["thumb-0001.webp"] == (320, 320)
    w, h = sizes["large-0002.webp"]
    assert w * h <= slides.MAX_PIXELS and h <= slides.MAX_SIDE
    assert sizes["large-0003.webp"] == (1600, 67)
    assert rendered.info.page_count == 3 and rendered.texts == ["", "", ""]


def test_the_renderer_runs_within_its_memory_limit(tmp_path, deck_files):
    """40 MB of address space is too little even to start: said in a sentence."""
    with pytest.raises(slides.RenderFailed, match="^reading the PDF needs more than the 40 MB memory limit$"):
        slides.render_deck(deck_files["huge.pdf"], tmp_path / "pages", runner.Limits(60, 40, network=False), 2000)


def pathological_pdf(path: Path, segments: int) -> Path:
    """One 14400 pt page whose single path has `segments` segments: a megabyte of PDF
    that pdfium needs seconds per rendering to draw."""
    ops = b"0.5 w 0 0 m\n" + b"".join(b"%d %d l\n" % ((i * 7919) % 14400, (i * 104729) % 14400)
                                      for i in range(segments)) + b"S\n"
    stream = zlib.compress(ops, 9)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] /Contents 4 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def short_render(minio, tmp_path):
    """An archive whose PDF child gets 3 s per deck."""
    a = Archive.from_settings(make_settings(minio, tmp_path, WEBINAR_ARCHIVE_RENDER_TIMEOUT="3"))
    a.setup()
    yield a
    a.close()


def test_a_2000_page_deck_and_a_pathological_page_end_at_the_limit_and_the_worker_goes_on(short_render, tmp_path):
    archive = short_render
    assert archive.settings.render_timeout_seconds == 3 and archive.settings.deck_max_pages == 2000
    # Pages full of text: drawing 2,000 of them at two sizes takes well over 3 s, however idle the machine.
    many = write_deck(tmp_path / "many.pdf", "Many", [(f"Slide {i}", [f"line {j} of a full page of text, "
                                                                       f"drawn at two sizes" for j in range(30)])
                                                      for i in range(2000)])
    slow = pathological_pdf(tmp_path / "slow.pdf", 1_000_000)
    fine = write_deck(tmp_path / "fine.pdf", "Fine", [("One", ["a"]), ("Two", ["b"])])
    w = _import(archive, many, slow, fine)  # the import check only counts: well within 3 s
    assert [d.info["page_count"] for d in w.decks] == [2000, 1, 2]
    started = time.monotonic()
    Worker(archive, name="test-worker").run_until_idle()
    assert time.monotonic() - started < 60
    decks_ = {d.original_filename: d for d in _reload(archive, w.id).decks}
    for name in ("many.pdf", "slow.pdf"):
        assert decks_[name].status == "failed", (name, decks_[name].info.get("page_count"))
        assert decks_[name].error == ("reading the PDF took longer than the 3 s limit "
                                      "(too many pages, or a page too complex to draw)")
        assert list(archive.store.list_keys(decks_[name].derived_prefix)) == []
    assert decks_["fine.pdf"].status == "ready", decks_["fine.pdf"].error
    with archive.catalog.session() as s:
        process = s.query(Job).filter(Job.kind == "process_slides").all()
        assert sorted((j.state, j.attempts) for j in process) == [("done", 1), ("failed", 1), ("failed", 1)]


def test_more_pages_than_the_setting_allows_are_refused_at_import(minio, tmp_path):
    archive = Archive.from_settings(make_settings(minio, tmp_path, WEBINAR_ARCHIVE_DECK_MAX_PAGES="5"))
    archive.setup()
    try:
        deck = write_deck(tmp_path / "six.pdf", "Six", [(f"Slide {i}", ["x"]) for i in range(6)])
        with pytest.raises(ImportRejected, match="slides six.pdf: the PDF has 6 pages; at most 5 are accepted"):
            _import(archive, deck)
    finally:
        archive.close()


# -- through the archive ---------------------------------------------------------------------

@pytest.mark.parametrize("name, ext, content_type, pages, title, texts", [
    ("talk.pptx", "pptx", PPTX_TYPE, 3, "Quarterly update",
     ["Quarterly update", "Alpha point", "Gamma point"]),
    ("talk.odp", "odp", ODP_TYPE, 2, None, ["Opening remarks", "Questions and answers"]),
])
def test_a_presentation_becomes_a_pdf_with_pages_and_text(archive, worker, deck_files, listener, tmp_path,
                                                         name, ext, content_type, pages, title, texts):
    w = _import(archive, deck_files[name])
    deck = w.decks[0]
    # stored as uploaded, with its real extension and type; nothing converted yet
    assert deck.original_key.endswith(f"/original.{ext}")
    head = archive.store.head(deck.original_key)
    assert head["content_type"] == content_type
    assert deck.info == {} and deck.status == "queued"

    started = time.monotonic()
    worker.run_until_idle()
    print(f"{name}: converted and rendered in {time.monotonic() - started:.1f} s")

    deck = _reload(archive, w.id).decks[0]
    assert deck.status == "ready", deck.error
    assert deck.info["page_count"] == pages
    assert deck.info.get("title") == title
    assert deck.info["external_links_removed"] == 1
    assert deck.outputs["pdf"] == deck.derived_key("deck.pdf")
    pdf = archive.store.get_bytes(deck.outputs["pdf"])
    assert pdf.startswith(b"%PDF-") and _pdf_pages(pdf) == pages
    assert b"/URI(https://example.org/" in pdf.replace(b" ", b"")  # hyperlinks survive as links
    assert archive.store.head(deck.outputs["pdf"])["content_type"] == "application/pdf"
    # the original stays downloadable exactly as uploaded
    archive.store.download_file(deck.original_key, tmp_path / "original")
    assert sha256_file(tmp_path / "original") == sha256_file(deck_files[name])
    assert [len(deck.outputs["pages"][size]) for size in ("large", "thumb")] == [pages, pages]
    assert _image_size(archive.store.get_bytes(deck.outputs["pages"]["large"][0]))[0] == 1600
    assert _image_size(archive.store.get_bytes(deck.outputs["pages"]["thumb"][0]))[0] == 320
    page_text = json.loads(archive.store.get_bytes(deck.outputs["text"]))["pages"]
    assert len(page_text) == pages
    for text in texts:
        assert any(text in t for t in page_text), f"{text!r} not in {page_text}"
    assert listener.hits_so_far() == [], "LibreOffice fetched the linked picture"


def test_a_real_beamer_deck(archive, worker, beamer_deck):
    w = _import(archive, beamer_deck)
    assert w.decks[0].info["page_count"] == 31
    worker.run_until_idle()
    deck = _reload(archive, w.id).decks[0]
    assert deck.status == "ready", deck.error
    assert deck.title.startswith("On the Complexity of SNP Block Partitioning")
    assert deck.outputs["pdf"] == deck.original_key
    assert len(deck.outputs["pages"]["large"]) == len(deck.outputs["pages"]["thumb"]) == 31
    large = _image_size(archive.store.get_bytes(deck.outputs["pages"]["large"][0]))
    assert large[0] == 1600 and large[1] == pytest.approx(1600 * 272.126 / 362.835, abs=2)
    texts = json.loads(archive.store.get_bytes(deck.outputs["text"]))["pages"]
    assert "Outline" in texts[1] and "haplotyping" in texts[2]


def test_a_14400_pt_page_goes_through_bounded(archive, worker, deck_files):
    w = _import(archive, deck_files["huge.pdf"])
    worker.run_until_idle()
    deck = _reload(archive, w.id).decks[0]
    assert deck.status == "ready", deck.error
    assert _image_size(archive.store.get_bytes(deck.outputs["pages"]["large"][0])) == (1600, 1600)
    assert _image_size(archive.store.get_bytes(deck.outputs["pages"]["thumb"][0])) == (320, 320)
    assert "Still rendered" in json.loads(archive.store.get_bytes(deck.outputs["text"]))["pages"][0]


@pytest.mark.parametrize("name, reason", [
    ("bomb.pptx", r"would unpack to 31\d\.\d MB from \d+(\.\d)? KB \([\d,]+ times its size\): a zip bomb"),
    ("claims_2gib.pptx", r"would unpack to 2\.1 GB; at most 1 GB"),
    ("100k_entries.pptx", "more than 65,000 entries; at most 10,000"),
    ("locked.pptx", "password-protected"),
    ("locked.odp", "password-protected"),
    ("locked.pdf", "password-protected"),
    ("page.html.pdf", "not a PDF, PPTX or ODP file: it is a web page"),
    ("report.docx", "a Word document, not a presentation"),
])
def test_bad_decks_are_rejected_at_import_without_a_trace(archive, deck_files, name, reason):
    with pytest.raises(ImportRejected, match=f"slides {name}: .*{reason}"):
        _import(archive, deck_files[name])
    assert _count(archive, Webinar) == _count(archive, Asset) == _count(archive, Job) == 0
    assert list(archive.store.list_keys("")) == []


@pytest.mark.parametrize("name, reason", [
    ("understated.pptx", "a damaged package: Bad CRC-32 for file 'ppt/media/filler.bin'"),
    ("hollow.pptx", "LibreOffice could not convert the presentation: Error: source file could not be loaded"),
])
def test_decks_found_bad_by_the_worker_fail_with_the_reason(archive, worker, deck_files, name, reason):
    w = _import(archive, deck_files[name])
    worker.run_until_idle()
    w = _reload(archive, w.id)
    deck = w.decks[0]
    assert (w.status, deck.status) == ("failed", "failed")
    assert deck.error == reason
    with archive.catalog.session() as s:
        job = s.query(Job).one()
        assert (job.state, job.attempts) == ("failed", 1)  # known-bad: not retried
    assert list(archive.store.list_keys(deck.derived_prefix)) == []  # nothing half-published

