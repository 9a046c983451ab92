"""Deck packages: the clean copy LibreOffice gets (archive/decks.py), checked on real
python-pptx decks and hand-written ODPs, and through real LibreOffice where it matters."""
from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

import pypdfium2 as pdfium
import pytest
from pptx import Presentation
from pptx.util import Inches

from archive import decks, libreoffice, runner, slides

from .deck_inputs import R_NS, deck_files, listener, make_odp, png  # noqa: F401

A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
HYPERLINK_REL = f"{R_NS}/hyperlink"
IMAGE_REL = f"{R_NS}/image"


def test_sanitizing_a_pptx_drops_external_links_only(deck_files, listener, tmp_path):
    clean = tmp_path / "clean.pptx"
    assert decks.sanitize_package(deck_files["talk.pptx"], clean) == 1
    with zipfile.ZipFile(deck_files["talk.pptx"]) as before, zipfile.ZipFile(clean) as after:
        assert before.namelist() == after.namelist()
        rels = {n: after.read(n).decode() for n in after.namelist() if n.endswith(".rels")}
        for name, text in rels.items():
            if name != "ppt/slides/_rels/slide3.xml.rels":
                assert text == before.read(name).decode(), f"{name} changed"
        assert listener.url("") not in "".join(rels.values())
        assert "../media/image" in rels["ppt/slides/_rels/slide3.xml.rels"]  # internal: kept
        assert "https://example.org/report" in rels["ppt/slides/_rels/slide2.xml.rels"]  # hyperlink: kept
        slide3 = after.read("ppt/slides/slide3.xml").decode()
        assert "r:link=" not in slide3 and "r:link=" in before.read("ppt/slides/slide3.xml").decode()
        for info in after.infolist():
            if not info.filename.endswith(".rels") and info.filename != "ppt/slides/slide3.xml":
                assert after.read(info) == before.read(info.filename), f"{info.filename} changed"


def test_sanitizing_an_odp_drops_references_outside_the_package(tmp_path):
    refs = ["http://127.0.0.1:9/a.png", "file:///etc/hostname", "../beside-the-deck.png",
            "/srv/secret.png", "\\\\server\\share\\b.png", "%2e%2e/encoded.png", "vnd.sun.star.webdav://h/x"]
    odp = make_odp(tmp_path / "refs.odp", external_refs=refs)
    clean = tmp_path / "clean.odp"
    assert decks.sanitize_package(odp, clean) == len(refs)
    with zipfile.ZipFile(clean) as z:
        assert z.namelist()[0] == "mimetype" and z.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        content = z.read("content.xml").decode()
    for ref in refs:
        assert ref.replace("\\", "") not in content.replace("\\", "")
    assert 'xlink:href="Pictures/blue.png"' in content  # inside the package: kept
    assert 'xlink:href="https://example.org/agenda"' in content  # a hyperlink: kept
    ElementTree.fromstring(content)  # still well-formed
    assert content.count("<draw:image ") == len(refs) + 1  # the frames stay, empty


