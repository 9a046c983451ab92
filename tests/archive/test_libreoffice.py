"""LibreOffice through the runner (archive/libreoffice.py): a fixed command line, a
hardened fresh profile, limits, and a network namespace that stops a fetch on its own."""
from __future__ import annotations

import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pypdfium2 as pdfium
import pytest

from archive import decks, libreoffice, runner

from .deck_inputs import deck_files, listener  # noqa: F401


def _pdf_pages(path: Path) -> int:
    doc = pdfium.PdfDocument(str(path))
    try:
        return len(doc)
    finally:
        doc.close()


def test_the_libreoffice_command_line_is_fixed_and_fresh(tmp_path):
    args = libreoffice.convert_args(tmp_path / "in" / "deck.pptx", tmp_path / "out", tmp_path / "profile",
                               decks.FORMATS["pptx"])
    assert args[0] == "soffice"  # limits and the namespace come from the runner, not the command
    assert f"-env:UserInstallation=file://{tmp_path}/profile" in args
    assert "--headless" in args and "--norestore" in args
    assert "--infilter=Impress MS PowerPoint 2007 XML" in args  # no guessing the input type
    assert args[args.index("--convert-to") + 1] == "pdf:impress_pdf_Export"
    assert args[args.index("--outdir") + 1] == str(tmp_path / "out")
    assert args[-1] == str(tmp_path / "in" / "deck.pptx")
    assert "--infilter=impress8" in libreoffice.convert_args(Path("deck.odp"), Path("o"), Path("p"),
                                                       decks.FORMATS["odp"])


def test_the_profile_blocks_links_and_routes_every_proxy_to_a_closed_port():
    root = ElementTree.fromstring(libreoffice.profile_xcu())
    oor = "{http://openoffice.org/2001/registry}"
    props = {(item.get(f"{oor}path"), prop.get(f"{oor}name")): prop.findtext("value") or ""
             for item in root for prop in item}
    inet = "/org.openoffice.Inet/Settings"
    assert props[("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks")] == "true"
    assert props[(inet, "ooInetProxyType")] == "1" and props[(inet, "ooInetNoProxy")] == ""
    for scheme in ("HTTP", "HTTPS", "FTP"):
        assert (props[(inet, f"ooInet{scheme}ProxyName")], props[(inet, f"ooInet{scheme}ProxyPort")]) == \
            ("127.0.0.1", "9")


# -- conversion ------------------------------------------------------------------------------

def test_libreoffice_profile_alone_fetches_nothing(deck_files, listener, tmp_path):
    """The third layer alone (network allowed, nothing stripped): the profile's proxies
    and link blocking stop the fetch too."""
    with zipfile.ZipFile(deck_files["talk.odp"]) as z:
        assert listener.url("linked-image.png") in z.read("content.xml").decode()
    libreoffice.convert_to_pdf(deck_files["talk.odp"], tmp_path / "deck.pdf", decks.FORMATS["odp"],
                               runner.Limits(120, 4096, network=True), tmp_root=tmp_path)
    assert listener.hits_so_far() == []
    assert _pdf_pages(tmp_path / "deck.pdf") == 2


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


def test_a_slow_conversion_is_killed_and_leaves_nothing(deck_files, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    started = time.monotonic()
    with pytest.raises(libreoffice.ConversionTimedOut, match="did not finish within 0.5 s"):
        libreoffice.convert_to_pdf(deck_files["talk.pptx"], tmp_path / "deck.pdf", decks.FORMATS["pptx"],
                                   runner.Limits(0.5, 4096, network=False), tmp_root=scratch)
    assert time.monotonic() - started < 15
    assert list(scratch.iterdir()) == []  # the profile, the copy of the deck: all removed
    assert _processes_mentioning(str(scratch)) == []  # soffice.bin killed with its launcher
    assert not (tmp_path / "deck.pdf").exists()



def test_with_stripping_off_the_namespace_alone_stops_the_fetch(deck_files, listener, settings, tmp_path):
    """The issue's test: links left in (strip_links=False), the profile's hardening gone,
    LibreOffice run as the worker runs it (its limits from Settings: no network) fetches
    nothing; the same deck run with the network does fetch, so the namespace is what
    stopped it."""
    assert runner.network_isolation_available()
    kept = tmp_path / "kept.pptx"
    assert decks.sanitize_package(deck_files["talk.pptx"], kept, strip_links=False) == 0
    assert listener.url("linked-image.png").encode() in _part(kept, "ppt/slides/_rels/slide3.xml.rels")
    open_profile: dict = {}  # none of the profile's hardening: no proxies, links not blocked
    limits = libreoffice.office_limits(settings)
    assert limits.network is False
    assert (limits.seconds, limits.memory_mb) == (settings.office_timeout_seconds, settings.office_memory_mb)

    libreoffice.convert_to_pdf(kept, tmp_path / "isolated.pdf", decks.FORMATS["pptx"], limits,
                               tmp_root=tmp_path, profile=open_profile)
    assert listener.hits_so_far() == [], "LibreOffice reached the listener from its network namespace"
    assert _pdf_pages(tmp_path / "isolated.pdf") == 3

    # The control: the same deck and profile with the network fetches the picture.
    with_network = runner.Limits(limits.seconds, limits.memory_mb, network=True)
    libreoffice.convert_to_pdf(kept, tmp_path / "open.pdf", decks.FORMATS["pptx"], with_network,
                               tmp_root=tmp_path, profile=open_profile)
    fetched = listener.hits_so_far()
    assert fetched and b"linked-image.png" in fetched[0]
    listener.hits.clear()


def _part(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)
