"""Slide decks through the real pipeline: PDF, PPTX and ODP (real LibreOffice, real MinIO).

LibreOffice takes a few seconds per run, so the decks are made once per module and only
a handful of tests convert anything.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import msoffcrypto.format.ooxml
import pypdfium2 as pdfium
import pytest
from PIL import Image
from pptx import Presentation
from pptx.util import Inches, Pt

from archive import office, slides, queries
from archive.hashing import sha256_file
from archive.importer import ImportRejected, ImportRequest, import_webinar
from archive.models import Asset, Job, Webinar
from archive.pdfgen import write_deck

from ..services import Listener

PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODP_TYPE = "application/vnd.oasis.opendocument.presentation"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
IMAGE_REL = f"{R_NS}/image"


# -- helpers ---------------------------------------------------------------------------------

def png(color: tuple[int, int, int], size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "PNG")
    return buf.getvalue()


def make_pptx(path: Path, linked_image_url: str | None = None) -> Path:
    """Three slides of real text, an embedded picture, a hyperlink and (optionally) a
    picture linked to an external URL, the way PowerPoint's "Insert > Link to File" does."""
    prs = Presentation()
    prs.core_properties.title = "Quarterly update"
    s = prs.slides.add_slide(prs.slide_layouts[0])
    s.shapes.title.text = "Quarterly update"
    s.placeholders[1].text = "Webinar for the whole team"
    s = prs.slides.add_slide(prs.slide_layouts[1])
    s.shapes.title.text = "Agenda"
    body = s.placeholders[1].text_frame
    body.text = "Alpha point"
    body.add_paragraph().text = "Beta point"
    run = body.add_paragraph().add_run()
    run.text = "Read the report"
    run.hyperlink.address = "https://example.org/report"
    s.shapes.add_picture(io.BytesIO(png((30, 90, 200))), Inches(7), Inches(5), Inches(1), Inches(1))
    s = prs.slides.add_slide(prs.slide_layouts[5])
    s.shapes.title.text = "Linked picture"
    box = s.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1)).text_frame
    box.text = "Gamma point"
    box.paragraphs[0].runs[0].font.size = Pt(28)
    if linked_image_url:
        pic = s.shapes.add_picture(io.BytesIO(png((200, 30, 30))), Inches(1), Inches(4), Inches(2), Inches(2))
        blip = pic._element.blipFill.find("{http://schemas.openxmlformats.org/drawingml/2006/main}blip")
        del blip.attrib[f"{{{R_NS}}}embed"]
        blip.set(f"{{{R_NS}}}link", s.part.relate_to(linked_image_url, IMAGE_REL, is_external=True))
    prs.save(path)
    return path


ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink"'
)


def make_odp(path: Path, external_refs: list[str] = (), encrypted: bool = False) -> Path:
    """An ODP written by hand: two pages of text, an embedded picture, a hyperlink, and a
    picture for each of `external_refs` (links outside the package)."""
    def frame(y: float, inner: str) -> str:
        return f'<draw:frame svg:x="2cm" svg:y="{y}cm" svg:width="20cm" svg:height="3cm">{inner}</draw:frame>'

    def image(y: float, href: str) -> str:
        return frame(y, f'<draw:image xlink:href="{href}" xlink:type="simple" xlink:show="embed"/>')

    agenda = '<text:a xlink:type="simple" xlink:href="https://example.org/agenda">the agenda</text:a>'
    page1 = (frame(1, f"<draw:text-box><text:p>Opening remarks</text:p><text:p>See {agenda}</text:p>"
                      "</draw:text-box>")
             + image(5, "Pictures/blue.png")
             + "".join(image(9 + i, ref) for i, ref in enumerate(external_refs)))
    page2 = frame(1, "<draw:text-box><text:p>Questions and answers</text:p></draw:text-box>")
    content = f"""<?xml version="1.0" encoding="UTF-8"?>
        <office:document-content {ODF_NS} office:version="1.3">
          <office:body><office:presentation>
            <draw:page draw:name="page1">{page1}</draw:page>
            <draw:page draw:name="page2">{page2}</draw:page>
          </office:presentation></office:body>
        </office:document-content>"""
    encryption = """
        <manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA">
          <manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/>
          <manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:iteration-count="1024"
                                   manifest:salt="AAAA"/>
        </manifest:encryption-data>""" if encrypted else ""
    manifest = f"""<?xml version="1.0" encoding="UTF-8"?>
        <manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
                           manifest:version="1.3">
          <manifest:file-entry manifest:full-path="/" manifest:media-type="{ODP_TYPE}"/>
          <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">{encryption}
          </manifest:file-entry>
          <manifest:file-entry manifest:full-path="Pictures/blue.png" manifest:media-type="image/png"/>
        </manifest:manifest>"""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), ODP_TYPE)  # first and stored, as ODF wants
        z.writestr("content.xml", os.urandom(2000) if encrypted else content)
        z.writestr("Pictures/blue.png", png((30, 90, 200)))
        z.writestr("META-INF/manifest.xml", manifest)
    return path


