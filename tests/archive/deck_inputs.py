"""Slide decks for the tests, made by python-pptx, by hand (ODP) or by LibreOffice itself,
and the fixtures that make them once per module."""
from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path

import msoffcrypto.format.ooxml
import pytest
from PIL import Image
from pptx import Presentation
from pptx.util import Inches, Pt

from archive import libreoffice
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
        (Path(profile) / "user" / "registrymodifications.xcu").write_text(libreoffice.profile_xcu())
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
def deck_files(tmp_path_factory, listener) -> dict[str, Path]:
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