def test_sanitizing_refuses_a_dtd(tmp_path, deck_files):
    evil = tmp_path / "evil.pptx"
    with zipfile.ZipFile(deck_files["talk.pptx"]) as zin, zipfile.ZipFile(evil, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "ppt/slides/slide1.xml":
                data = data.replace(b"<p:sld ", b'<!DOCTYPE p:sld [<!ENTITY x SYSTEM "http://127.0.0.1:9/">]>'
                                                b"<p:sld ", 1)
            zout.writestr(info, data)
    with pytest.raises(slides.SlidesRejected, match="slide1.xml declares an XML DTD"):
        decks.sanitize_package(evil, tmp_path / "clean.pptx")



def crafted_pptx(path, picture_target: str, picture_rel: str = HYPERLINK_REL,
                 click_target: str | None = "https://example.org/ok", click_uses_picture_rel: bool = False):
    """One slide: a picture whose `a:blip r:link` names an external relationship of type
    `picture_rel` (a hyperlink by default: LibreOffice loads it as the picture all the
    same), and a text run whose `a:hlinkClick` names `click_target`."""
    prs = Presentation()
    s = prs.slides.add_slide(prs.slide_layouts[5])
    s.shapes.title.text = "Crafted"
    pic = s.shapes.add_picture(io.BytesIO(png((200, 30, 30))), Inches(1), Inches(2), Inches(2), Inches(2))
    blip = pic._element.blipFill.find(f"{{{A_NS}}}blip")
    del blip.attrib[f"{{{R_NS}}}embed"]
    rid = s.part.relate_to(picture_target, picture_rel, is_external=True)
    blip.set(f"{{{R_NS}}}link", rid)
    if click_target is not None:
        run = s.shapes.add_textbox(Inches(4), Inches(2), Inches(4), Inches(1)).text_frame.paragraphs[0].add_run()
        run.text = "a link"
        run.hyperlink.address = click_target
        if click_uses_picture_rel:
            run._r.find(f"{{{A_NS}}}rPr").find(f"{{{A_NS}}}hlinkClick").set(f"{{{R_NS}}}id", rid)
    prs.save(path)
    return path


def _slide(path) -> tuple[str, str]:
    with zipfile.ZipFile(path) as z:
        return (z.read("ppt/slides/slide1.xml").decode(), z.read("ppt/slides/_rels/slide1.xml.rels").decode())


def test_a_hyperlink_relationship_used_as_a_picture_link_goes(listener, tmp_path):
    """The defect: a relationship typed as a hyperlink but named by `a:blip r:link` was
    kept, and LibreOffice loads it as the picture."""
    deck = crafted_pptx(tmp_path / "deck.pptx", listener.url("as-hyperlink.png"))
    clean = tmp_path / "clean.pptx"
    assert decks.sanitize_package(deck, clean) == 1
    slide, rels = _slide(clean)
    assert listener.url("") not in rels and "r:link=" not in slide  # the relationship and its use
    assert "https://example.org/ok" in rels and "hlinkClick" in slide  # the real hyperlink stays
    # Sanitising alone is enough: LibreOffice with the network and no proxy fetches nothing.
    open_profile = {k: v for k, v in libreoffice.PROFILE_SETTINGS.items() if "Inet" not in k}
    libreoffice.convert_to_pdf(clean, tmp_path / "deck.pdf", decks.FORMATS["pptx"],
                               runner.Limits(120, 4096, network=True), tmp_root=tmp_path, profile=open_profile)
    assert listener.hits_so_far() == []


@pytest.mark.parametrize("case", ["used by hlinkClick and r:link", "file scheme", "javascript scheme",
                                  "image type", "unused"])
def test_only_web_hyperlinks_used_by_hlinkclick_survive(listener, tmp_path, case):
    url = listener.url(f"{case.replace(' ', '-')}.png")
    kwargs = {}
    if case == "used by hlinkClick and r:link":
        kwargs = {"click_uses_picture_rel": True}
    elif case == "file scheme":
        kwargs = {"click_target": "file:///etc/hostname"}
    elif case == "javascript scheme":
        kwargs = {"click_target": "javascript:alert(1)"}
    elif case == "image type":
        kwargs = {"picture_rel": IMAGE_REL}
    deck = crafted_pptx(tmp_path / "deck.pptx", url, **kwargs)
    if case == "unused":  # a hyperlink relationship that nothing in the slide names
        with zipfile.ZipFile(deck) as z:
            slide = z.read("ppt/slides/slide1.xml").replace(b'r:link="', b'r:link="x')
        _replace_part(deck, "ppt/slides/slide1.xml", slide)
    clean = tmp_path / "clean.pptx"
    decks.sanitize_package(deck, clean)
    slide, rels = _slide(clean)
    assert url not in rels and 'r:link="rId' not in slide
    if case in ("file scheme", "javascript scheme"):
        assert "file:" not in rels and "javascript:" not in rels
        assert "hlinkClick" in slide and "r:id=" not in slide.split("hlinkClick", 1)[1].split(">", 1)[0]
    elif case != "used by hlinkClick and r:link":
        assert "https://example.org/ok" in rels


def _replace_part(path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(path) as z:
        parts = [(i, z.read(i)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, body in parts:
            z.writestr(info, data if info.filename == name else body)
        if name not in {i.filename for i, _ in parts}:
            z.writestr(name, data)


@pytest.mark.parametrize("name", ["ppt/media/drawing.vml", "ppt/media/picture.svg", "ppt/slides/extra.XML",
                                  "ppt/media/no-extension"])
def test_every_xml_part_is_read_whatever_its_name(deck_files, tmp_path, name):
    """The defect: only lower-case .xml/.rels parts were read; a DTD or a remote
    reference in `.XML`, `.vml`, `.svg` went through untouched."""
    url = "http://127.0.0.1:9/remote.png"
    bodies = {
        "vml": f'<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">'
               f'<v:shape><v:imagedata o:href="{url}" src="{url}"/></v:shape></xml>',
        "svg": f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
               f'<image xlink:href="{url}"/><image href="{url}"/>'
               f'<a xlink:href="https://example.org/kept"><text>kept</text></a></svg>',
    }
    body = bodies["svg" if name.endswith((".svg", "no-extension")) else "vml"]
    with_refs = tmp_path / "refs.pptx"
    with_refs.write_bytes(deck_files["talk.pptx"].read_bytes())
    _replace_part(with_refs, name, ("\ufeff  \n" + body).encode())
    clean = tmp_path / "clean.pptx"
    assert decks.sanitize_package(with_refs, clean) == 1 + 2  # talk.pptx's linked picture, and these two
    with zipfile.ZipFile(clean) as z:
        text = z.read(name).decode()
    assert url not in text
    if "svg" in body:
        assert "https://example.org/kept" in text

    dtd = tmp_path / "dtd.pptx"
    dtd.write_bytes(deck_files["talk.pptx"].read_bytes())
    _replace_part(dtd, name, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/">]><x>&e;</x>')
    with pytest.raises(slides.SlidesRejected, match="declares an XML DTD"):
        decks.sanitize_package(dtd, tmp_path / "clean2.pptx")


def test_an_odp_svg_part_is_read_too(tmp_path):
    odp = make_odp(tmp_path / "deck.odp")
    _replace_part(odp, "Pictures/drawing.SVG", b'<svg xmlns="http://www.w3.org/2000/svg" '
                  b'xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="http://127.0.0.1:9/x.png"/></svg>')
    clean = tmp_path / "clean.odp"
    assert decks.sanitize_package(odp, clean) == 1
    with zipfile.ZipFile(clean) as z:
        assert b"127.0.0.1" not in z.read("Pictures/drawing.SVG")


@pytest.mark.parametrize("href, kept", [("https://example.org/agenda", True), ("mailto:team@example.org", True),
                                        ("#page2", True), ("file:///etc/hostname", False),
                                        ("vnd.sun.star.script:Standard.Module1.Run?language=Basic", False)])
def test_odp_hyperlinks_stay_only_as_web_links(tmp_path, href, kept):
    odp = make_odp(tmp_path / "deck.odp")
    with zipfile.ZipFile(odp) as z:
        content = z.read("content.xml").replace(b"https://example.org/agenda", href.encode())
    _replace_part(odp, "content.xml", content)
    clean = tmp_path / "clean.odp"
    assert decks.sanitize_package(odp, clean) == (0 if kept else 1)
    with zipfile.ZipFile(clean) as z:
        assert (f'xlink:href="{href}"' in z.read("content.xml").decode()) == kept


SVG_EXT = "{96DAC541-7B7A-43D3-8B79-37D633B846F1}"  # PowerPoint's SVG picture extension
ASVG_NS = "http://schemas.microsoft.com/office/drawing/2016/SVG/main"


def pptx_loading(path, refs: list[str]):
    """A python-pptx deck whose picture carries an SVG (`asvg:svgBlip`) and a VML drawing
    that name `refs` in every load attribute: SVG href/xlink:href, VML o:href/r:href/src."""
    deck = crafted_pptx(path, "https://example.org/unused.png", click_target=None)
    images = "".join(f'<image xlink:href="{r}" width="10" height="10"/><image href="{r}"/>' for r in refs)
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" '
           f'height="100"><rect width="100" height="100" fill="#c00"/>{images}</svg>')
    vml = ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
           f'xmlns:r="{R_NS}">' + "".join(f'<v:shape><v:imagedata o:href="{r}" r:href="{r}" src="{r}"/></v:shape>'
                                          for r in refs) + "</xml>")
    with zipfile.ZipFile(deck) as z:
        slide, rels = z.read("ppt/slides/slide1.xml"), z.read("ppt/slides/_rels/slide1.xml.rels")
        types = z.read("[Content_Types].xml")
    rels = rels.replace(b"</Relationships>", f'<Relationship Id="rIdSvg" Type="{IMAGE_REL}" '
                                             f'Target="../media/drawing.svg"/></Relationships>'.encode())
    # The picture is the SVG (its own fallback too); the linked PNG's relationship stays unused.
    blip = slide[slide.index(b"<a:blip "):slide.index(b"/>", slide.index(b"<a:blip ")) + 2]
    slide = slide.replace(blip, f'<a:blip r:embed="rIdSvg"><a:extLst><a:ext uri="{SVG_EXT}"><asvg:svgBlip '
                                f'xmlns:asvg="{ASVG_NS}" r:embed="rIdSvg"/></a:ext></a:extLst></a:blip>'.encode())
    types = types.replace(b"<Default ", b'<Default Extension="svg" ContentType="image/svg+xml"/>'
                                        b'<Default Extension="vml" ContentType="application/vnd.openxmlformats-'
                                        b'officedocument.vmlDrawing"/><Default ', 1)
    _replace_part(deck, "ppt/slides/slide1.xml", slide)
    _replace_part(deck, "ppt/slides/_rels/slide1.xml.rels", rels)
    _replace_part(deck, "[Content_Types].xml", types)
    _replace_part(deck, "ppt/media/drawing.svg", svg.encode())
    _replace_part(deck, "ppt/drawings/vmlDrawing1.vml", vml.encode())
    return deck


def _pdf_text(path) -> str:
    doc = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(doc[i].get_textpage().get_text_bounded() for i in range(len(doc)))
    finally:
        doc.close()


def test_pptx_load_attributes_naming_files_outside_the_package_go(tmp_path, settings):
    """The defect: the PPTX sanitiser dropped only URLs from href/src, keeping absolute and
    `../` paths (the ODP one drops them): an SVG or VML part could name /proc/self/environ
    or a file beside the deck's folder."""
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("OUTSIDE-THE-DECK-FOLDER")
    folder = tmp_path / "deck"
    folder.mkdir()
    refs = ["/proc/self/environ", "../outside-secret.txt", str(outside), "..\\outside-secret.txt",
            "%2e%2e/outside-secret.txt", "file:///proc/self/environ"]
    deck = pptx_loading(folder / "deck.pptx", refs)
    clean = folder / "clean.pptx"
    # 2 SVG and 3 VML attributes per reference, and the unused external relationship.
    assert decks.sanitize_package(deck, clean) == 5 * len(refs) + 1
    with zipfile.ZipFile(clean) as z:
        svg, vml = z.read("ppt/media/drawing.svg").decode(), z.read("ppt/drawings/vmlDrawing1.vml").decode()
        slide = z.read("ppt/slides/slide1.xml").decode()
    for part in (svg, vml):
        assert "href=" not in part and "src=" not in part
        assert "environ" not in part and "outside-secret" not in part
        ElementTree.fromstring(part)
    assert 'r:embed="rIdSvg"' in slide  # the picture itself, inside the package, stays

    libreoffice.convert_to_pdf(clean, folder / "deck.pdf", decks.FORMATS["pptx"],
                               libreoffice.office_limits(settings), tmp_root=folder)
    text = _pdf_text(folder / "deck.pdf")
    assert "Crafted" in text  # the control: the slide's own text is there
    assert "OUTSIDE-THE-DECK-FOLDER" not in text and "PATH=" not in text and "LANG=" not in text