def content_types(part: str, ooxml_type: str) -> str:
    """[Content_Types].xml naming one part (and nothing else in the package)."""
    return ('<?xml version="1.0"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Override PartName="{part}" ContentType="application/vnd.openxmlformats-officedocument.'
            f'{ooxml_type}"/></Types>')


def declare_size(path: Path, name: str, size: int) -> None:
    """Make the zip headers of one entry lie about its uncompressed size."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        local = z.getinfo(name).header_offset
    struct.pack_into("<L", data, local + 22, size)
    at = data.rindex(b"PK\x05\x06")
    pos = struct.unpack_from("<L", data, at + 16)[0]  # start of the central directory
    while data[pos:pos + 4] == b"PK\x01\x02":
        n, extra, comment = struct.unpack_from("<3H", data, pos + 28)
        if data[pos + 46:pos + 46 + n] == name.encode():
            struct.pack_into("<L", data, pos + 24, size)
        pos += 46 + n + extra + comment
    path.write_bytes(bytes(data))


def soffice_export(src: Path, out_dir: Path, filter_options: str) -> Path:
    """A test input made by LibreOffice itself (hardened profile, like the archive's)."""
    with tempfile.TemporaryDirectory() as profile:
        (Path(profile) / "user").mkdir()
        (Path(profile) / "user" / "registrymodifications.xcu").write_text(office.profile_xcu())
        subprocess.run(["soffice", f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
                        "--norestore", "--convert-to", filter_options, "--outdir", str(out_dir), str(src)],
                       check=True, capture_output=True, timeout=120)
    return out_dir / (src.stem + ".pdf")


def cache_dir() -> Path:
    explicit = os.environ.get("WEBINAR_ARCHIVE_CACHE")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(explicit) if explicit else base / "webinar-archive"


BEAMER_PACKAGE = "texlive-latex-recommended-doc"
BEAMER_DECK = "usr/share/doc/texlive-doc/latex/beamer/beamerexample-conference-talk.pdf"


@pytest.fixture(scope="module")
def beamer_deck() -> Path:
    """A real beamer talk (31 pages), from Debian's texlive docs, fetched once into the cache.

    Not committed (the package is 50 MB); apt works wherever the tests run, so a missing
    deck is fetched, never skipped.
    """
    target = cache_dir() / "decks" / Path(BEAMER_DECK).name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        get = ["apt-get", "download", "-q", BEAMER_PACKAGE]
        p = subprocess.run(get, cwd=tmp, capture_output=True, text=True, timeout=600)
        if p.returncode != 0 and os.geteuid() == 0:  # package lists never fetched on this machine
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
            p = subprocess.run(get, cwd=tmp, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"apt-get download {BEAMER_PACKAGE} failed: {p.stderr}"
        deb = next(Path(tmp).glob(f"{BEAMER_PACKAGE}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")], check=True, timeout=300)
        shutil.copyfile(Path(tmp) / "x" / BEAMER_DECK, target.with_suffix(".part"))
    target.with_suffix(".part").rename(target)
    return target


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture(scope="module")
def decks(tmp_path_factory, listener) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("decks")
    p: dict[str, Path] = {}
    p["talk.pptx"] = make_pptx(d / "talk.pptx", linked_image_url=listener.url("linked-image.png"))
    p["talk.odp"] = make_odp(d / "talk.odp", external_refs=[listener.url("linked-image.png")])

    # A zip bomb: a real deck plus 300 MiB of zeros that pack into 300 KiB.
    p["bomb.pptx"] = d / "bomb.pptx"
    shutil.copyfile(p["talk.pptx"], p["bomb.pptx"])
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(p["bomb.pptx"], "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("ppt/media/image9.png", "w") as w:
            for _ in range(300):
                w.write(zeros)
    # Headers that claim 2 GiB for a small picture.
    p["claims_2gib.pptx"] = d / "claims_2gib.pptx"
    shutil.copyfile(p["talk.pptx"], p["claims_2gib.pptx"])
    declare_size(p["claims_2gib.pptx"], "ppt/media/image1.png", 2 * 1024**3)
    # Headers that understate: 20 MiB of zeros declared as 1 MiB. Only unpacking tells.
    p["understated.pptx"] = d / "understated.pptx"
    shutil.copyfile(p["talk.pptx"], p["understated.pptx"])
    with zipfile.ZipFile(p["understated.pptx"], "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("ppt/media/filler.bin", bytes(20 << 20))
    declare_size(p["understated.pptx"], "ppt/media/filler.bin", 1 << 20)

    p["100k_entries.pptx"] = d / "100k_entries.pptx"
    shutil.copyfile(p["talk.pptx"], p["100k_entries.pptx"])
    with zipfile.ZipFile(p["100k_entries.pptx"], "a") as z:
        for i in range(100_000):
            z.writestr(f"ppt/media/e{i}", b"")

    # Password-protected: OOXML encrypted the way Office does it (an OLE file, not a zip),
    # an ODP whose manifest says its content is encrypted, a PDF with a user password.
    p["locked.pptx"] = d / "locked.pptx"
    with open(p["talk.pptx"], "rb") as f, open(p["locked.pptx"], "wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(f).encrypt("secret", out)
    p["locked.odp"] = make_odp(d / "locked.odp", encrypted=True)
    locked = d / "locked"
    locked.mkdir()
    shutil.copyfile(p["talk.odp"], locked / "locked.odp")
    p["locked.pdf"] = soffice_export(locked / "locked.odp", locked, 'pdf:impress_pdf_Export:{'
                                     '"EncryptFile":{"type":"boolean","value":"true"},'
                                     '"DocumentOpenPassword":{"type":"string","value":"secret"}}')

    p["page.html.pdf"] = d / "page.html.pdf"
    p["page.html.pdf"].write_text("<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
                                  "<body>Please sign in to download this file.</body></html>\n")
    p["report.docx"] = d / "report.docx"
    with zipfile.ZipFile(p["report.docx"], "w") as z:
        z.writestr("[Content_Types].xml", content_types(
            "/word/document.xml", "wordprocessingml.document.main+xml"))
    # Passes the cheap checks, but there is no presentation inside: LibreOffice says so.
    p["hollow.pptx"] = d / "hollow.pptx"
    with zipfile.ZipFile(p["hollow.pptx"], "w") as z:
        z.writestr("[Content_Types].xml", content_types(
            "/ppt/presentation.xml", "presentationml.presentation.main+xml"))
    write_deck(d / "huge.pdf", "Huge page", [("A page of 200 x 200 inches", ["Still rendered at 1600 px"])],
               size=(14400, 14400))
    p["huge.pdf"] = d / "huge.pdf"
    assert listener.hits == [], "making the test decks fetched something"
    return p


def _import(archive, *deck: Path) -> Webinar:
    return import_webinar(archive, ImportRequest(title="Slides", slides=list(deck)))


def _reload(archive, webinar_id) -> Webinar:
    with archive.catalog.session() as s:
        return queries.get(s, webinar_id)


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


# -- pure parts ------------------------------------------------------------------------------

def test_the_libreoffice_command_line_is_fixed_and_fresh(tmp_path):
    args = office.convert_args(tmp_path / "in" / "deck.pptx", tmp_path / "out", tmp_path / "profile",
                               office.FORMATS["pptx"])
    assert args[:3] == ["prlimit", f"--as={office.MEMORY_LIMIT_BYTES}", "--"]
    assert args[3] == "soffice"
    assert f"-env:UserInstallation=file://{tmp_path}/profile" in args
    assert "--headless" in args and "--norestore" in args
    assert "--infilter=Impress MS PowerPoint 2007 XML" in args  # no guessing the input type
    assert args[args.index("--convert-to") + 1] == "pdf:impress_pdf_Export"
    assert args[args.index("--outdir") + 1] == str(tmp_path / "out")
    assert args[-1] == str(tmp_path / "in" / "deck.pptx")
    assert "--infilter=impress8" in office.convert_args(Path("deck.odp"), Path("o"), Path("p"),
                                                       office.FORMATS["odp"])


def test_the_profile_blocks_links_and_routes_every_proxy_to_a_closed_port():
    root = ElementTree.fromstring(office.profile_xcu())
    oor = "{http://openoffice.org/2001/registry}"
    props = {(item.get(f"{oor}path"), prop.get(f"{oor}name")): prop.findtext("value") or ""
             for item in root for prop in item}
    inet = "/org.openoffice.Inet/Settings"
    assert props[("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks")] == "true"
    assert props[(inet, "ooInetProxyType")] == "1" and props[(inet, "ooInetNoProxy")] == ""
    for scheme in ("HTTP", "HTTPS", "FTP"):
        assert (props[(inet, f"ooInet{scheme}ProxyName")], props[(inet, f"ooInet{scheme}ProxyPort")]) == \
            ("127.0.0.1", "9")


def test_sanitizing_a_pptx_drops_external_links_only(decks, listener, tmp_path):
    clean = tmp_path / "clean.pptx"
    assert office.sanitize_package(decks["talk.pptx"], clean) == 1
    with zipfile.ZipFile(decks["talk.pptx"]) as before, zipfile.ZipFile(clean) as after:
        assert before.namelist() == after.namelist()
        rels = {n: after.read(n).decode() for n in after.namelist() if n.endswith(".rels")}
        for name, text in rels.items():
            if name != "ppt/slides/_rels/slide3.xml.rels":
                assert text == before.read(name).decode(), f"{name} changed"
        assert listener.url("") not in "".join(rels.values())
        assert "../media/image" in rels["ppt/slides/_rels/slide3.xml.rels"]  # internal: kept
        assert "https://example.org/report" in rels["ppt/slides/_rels/slide2.xml.rels"]  # hyperlink: kept
        for info in after.infolist():
            assert after.read(info) == before.read(info.filename) or info.filename.endswith(".rels")


def test_sanitizing_an_odp_drops_references_outside_the_package(tmp_path):
    refs = ["http://127.0.0.1:9/a.png", "file:///etc/hostname", "../beside-the-deck.png",
            "/srv/secret.png", "\\\\server\\share\\b.png", "%2e%2e/encoded.png", "vnd.sun.star.webdav://h/x"]
    odp = make_odp(tmp_path / "refs.odp", external_refs=refs)
    clean = tmp_path / "clean.odp"
    assert office.sanitize_package(odp, clean) == len(refs)
    with zipfile.ZipFile(clean) as z:
        assert z.namelist()[0] == "mimetype" and z.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        content = z.read("content.xml").decode()
    for ref in refs:
        assert ref.replace("\\", "") not in content.replace("\\", "")
    assert 'xlink:href="Pictures/blue.png"' in content  # inside the package: kept
    assert 'xlink:href="https://example.org/agenda"' in content  # a hyperlink: kept
    ElementTree.fromstring(content)  # still well-formed
    assert content.count("<draw:image ") == len(refs) + 1  # the frames stay, empty


def test_sanitizing_refuses_a_dtd(tmp_path, decks):
    evil = tmp_path / "evil.pptx"
    with zipfile.ZipFile(decks["talk.pptx"]) as zin, zipfile.ZipFile(evil, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "ppt/slides/slide1.xml":
                data = data.replace(b"<p:sld ", b'<!DOCTYPE p:sld [<!ENTITY x SYSTEM "http://127.0.0.1:9/">]>'
                                                b"<p:sld ", 1)
            zout.writestr(info, data)
    with pytest.raises(slides.SlidesRejected, match="slide1.xml declares an XML DTD"):
        office.sanitize_package(evil, tmp_path / "clean.pptx")


def test_page_images_stay_bounded_however_large_the_page():
    assert slides.render_scale(14400, 14400, 1600) * 14400 == pytest.approx(1600)
    for w_pt, h_pt in [(600, 14400), (1, 14400), (14400, 1), (14400, 14400)]:
        s = slides.render_scale(w_pt, h_pt, 1600)
        assert (w_pt * s) * (h_pt * s) <= slides.MAX_PIXELS * 1.001
        assert max(w_pt, h_pt) * s <= slides.MAX_SIDE * 1.001


def test_rendering_a_14400_pt_page_needs_little_memory(tmp_path):
    pdf = tmp_path / "huge.pdf"
    doc = pdfium.PdfDocument.new()
    for w, h in [(14400, 14400), (600, 14400), (14400, 600)]:
        doc.new_page(w, h)  # at 1 px/pt the first alone would be an 830 MB bitmap
    doc.save(pdf)
    doc.close()
    # In a process of its own; VmHWM is the peak of its own memory since exec (ru_maxrss
    # would count the pytest process it was forked from).
    script = ("import re, sys; from pathlib import Path; from archive import slides; "
              "slides.render_pages(Path(sys.argv[1]), Path(sys.argv[2])); "
              "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())[1])")
    run = subprocess.run([sys.executable, "-c", script, str(pdf), str(tmp_path / "pages")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    peak_mb = int(run.stdout) // 1024
    assert peak_mb < 200, f"rendering peaked at {peak_mb} MB"
    sizes = {f.name: _image_size(f.read_bytes()) for f in (tmp_path / "pages").iterdir()}
    assert sizes["large-0001.webp"] == (1600, 1600) and sizes["thumb-0001.webp"] == (320, 320)
    w, h = sizes["large-0002.webp"]
    assert w * h <= slides.MAX_PIXELS and h <= slides.MAX_SIDE
    assert sizes["large-0003.webp"] == (1600, 67)


# -- conversion ------------------------------------------------------------------------------

def test_libreoffice_profile_alone_fetches_nothing(decks, listener, tmp_path):
    """The second layer: even an unsanitized deck with a linked picture fetches nothing."""
    with zipfile.ZipFile(decks["talk.odp"]) as z:
        assert listener.url("linked-image.png") in z.read("content.xml").decode()
    office.convert_to_pdf(decks["talk.odp"], tmp_path / "deck.pdf", office.FORMATS["odp"], tmp_root=tmp_path)
    time.sleep(0.5)
    assert listener.hits == []
    assert _pdf_pages((tmp_path / "deck.pdf").read_bytes()) == 2


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{proc.name}: {cmdline}")
    return found


def test_a_slow_conversion_is_killed_and_leaves_nothing(decks, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    started = time.monotonic()
    with pytest.raises(office.ConversionTimedOut, match="did not finish within 0.5 s"):
        office.convert_to_pdf(decks["talk.pptx"], tmp_path / "deck.pdf", office.FORMATS["pptx"],
                              timeout=0.5, tmp_root=scratch)
    assert time.monotonic() - started < 15
    assert list(scratch.iterdir()) == []  # the profile, the copy of the deck: all removed
    assert _processes_mentioning(str(scratch)) == []  # soffice.bin killed with its launcher
    assert not (tmp_path / "deck.pdf").exists()


# -- through the archive ---------------------------------------------------------------------

@pytest.mark.parametrize("name, ext, content_type, pages, title, texts", [
    ("talk.pptx", "pptx", PPTX_TYPE, 3, "Quarterly update",
     ["Quarterly update", "Alpha point", "Gamma point"]),
    ("talk.odp", "odp", ODP_TYPE, 2, None, ["Opening remarks", "Questions and answers"]),
])
def test_a_presentation_becomes_a_pdf_with_pages_and_text(archive, worker, decks, listener, tmp_path,
                                                         name, ext, content_type, pages, title, texts):
    w = _import(archive, decks[name])
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
    assert sha256_file(tmp_path / "original") == sha256_file(decks[name])
    assert [len(deck.outputs["pages"][size]) for size in ("large", "thumb")] == [pages, pages]
    assert _image_size(archive.store.get_bytes(deck.outputs["pages"]["large"][0]))[0] == 1600
    assert _image_size(archive.store.get_bytes(deck.outputs["pages"]["thumb"][0]))[0] == 320
    page_text = json.loads(archive.store.get_bytes(deck.outputs["text"]))["pages"]
    assert len(page_text) == pages
    for text in texts:
        assert any(text in t for t in page_text), f"{text!r} not in {page_text}"
    time.sleep(0.5)
    assert listener.hits == [], "LibreOffice fetched the linked picture"


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


def test_a_14400_pt_page_goes_through_bounded(archive, worker, decks):
    w = _import(archive, decks["huge.pdf"])
    worker.run_until_idle()
    deck = _reload(archive, w.id).decks[0]
    assert deck.status == "ready", deck.error
    assert _image_size(archive.store.get_bytes(deck.outputs["pages"]["large"][0])) == (1600, 1600)
    assert _image_size(archive.store.get_bytes(deck.outputs["pages"]["thumb"][0])) == (320, 320)
    assert "Still rendered" in json.loads(archive.store.get_bytes(deck.outputs["text"]))["pages"][0]


@pytest.mark.parametrize("name, reason", [
    ("bomb.pptx", r"would unpack to 300 MiB from \d+ KiB \([\d,]+ times its size\): a zip bomb"),
    ("claims_2gib.pptx", r"would unpack to 2\.0 GiB; at most 1\.0 GiB"),
    ("100k_entries.pptx", "more than 65,000 entries; at most 10,000"),
    ("locked.pptx", "password-protected"),
    ("locked.odp", "password-protected"),
    ("locked.pdf", "password-protected"),
    ("page.html.pdf", "not a PDF, PPTX or ODP file: it is a web page"),
    ("report.docx", "a Word document, not a presentation"),
])
def test_bad_decks_are_rejected_at_import_without_a_trace(archive, decks, name, reason):
    with pytest.raises(ImportRejected, match=f"slides {name}: .*{reason}"):
        _import(archive, decks[name])
    assert _count(archive, Webinar) == _count(archive, Asset) == _count(archive, Job) == 0
    assert list(archive.store.list_keys("")) == []


@pytest.mark.parametrize("name, reason", [
    ("understated.pptx", "a damaged package: Bad CRC-32 for file 'ppt/media/filler.bin'"),
    ("hollow.pptx", "LibreOffice could not convert the presentation: Error: source file could not be loaded"),
])
def test_decks_found_bad_by_the_worker_fail_with_the_reason(archive, worker, decks, name, reason):
    w = _import(archive, decks[name])
    worker.run_until_idle()
    w = _reload(archive, w.id)
    deck = w.decks[0]
    assert (w.status, deck.status) == ("failed", "failed")
    assert deck.error == reason
    with archive.catalog.session() as s:
        job = s.query(Job).one()
        assert (job.state, job.attempts) == ("failed", 1)  # known-bad: not retried
    assert list(archive.store.list_keys(deck.derived_prefix)) == []  # nothing half-published
