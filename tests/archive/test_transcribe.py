"""Automatic captions (the `transcribe` job) with the real recognizer (Whisper base, int8,
installed by scripts/test) on speech made by espeak-ng, on both catalog backends. The
model is loaded once per test process (archive.speech keeps it)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from archive import captions, pipeline, removal, speech, uploads
from archive.importer import ImportRequest, PresentationInput, SpeakerInput, import_webinar
from archive.context import Archive
from archive.models import Asset, Job
from archive.worker import Worker
from archive.search.reading import search

from ..conftest import make_settings
from ..helpers import reload
from ..speech_inputs import SPEAKER, TALK, make_talk, make_without_speech, whisper_dir
from ..staff import signed_in, staff_app
from .test_uploads import send
from ..web.test_syndication import _validator


@pytest.fixture
def settings(backend_settings):  # every test here runs on SQLite and on PostgreSQL
    return backend_settings.with_(transcribe_model=whisper_dir())


@pytest.fixture(scope="session")
def talk(tmp_path_factory):
    return make_talk(tmp_path_factory.mktemp("talk"))


def _import_talk(archive, talk, language: str | None = "en") -> str:
    w = import_webinar(archive, ImportRequest(
        title="Drawing for slides", recording=talk.recording, language=language,
        speakers=[SpeakerInput(SPEAKER)],
        presentations=[PresentationInput("Drawing with TikZ", speakers=[SPEAKER], slides=talk.deck, start=0.0)]))
    return w.id


def _automatic(archive, webinar_id: str) -> list[Asset]:
    with archive.catalog.session() as s:
        return list(s.scalars(select(Asset).where(Asset.webinar_id == webinar_id, Asset.automatic.is_(True))))


def _vtt(archive, asset: Asset) -> str:
    return archive.store.get_bytes(asset.outputs["vtt"]).decode()


def _hits(archive, query: str) -> list:
    with archive.catalog.session() as s:
        return [h for r in search(s, query).results for h in r.hits if h.kind == "caption"]


def test_words_worth_prompting_are_the_ones_rare_in_the_language_spoken():
    """A German deck's terms are picked by how rare they are in German (and English), not
    by the tokens the model takes for them, which are many for any German word."""
    tokens = lambda w: 4.0 if any(c in w for c in "äöüß") or len(w) > 8 else 3.0  # noqa: E731  as German reads
    german = speech.rarity("de", tokens)
    assert german("Beobachtungen") < 2.5 < german("Hieroglyphen") < german("Basensequenzen") == 4.0
    assert german("Regeln") < 1.5 and german("License") < 1.5  # common German; common English
    deck = ["Regeln und Worte", "Beobachtungen zu Hieroglyphen", "Kyrillische Schrift"]
    assert speech.vocabulary(deck, german) == ["Kyrillische", "Hieroglyphen", "Beobachtungen"]
    # The tokens alone put the first page's commonest words first, as if they were names.
    assert speech.vocabulary(deck, tokens)[:2] == ["Regeln", "Worte"]
    # English: the frequency and the tokens averaged; a language without a word list: the tokens.
    english = speech.rarity("en", lambda w: 1.0)
    assert english("the") == 0.5 and 2.0 < english("haplotype") <= 2.5
    assert speech.rarity("tlh", tokens) is tokens and speech.rarity("ja", tokens)("x") == 3.0


def test_pure_parts():
    words = [speech.Word(i * 0.3, i * 0.3 + 0.25, w) for i, w in enumerate(
        ("This is a rather long sentence that goes on and on with many words to split. And then "
         "another one follows after it.").split())]
    cues = speech.cues_from_words(words)
    for c in cues:
        assert all(len(line) <= speech.LINE_CHARS for line in c.text.split("\n"))
        assert c.text.count("\n") <= 1 and c.end - c.start <= speech.CUE_SECONDS + 0.01
    assert " ".join(" ".join(c.text.split()) for c in cues) == " ".join(w.text for w in words)
    vocab = speech.vocabulary(["The TikZ and pgf packages for Beamer", "TikZ again"],
                              rarity=lambda w: {"pgf": 2.0}.get(w, 1.0 if w.islower() else 3.0))
    assert vocab[0] == "TikZ" and "pgf" in vocab and "the" not in vocab
    # A title page's names without their footnote marks; a heading's plain word, a data
    # listing's capitals and an identifier nobody says as one word stay out.
    rarity = lambda w: 1.0 if w.casefold() in {"results", "and", "jens", "roded"} else 3.0  # noqa: E731
    listing = " ".join(["ATOM", "HETATM", "CONECT", "MASTER", "REMARK"] * 3)
    vocab = speech.vocabulary(["Haplotyping | Jens Gramm1 and Roded Sharan2 | Results", "Results: haplotype",
                               listing, "insertsectionnavigationhorizontal"], rarity)
    assert {"Gramm", "Sharan", "haplotype"} <= set(vocab), vocab
    assert not {"Results", "ATOM", "REMARK", "insertsectionnavigationhorizontal"} & set(vocab), vocab
    # The prompt fits its budget and keeps the title and the names, whatever the vocabulary.
    text = speech.prompt(["Till Tantau"], [f"term{i}x" for i in range(200)], "Haplotyping", budget=60)
    assert text.startswith("Haplotyping. Till Tantau. term0x, ") and len(text) // 4 + 1 <= 60
    assert not speech.kept("♪ ♪") and not speech.kept("[Music]") and speech.kept("Hello.")
    assert speech.prompt_terms("The beamer class. Till Tantau. pdfLATEX, LaTeX, and") == \
        ["beamer", "class", "Till", "Tantau", "pdfLATEX", "LaTeX"]
    assert speech.looping(["Euclid,", "Euclid,", "euclid"]) and not speech.looping(["la", "la", "land"])
    assert not speech.looping(["so", "so"])


def test_two_hearings_together_keep_the_prompted_one_but_where_it_dropped_or_garbled_a_term():
    def heard(text: str, at: float = 0.0) -> list[speech.Word]:
        return [speech.Word(at + i, at + i + 0.5, w) for i, w in enumerate(text.split())]

    def together(plain: str, prompted: str, terms, spans=()) -> str:
        return " ".join(w.text for w in speech.together(heard(plain), heard(prompted), terms, spans))

    terms = ["enumerate", "onslide", "setbeamertemplate", "Tantau", "pdfLATEX", "LaTeX", "overlay", "pgf", "SNP"]
    # The prompted hearing, but the plain one where it has more of the terms ("LaTeX" heard
    # "xelatex", "Overlays" heard "Overlazer" under the prompt) ...
    assert together("itemize and denumerate work as in latex. Overlays are the heart",
                    "itemize and enumerate work as xelatex. Overlazer the heart", terms) == \
        "itemize and enumerate work as in latex. Overlays are the heart"
    # ... or where the prompted hearing has far fewer letters: words dropped, or a term of
    # the prompt said in place of several ("pdfLATEX" for "P G F declared image").
    assert together("or with pgf declared image and pgf use image from the pgf package by till tentau.",
                    "or with pdfLATEX, and pdf Uce image from the pdf Package by Till Tantau.", terms) == \
        "or with pgf declared image and pgf use image from the pgf Package by Till Tantau."
    assert together("a sentence skipped whole", "", terms) == "a sentence skipped whole"
    # ... or where each has a term the other lacks: the prompt's own term written for another.
    assert together("from the pgf package", "from the pdfLATEX package", terms) == "from the pgf package"
    # Where neither has a term the other lacks, the prompted hearing: the deck's context
    # helps with the words around its terms too.
    assert together("is about the complex and the opposite speedblock partitioning. It is a genotype made tricks",
                    "is about the Complexity of SNP Block Partitioning. It is a genotype matrix", terms) == \
        "is about the Complexity of SNP Block Partitioning. It is a genotype matrix"
    assert together("with set beamer template you", "With setbeamertemplate, you", terms) == \
        "With setbeamertemplate, you"
    assert together("with unslide you choose", "With onslide you choose", terms) == "With onslide you choose"
    # Aligned within each voiced span: a word heard in one span is never traded for one of another.
    plain = heard("the enumerate", 0.0) + heard("the denumerate", 10.0)
    prompted = heard("the enumerate", 10.0)
    assert [(w.text, w.start) for w in speech.together(plain, prompted, terms, [(0.0, 2.0), (10.0, 12.0)])] == \
        [("the", 0.0), ("enumerate", 1.0), ("the", 10.0), ("enumerate", 11.0)]


def test_a_second_hearing_of_the_same_chunks_reuses_their_encoding():
    import numpy as np

    calls = []
    shared = speech.SharedEncoder(lambda f: calls.append(f.shape) or f.sum(), keep=2)
    a, b, c = (np.full((2, 80, 30), v, dtype=np.float32) for v in (1.0, 2.0, 3.0))
    assert [shared(x) for x in (a, b, a.copy(), b, c, a)] == [a.sum(), b.sum(), a.sum(), b.sum(), c.sum(), a.sum()]
    assert len(calls) == 4  # a, b, c, and a again once c pushed it out


def test_near_misses_of_the_decks_terms_are_written_as_the_terms():
    def heard(text: str) -> list[speech.Word]:
        return [speech.Word(i, i + 0.5, w) for i, w in enumerate(text.split())]

    def said(text: str, vocabulary: list[str], deck: list[str], names=()) -> str:
        return " ".join(w.text for w in speech.deck_corrected(heard(text), vocabulary, deck, names))

    deck = ["Haplotyping | Jens Gramm1 and Roded Sharan2", "Perfect phylogeny haplotyping", "Phylogenies of genotypes",
            "with onslide", "Medieninformatik", "Informatik und Informatiker", "Proteine"]
    vocabulary = ["phylogeny", "phylogenies", "haplotyping", "onslide", "Sharan", "Medieninformatik",
                  "Informatiker", "Proteine", "PGF"]
    assert said("perfect phylogeny haplotiping, joint work with Gen's Gram and Rodat Sharon.", vocabulary, deck,
                ["Till Tantau"]) == "perfect phylogeny haplotyping, joint work with Gen's Gramm and Rodat Sharan."
    assert said("with unslide you choose", vocabulary, deck) == "with onslide you choose"
    # "Gramm", a name on the first page, is a term though the vocabulary left it out; a
    # plural the deck spells otherwise is written as the deck does
    assert said("by Gram on perfect phylogenys", vocabulary, deck) == "by Gramm on perfect phylogenies"
    # two words heard for one term; the deck's own words are left as heard, never joined
    assert said("In der Medienin Formatik erzeugt", vocabulary, deck) == "In der Medieninformatik erzeugt"
    assert said("Logik für Informatik hält", vocabulary, deck) == "Logik für Informatik hält"
    assert said("explains the genotypes", ["Genotype"], deck) == "explains the genotypes"
    assert said("becomes NP -complete", ["NP-complete"], deck) == "becomes NP-complete"
    assert said("becomes NP -complete", ["NP-complete"], deck + ["NP"]) == "becomes NP -complete"
    # common words, words not near any term, and short terms (an acronym) change nothing
    assert said("these are the model and the module of pg", vocabulary, deck) == "these are the model and the module of pg"
    assert said("Till Tantu spoke", [], [], ["Till Tantau"]) == "Till Tantau spoke"
    assert [(w.start, w.end) for w in speech.deck_corrected(heard("a Medienin Formatik"), vocabulary, deck)] == \
        [(0, 0.5), (1, 2.5)]
    # Words the model ran together after a prompt of joined commands are written apart,
    # each piece with its share of the word's time; the deck's own joined words stay.
    guide = ["use usecolortheme with pdfLATEX or LaTeX", "PDF"]
    assert said("and usecolorthemePixaholeColorTheme. The pdfViewsImage, pdfLATEX and LaTeX in JavaScript",
                ["usecolortheme"], guide) == \
        "and usecolortheme Pixahole Color Theme. The pdf Views Image, pdfLATEX and LaTeX in JavaScript"
    assert [(w.text, w.start, w.end) for w in speech.unjoined([speech.Word(1.0, 2.0, "pdfPackage,")], ["pdf"])] == \
        [("pdf", 1.0, 1.3), ("Package,", 1.3, 2.0)]


def test_a_model_whose_files_do_not_match_is_refused(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"not a model")
    (tmp_path / "SHA256SUMS").write_text("905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57  model.bin\n")
    with pytest.raises(speech.ModelRefused, match="does not match"):
        speech.recognizer(str(tmp_path))
    with pytest.raises(speech.ModelRefused, match="no SHA256SUMS"):
        speech.recognizer(str(tmp_path.parent))
    speech.check_folder(__import__("pathlib").Path(whisper_dir()))  # the installed one passes


def test_deck_aware_captions_then_human_ones_win(archive, worker, talk, client):
    """The whole flow on one recording (the recognizer's time is the cost): automatic
    captions that know the deck, found at the word; a staff correction that wins and
    survives a rerun; captions uploaded afterwards that replace it."""
    wid = _import_talk(archive, talk)
    worker.run_until_idle()
    w = reload(archive, wid)
    assert w.status == "ready", w.errors
    [auto] = _automatic(archive, wid)
    assert auto.status == "ready" and auto.info["language"] == "en" and not auto.info["detected"]
    vtt = _vtt(archive, auto)
    # The deck's words, spelt as on the slides (Whisper base alone hears "Tick-Me" and "BGF").
    assert "TikZ" in vtt and "pgf" in vtt, vtt
    for cue in captions.parse(vtt.encode()):
        assert all(len(line) <= 48 for line in cue.text.split("\n")) and cue.end - cue.start <= 6.5
    page = client.get(f"/webinars/{wid}").get_data(as_text=True)
    assert 'label="English (automatic)"' in page
    # A word only said (on no slide): found, and the hit opens when it is said.
    said = next(at for at, text in TALK if "pineapple" in text)
    [hit] = _hits(archive, "pineapple")
    assert hit.asset_id == auto.id and said <= hit.at <= said + 3.0
    r = client.get("/search?q=pineapple").get_data(as_text=True)
    assert f"t={hit.at:g}" in r or f"t={int(hit.at)}" in r, r
    # It never held up watching: the recording was ready before the job started.
    with archive.catalog.session() as s:
        jobs = {j.kind: j for j in s.scalars(select(Job).join(Job.asset).where(Asset.webinar_id == wid))}
    assert jobs["transcribe"].started_at >= jobs["process_recording"].finished_at

    # Staff correct the automatic transcript in the browser: it becomes human captions.
    staff = signed_in(staff_app(archive))
    page = staff.get(f"/staff/webinars/{wid}/captions/{auto.id}/edit").get_data(as_text=True)
    assert "pineapple" in page
    cues = captions.parse(_vtt(archive, auto).encode())
    texts = [c.text.replace("pineapple", "mango") for c in cues]
    r = staff.post(f"/staff/webinars/{wid}/captions/{auto.id}/edit", data={"cue": texts})
    assert r.status_code == 302, r.get_data(as_text=True)
    worker.run_until_idle()
    w = reload(archive, wid)
    [shown] = w.captions
    assert not shown.automatic and shown.status == "ready" and "mango" in _vtt(archive, shown)
    assert auto.id in {a.id for a in w.assets}  # kept for staff
    assert _hits(archive, "mango") and not _hits(archive, "pineapple")
    # The recognizer runs again: the correction stays, and nothing automatic comes back.
    with archive.catalog.session() as s:
        job = s.scalars(select(Job).where(Job.kind == "transcribe")).one()
    pipeline.retry(archive.catalog, job.id)
    worker.run_until_idle()
    w = reload(archive, wid)
    assert [c.id for c in w.captions] == [shown.id] and "mango" in _vtt(archive, shown)
    assert "uploaded" in w.recording.info["transcript"]["skipped"]
    assert not _hits(archive, "pineapple")

    # Captions uploaded afterwards (another human track) replace the corrected one.
    data = b"WEBVTT\n\n00:00:00.500 --> 00:00:03.000\nWelcome to this talk about kiwis.\n"
    up = uploads.create(archive, "staff-1", wid, "captions", "talk.vtt", len(data), language="en",
                        replaces=shown.id)
    uploads.complete(archive, up.id, "staff-1", send(archive, up, data))
    worker.run_until_idle()
    w = reload(archive, wid)
    assert [c.id for c in w.captions] == [up.id]
    assert _hits(archive, "kiwis") and not _hits(archive, "pineapple") and not _hits(archive, "mango")
    [track] = client.get(f"/api/v1/webinars/{wid}").get_json()["captions"]
    assert track["automatic"] is False and track["language"] == "en"

    # The human captions deleted: the automatic track is back, in the player and in search.
    removal.remove_asset(archive, up.id)
    w = reload(archive, wid)
    assert [c.id for c in w.captions] == [auto.id]
    assert 'label="English (automatic)"' in client.get(f"/webinars/{wid}").get_data(as_text=True)
    body = client.get(f"/api/v1/webinars/{wid}").get_json()
    _validator("Webinar").validate(body)
    [track] = body["captions"]
    assert track["automatic"] is True and track["url"].endswith(f"/{auto.id}.vtt")
    [hit] = _hits(archive, "pineapple")
    assert hit.asset_id == auto.id and said <= hit.at <= said + 3.0
    assert not _hits(archive, "kiwis")


@pytest.fixture
def sqlite_archive(minio, tmp_path):
    """For the tests whose catalog work the flow above already runs on both backends."""
    a = Archive.from_settings(make_settings(minio, tmp_path, WEBINAR_ARCHIVE_TRANSCRIBE_MODEL=whisper_dir()))
    a.setup()
    yield a
    a.close()


def test_a_talk_without_a_language_is_heard_first_and_its_deck_prompted_in_that_language(archive, worker, talk):
    """No language set: the job hears it before choosing the deck's words (their rarity
    is the language's), and the captions are in it, marked detected."""
    wid = _import_talk(archive, talk, language=None)
    worker.run_until_idle()
    w = reload(archive, wid)
    [auto] = _automatic(archive, wid)
    assert auto.status == "ready" and auto.info["language"] == "en" and auto.info["detected"], auto.info
    [stretch] = w.recording.info["transcript"]["prompts"]
    assert "TikZ" in stretch["prompt"] and "TikZ" in _vtt(archive, auto)


def test_human_captions_first_no_automatic_ones(sqlite_archive, talk, tmp_path):
    archive, worker = sqlite_archive, Worker(sqlite_archive, name="test-worker")
    vtt = tmp_path / "talk.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.500 --> 00:00:03.000\nWelcome.\n")
    w = import_webinar(archive, ImportRequest(title="Captioned", recording=talk.recording, language="en",
                                              captions=[("en", vtt)]))
    worker.run_until_idle()
    assert _automatic(archive, w.id) == []
    assert "uploaded" in reload(archive, w.id).recording.info["transcript"]["skipped"]


def test_no_speech_no_captions(sqlite_archive, tmp_path_factory):
    """Without audio, with silence, with music: nothing invented. The language is left to
    detection here (none set), as it is for most uploads."""
    archive, worker = sqlite_archive, Worker(sqlite_archive, name="test-worker")
    files = make_without_speech(tmp_path_factory.mktemp("quiet"))
    ids = {name: import_webinar(archive, ImportRequest(title=name, recording=path)).id
           for name, path in files.items()}
    worker.run_until_idle()
    for name, wid in ids.items():
        w = reload(archive, wid)
        assert w.status == "ready", (name, w.errors)
        assert _automatic(archive, wid) == [], name
        assert w.recording.info["transcript"].get("skipped"), (name, w.recording.info["transcript"])
