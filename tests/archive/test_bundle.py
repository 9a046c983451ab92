"""The "all slides" ZIP: made by the worker once the decks are ready, with their
original names, and always the bundle of exactly the webinar's ready decks."""
from __future__ import annotations

import hashlib
import io
import zipfile

from archive.handlers.bundle import archive_names, current_bundle
from archive.importer import ImportRequest, import_webinar
from archive.models import Asset
from archive.pdfgen import write_deck

from ..helpers import reload


def test_the_bundle_holds_every_deck_as_uploaded(archive, worker, inputs, tmp_path):
    second = tmp_path / "Zweiter Vortrag – Folien.pdf"
    write_deck(second, "Second deck", [("Only slide", ["Zeta"])])
    w = import_webinar(archive, ImportRequest(title="Two decks", slides=[inputs["deck.pdf"], second]))
    worker.run_until_idle()
    decks = reload(archive, w.id).decks
    bundle = current_bundle(decks)
    assert bundle is not None and bundle["decks"] == [d.id for d in decks]
    data = archive.store.get_bytes(bundle["key"])
    assert len(data) == bundle["size"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.namelist() == ["deck.pdf", "Zweiter Vortrag – Folien.pdf"]
        for deck, name in zip(decks, z.namelist()):
            assert hashlib.sha256(z.read(name)).hexdigest() == deck.sha256


def test_a_bundle_of_other_decks_is_not_offered(archive, worker, inputs):
    w = import_webinar(archive, ImportRequest(title="One deck", slides=[inputs["deck.pdf"]]))
    worker.run_until_idle()
    deck = reload(archive, w.id).decks[0]
    assert current_bundle([deck]) is not None
    with archive.catalog.transaction() as s:  # as if a second deck had been added since
        s.get(Asset, deck.id).outputs = {**deck.outputs, "bundle": {**deck.outputs["bundle"], "decks": ["other"]}}
    assert current_bundle(reload(archive, w.id).decks) is None


def test_colliding_names_are_numbered():
    decks = [Asset(original_filename=n, original_ext="pdf") for n in ("a.pdf", "A.pdf", "a.pdf", "")]
    assert archive_names(decks) == ["a.pdf", "A (2).pdf", "a (3).pdf", "slides.pdf"]
