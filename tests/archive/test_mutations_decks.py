"""Damaged decks: byte-level mutants of a small valid PDF and PPTX. Each ends accepted or
with a clear rejection at import (ImportRejected, nothing else), in the worker's clean
copy (SlidesRejected), and, for a sample of the accepted ones, through the real worker
(LibreOffice and the PDF child): ready, or failed with a sentence after one attempt.
Never a traceback, a hang or a retry loop."""
from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from pptx import Presentation
from pptx.util import Inches

from archive import decks, queries, slides
from archive.context import Archive
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.intake import check_deck
from archive.models import Job
from archive.pdfgen import write_deck
from archive.worker import Worker

from ..conftest import make_settings
from ..mutations import mutants

PDF_MUTANTS = 150  # each import check starts the PDF child (~0.25 s)
PPTX_MUTANTS = 300  # checked in process: cheap
PART_MUTANTS = 150  # of the slide's XML and its relationships, zipped again: the sanitizer's input
WORKER_SAMPLE = {"pdf": 4, "pptx": 2, "parts": 2}  # LibreOffice takes seconds per deck
PARTS = ("ppt/slides/slide1.xml", "ppt/slides/_rels/slide1.xml.rels")
# What an unexpected exception looks like once the worker has formatted it.
_EXCEPTION_NAME = re.compile(r"^[A-Z][A-Za-z]*(Error|Exception|Warning)\b")


def small_pptx(path: Path) -> Path:
    prs = Presentation()
    s = prs.slides.add_slide(prs.slide_layouts[1])
    s.shapes.title.text = "Mutated"
    s.placeholders[1].text_frame.text = "A point"
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(buf, "PNG")
    s.shapes.add_picture(buf, Inches(6), Inches(4), Inches(1), Inches(1))
    prs.save(path)
    return path


@pytest.fixture
def mutation_archive(minio, tmp_path):
    # No retry delay: a bug that makes a permanent failure retried shows as attempts > 1
    # at once. A short render limit: a mutant may never make the child slow.
    a = Archive.from_settings(make_settings(minio, tmp_path, WEBINAR_ARCHIVE_JOB_RETRY_DELAY="0",
                                            WEBINAR_ARCHIVE_RENDER_TIMEOUT="60",
                                            WEBINAR_ARCHIVE_OFFICE_TIMEOUT="60"))
    a.setup()
    yield a
    a.close()


def _part_mutants(pptx: Path, count: int, seed: int, work: Path) -> list[Path]:
    """Valid zips whose slide XML or relationships are mutated: what reaches the sanitizer."""
    with zipfile.ZipFile(pptx) as z:
        parts = [(info, z.read(info)) for info in z.infolist()]
    originals = {info.filename: body for info, body in parts}
    made = []
    for i in range(count):
        target = PARTS[i % len(PARTS)]
        _, mutated = next(mutants(originals[target], 1, seed * 1000 + i))
        path = work / f"part-mutant-{i:03d}.pptx"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for info, body in parts:
                z.writestr(info, mutated if info.filename == target else body)
        made.append(path)
    return made


def _check_all(archive: Archive, parent: bytes, ext: str, count: int, seed: int, work: Path) -> list[Path]:
    """Run every mutant through the import check; return the accepted ones."""
    accepted, rejected = [], 0
    for i, data in mutants(parent, count, seed):
        path = work / f"mutant-{i:03d}.{ext}"
        path.write_bytes(data)
        started = time.monotonic()
        try:
            checked = check_deck(path, archive.settings)
        except ImportRejected as e:
            assert str(e).startswith(f"slides {path.name}: ") and len(str(e)) > len(path.name) + 12
            rejected += 1
            path.unlink()
        else:
            assert checked.ext in ("pdf", "pptx", "odp")
            accepted.append(path)
        assert time.monotonic() - started < 30, f"mutant {i} took {time.monotonic() - started:.0f} s"
    print(f"{ext}: {len(accepted)} accepted, {rejected} rejected at import")
    return accepted


def _cleaned(paths: list[Path]) -> list[Path]:
    """The packages the worker's sanitizer copies; the others must be refused with a message."""
    cleaned = []
    for path in paths:
        try:
            decks.sanitize_package(path, path.with_suffix(".clean"))
        except slides.SlidesRejected as e:
            assert str(e)
        else:
            cleaned.append(path)
    return cleaned


def test_pdf_and_pptx_mutants_end_accepted_or_with_a_clear_error(mutation_archive, tmp_path):
    archive = mutation_archive
    pdf = write_deck(tmp_path / "deck.pdf", "Mutated", [("One", ["alpha"]), ("Two", ["beta"])])
    pptx = small_pptx(tmp_path / "deck.pptx")
    work = tmp_path / "mutants"
    work.mkdir()
    accepted = {"pdf": _check_all(archive, pdf.read_bytes(), "pdf", PDF_MUTANTS, 1, work),
                "pptx": _check_all(archive, pptx.read_bytes(), "pptx", PPTX_MUTANTS, 2, work)}

    # The worker's clean copy of every accepted package: a copy, or SlidesRejected.
    parts_cleaned = _cleaned(_part_mutants(pptx, PART_MUTANTS, 3, work))
    print(f"pptx: {len(parts_cleaned)} of {PART_MUTANTS} mutants of the slide's XML cleaned")
    cleaned = _cleaned(accepted["pptx"])
    print(f"pptx: {len(cleaned)} of {len(accepted['pptx'])} accepted mutants cleaned")

    # A sample through the real worker, the clean ones first (they reach LibreOffice).
    sample = accepted["pdf"][:: max(1, len(accepted["pdf"]) // WORKER_SAMPLE["pdf"])][: WORKER_SAMPLE["pdf"]]
    sample += (cleaned + accepted["pptx"])[: WORKER_SAMPLE["pptx"]]
    sample += parts_cleaned[: WORKER_SAMPLE["parts"]]
    sample = list(dict.fromkeys(sample))
    w = import_webinar(archive, ImportRequest(title="Mutants", slides=sample))
    started = time.monotonic()
    Worker(archive, name="mutation-worker").run_until_idle(timeout=300)
    print(f"worker: {len(sample)} decks in {time.monotonic() - started:.0f} s")
    with archive.catalog.session() as s:
        webinar = queries.get(s, w.id)
        outcome = {d.original_filename: (d.status, d.error) for d in webinar.decks}
        jobs = {j.asset_id: j for j in s.query(Job).filter(Job.kind == "process_slides")}
        for deck in webinar.decks:
            job = jobs[deck.id]
            assert deck.status in ("ready", "failed"), (deck.original_filename, deck.status)
            if deck.status == "failed":
                assert (job.state, job.attempts) == ("failed", 1), (deck.original_filename, job.error)
                assert deck.error and not _EXCEPTION_NAME.match(deck.error), deck.error
            else:
                assert job.state == "done" and deck.info["page_count"] >= 1
    print(outcome)
