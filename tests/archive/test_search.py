"""Search over the catalog, on SQLite (FTS5) and PostgreSQL (tsvector): what is found,
where a hit opens, what is never found, and the index kept in step with the catalog.
Decks and captions go through the real worker on real MinIO."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select, text

from archive import pipeline, queries, search
from archive.catalog import MIGRATIONS, Catalog
from archive.search import postgres, reading, sqlite
from archive.search import postgres as postgres_module  # beside the `postgres` server fixture
from archive.importer import ImportRequest, import_webinar
from archive.models import Asset, Job, Webinar, new_id, utcnow
from archive.pdfgen import write_deck
from archive.search import CLOSE, OPEN, Marked, SearchDocument

HOSTILE = [
    "", " ", '"', '""', "'", "*", "**", "-", "--", "- -", "(", ")", "((a", "a))", "NEAR(a b)", "a NEAR b",
    "a AND", "OR", "NOT", "AND OR NOT", "a OR b", "title:secret", "^a", "a:*", "!", "!!a", "a & b | c",
    "<->", "a <-> b", "'a' & 'b'", '"unbalanced', 'un"balanced', "-only -negative", "\x00\x01\x02\x03",
    "%", "_", "\\", "; DROP TABLE webinars; --", "日本語", "café", "x" * 10_000, "a " * 5000,
    '"' * 1001, "(" * 3000, "é\u0301", "\ufeff", "🙂", "a-b-c-d", "1e10", "-1", "NEAR/3",
]


@pytest.fixture
def settings(backend_settings):
    return backend_settings


@pytest.fixture(scope="module")
def long_deck(tmp_path_factory):
    """160 pages; the word 'xylophonic' only on page 37."""
    pages = [(f"Section {n}", [f"Ordinary slide number {n}", "common words on every page"]) for n in range(1, 161)]
    pages[36] = ("Section 37", ["Here is a xylophonic remark", "common words on every page"])
    return write_deck(tmp_path_factory.mktemp("deck") / "long.pdf", "Long deck", pages)


@pytest.fixture(scope="module")
def small_deck(tmp_path_factory):
    return write_deck(tmp_path_factory.mktemp("small") / "small.pdf", "Small", [("Hello", ["world"])])


def find(archive, query: str, **kw) -> search.Results:
    with archive.catalog.session() as s:
        return search.search(s, query, **kw)


def documents(archive, **where) -> list[SearchDocument]:
    with archive.catalog.session() as s:
        return list(s.scalars(select(SearchDocument).filter_by(**where).order_by(SearchDocument.id)))


def _captions_asset(s, webinar_id: str) -> Asset:
    """A captions asset row without its file, for indexing text directly."""
    asset = Asset(id=new_id(), webinar_id=webinar_id, kind="captions", original_filename="en.vtt",
                  original_ext="vtt", content_type="text/vtt", size=1, sha256="0" * 64, status="ready",
                  info={"language": "en"}, outputs={})
    s.add(asset)
    s.flush()
    return asset


def add_webinar(archive, title: str, description: str = "", visibility: str = "public") -> str:
    """A catalog row written the way the importer writes it, without files."""
    with archive.catalog.transaction() as s:
        w = Webinar(id=new_id(), title=title, description=description, visibility=visibility)
        s.add(w)
        search.index_webinar(s, w)
        return w.id


def test_title_and_description_are_found_through_the_importer(archive, small_deck):
    w = import_webinar(archive, ImportRequest(
        title="Zebrafish genomics", description="Notes on the axolotl's regeneration.", slides=[small_deck]))
    [result] = find(archive, "zebrafish").results
    assert result.webinar_id == w.id and result.title.segments == (("Zebrafish", True), (" genomics", False))
    [hit] = find(archive, "AXOLOTL").results[0].hits
    assert hit.kind == "webinar" and hit.snippet.matches[0].startswith("axolotl")
    assert find(archive, "genomics regeneration").results[0].webinar_id == w.id
    assert find(archive, "zebrafish -axolotl").results == []


def test_a_word_on_page_37_of_160_opens_page_37_and_reprocessing_keeps_one_copy(archive, worker, long_deck):
    w = import_webinar(archive, ImportRequest(title="Percussion", slides=[long_deck]))
    worker.run_until_idle()
    with archive.catalog.session() as s:
        deck = queries.get(s, w.id).decks[0]
    assert deck.status == "ready"
    [result] = find(archive, "xylophonic").results
    [hit] = result.hits
    assert (hit.kind, hit.asset_id, hit.page, hit.at) == ("slide", deck.id, 37, None)
    assert ("xylophonic", True) in hit.snippet.segments and "xylophonic remark" in hit.snippet.plain
    assert len(documents(archive, asset_id=deck.id)) == 160

    # Staff run the deck's job again: its text is replaced, never added to.
    with archive.catalog.session() as s:
        job_id = s.scalar(select(Job.id).where(Job.asset_id == deck.id, Job.kind == "process_slides"))
    pipeline.retry(archive.catalog, job_id)
    worker.run_until_idle()
    assert len(documents(archive, asset_id=deck.id)) == 160
    assert [h.page for h in find(archive, "xylophonic").results[0].hits] == [37]


def test_a_caption_phrase_across_two_cues_opens_the_recording_at_its_cue(archive, worker, small_deck, tmp_path):
    vtt = tmp_path / "talk.vtt"
    cues = [f"00:{m:02d}:{s:02d}.000 --> 00:{m:02d}:{s + 4:02d}.000\nplain cue number {i}"
            for i, (m, s) in enumerate((i * 5 // 60, i * 5 % 60) for i in range(60))]
    cues[30] = "00:02:30.000 --> 00:02:34.000\nwe now turn to quantum"
    cues[31] = "00:02:35.000 --> 00:02:39.000\nentanglement in practice"
    vtt.write_text("WEBVTT\n\n" + "\n\n".join(cues) + "\n")
    w = import_webinar(archive, ImportRequest(title="Physics", slides=[small_deck], captions=[("en", vtt)]))
    worker.run_until_idle()
    [result] = find(archive, '"quantum entanglement"').results
    assert result.webinar_id == w.id
    [hit] = result.hits
    assert hit.kind == "caption" and hit.at == 150.0
    assert hit.snippet.matches in (["quantum", "entanglement"], ["quantum entanglement"])
    [hit] = find(archive, "entanglement").results[0].hits
    assert hit.at == 155.0
    # 60 cues of 5 s make 10 windows of about 30 s, not 60 rows.
    with archive.catalog.session() as s:
        captions_asset = queries.get(s, w.id).captions[0]
    assert len(documents(archive, asset_id=captions_asset.id)) == 10


def test_only_public_webinars_are_ever_found(archive):
    hidden = {v: add_webinar(archive, f"Secretive {v}", "classified material", v) for v in ("draft", "unlisted", "private")}
    shown = add_webinar(archive, "Open session", "classified material")
    for query in ("classified", "secretive", "material", "secretive draft", "classified -open"):
        ids = {r.webinar_id for r in find(archive, query).results}
        assert not ids & set(hidden.values()), query
    assert [r.webinar_id for r in find(archive, "classified").results] == [shown]
    # Visibility is read at query time: publishing needs no reindexing.
    with archive.catalog.transaction() as s:
        s.get(Webinar, hidden["draft"]).visibility = "public"
    assert {r.webinar_id for r in find(archive, "classified").results} == {shown, hidden["draft"]}
    # Public but to be published tomorrow: not found until then.
    with archive.catalog.transaction() as s:
        s.get(Webinar, shown).publish_at = utcnow() + dt.timedelta(days=1)
    assert {r.webinar_id for r in find(archive, "classified").results} == {hidden["draft"]}


def test_listed_webinars_ranked_below_many_hidden_ones_are_found(archive, monkeypatch):
    """Ranking keeps the best few matches before asking which are listed (PostgreSQL:
    those at or above the k-th best score); when all of those are hidden, it looks
    further down rather than answering nothing."""
    monkeypatch.setattr(postgres_module, "MATCHES_SPARE", 0)
    for i in range(8):
        add_webinar(archive, f"Gizmo gizmo {i}", "gizmo " * 5, "private")
    shown = [add_webinar(archive, f"Talk {i}", "the gizmo" + " filler" * i) for i in range(3)]
    assert {r.webinar_id for r in find(archive, "gizmo", limit=3).results} == set(shown)
    page = find(archive, "gizmo", limit=1)
    assert len(page.results) == 1 and page.results[0].webinar_id in shown and page.has_more


@pytest.mark.parametrize("phrase", [False, "rare", "common"])
def test_pages_of_results_in_rank_order(archive, monkeypatch, phrase):
    if phrase == "common":  # too common to list its documents: checked on the ranked candidates,
        monkeypatch.setattr(sqlite, "PHRASE_PROBE_DOCUMENTS", 0)  # in batches smaller than the catalog here
        monkeypatch.setattr(reading, "VERIFY_FIRST_BATCH", 3)
        monkeypatch.setattr(reading, "VERIFY_ALL_AT", 1000)
    query = '"widget filler"' if phrase else "widget"
    ids = [add_webinar(archive, f"Talk {i}", "widget " * (1 + i % 5) + f"filler text {i}") for i in range(23)]
    add_webinar(archive, "Hidden widget", "widget widget", "private")
    seen, offset = [], 0
    while True:
        page = find(archive, query, limit=10, offset=offset)
        seen += [r.webinar_id for r in page.results]
        assert all(r.hits and r.hits[0].kind == "webinar" for r in page.results)
        if not page.has_more:
            break
        offset += 10
    assert sorted(seen) == sorted(ids) and len(seen) == 23
    scores = [r.score for o in (0, 10, 20) for r in find(archive, query, limit=10, offset=o).results]
    assert scores == sorted(scores, reverse=True)


def test_hostile_queries_never_fail(archive):
    add_webinar(archive, "Café society", "a b c NEAR title secret 日本語 a-b-c-d")
    for query in HOSTILE:
        results = find(archive, query)
        assert isinstance(results.results, list), query
    assert find(archive, "cafe").results and find(archive, "CAFÉ").results
    assert find(archive, "日本語").results


def test_indexed_text_cannot_forge_marks(archive):
    add_webinar(archive, "Safe", f"<script>alert(1)</script> {OPEN}fake{CLOSE} tricky & stuff")
    [hit] = find(archive, "tricky").results[0].hits
    assert hit.snippet.matches == ["tricky"]
    assert hit.snippet.plain == "<script>alert(1)</script> fake tricky & stuff"  # plain text: web/ escapes it


def test_marked_text_is_plain_segments():
    marked = Marked.parse(f"a {OPEN}b{CLOSE}{OPEN}c{CLOSE} <d> {OPEN}e")
    assert marked.segments == (("a ", False), ("bc", True), (" <d> ", False), ("e", True))
    assert marked.plain == str(marked) == "a bc <d> e" and marked.matches == ["bc", "e"]
    assert not Marked.parse("") and Marked.parse("x")


def test_editing_and_deleting_keep_the_index_in_step(archive, worker, long_deck):
    w = import_webinar(archive, ImportRequest(title="Before the edit", slides=[long_deck]))
    worker.run_until_idle()
    with archive.catalog.transaction() as s:
        row = s.get(Webinar, w.id)
        row.title = "After the edit"
        search.index_webinar(s, row)
    assert find(archive, "before").results == [] and find(archive, "after edit").results
    assert len(documents(archive, webinar_id=w.id, kind="webinar")) == 1
    with archive.catalog.transaction() as s:
        s.delete(queries.get(s, w.id))
    assert documents(archive, webinar_id=w.id) == []
    assert find(archive, "xylophonic").results == []
    with archive.catalog.session() as s:
        # Nothing left in the engine's own index either (FTS5: one docsize row per document).
        table = "search_fts_docsize" if s.get_bind().dialect.name == "sqlite" else "search_fts"
        assert s.scalar(text(f"SELECT count(*) FROM {table}")) == 0


def test_caption_windows():
    cues = [{"at": i * 2.0, "text": f"cue {i}"} for i in range(40)]
    docs = search.caption_documents(cues, window=30)
    assert [d.at for d in docs] == [0.0, 30.0, 60.0]
    assert docs[1].text.startswith("cue 15 cue 16") and docs[1].times[:2] == [[0, 30.0], [7, 32.0]]
    assert search.snippet("one two three") == "one two three"
    assert search.marks.cue_time(f"cue {OPEN}15{CLOSE} cue 16", docs[1].times) == 30.0
    assert search.marks.cue_time(f"cue 15 {OPEN}cue{CLOSE} 16", docs[1].times) == 32.0


def test_query_parsing():
    q = search.Query.parse('budget "open data" -draft (x) NEAR "unbalanced')
    assert q.terms == ("budget", "open data", "(x)", "NEAR", "unbalanced") and q.excluded == ("draft",)
    assert sqlite.match(q) == '("budget" "open data" "(x)" "NEAR" "unbalanced") NOT "draft"'
    assert not search.Query.parse('-only "" * ()')


@pytest.mark.parametrize("probe", [sqlite.PHRASE_PROBE_DOCUMENTS, "words", 0])
def test_phrases_are_checked_on_the_documents_and_a_word_counts_once_per_webinar(archive, monkeypatch, probe):
    """Summaries know a webinar's words, not their order: a phrase is found only where it
    is said, an excluded phrase removes only the webinars that say it, and a word said a
    thousand times weighs little more than a word said once. The ways of finding a
    phrase: from its documents (a rare phrase; on PostgreSQL through the index of word
    pairs, or, "words", without that index through its words), or by checking ranked
    candidates (0: every phrase counts as common)."""
    words, taken, pairs = probe == "words", [], postgres.phrase_pairs
    if words:
        monkeypatch.setattr(postgres, "phrase_pairs", lambda session, phrase: None)
        probe = sqlite.PHRASE_PROBE_DOCUMENTS
    else:
        monkeypatch.setattr(postgres, "phrase_pairs", lambda session, phrase: taken.append(phrase) or pairs(session, phrase))
    monkeypatch.setattr(sqlite, "PHRASE_PROBE_DOCUMENTS", probe)
    monkeypatch.setattr(postgres, "PHRASE_PROBE_DOCUMENTS", probe)
    monkeypatch.setattr(reading, "VERIFY_FIRST_BATCH", 1)  # several batches, then the whole index
    monkeypatch.setattr(reading, "VERIFY_ALL_AT", 4)
    said = add_webinar(archive, "Alpha", "the open data portal")
    apart = add_webinar(archive, "Beta", "data that is open to all")
    others = [add_webinar(archive, f"Other {i}", "open and data, but data open") for i in range(6)]
    chatty = add_webinar(archive, "Gamma", "lecture")
    with archive.catalog.transaction() as s:
        asset = _captions_asset(s, chatty)
        search.index_asset(s, asset, [{"at": float(i), "text": "budget " * 20} for i in range(50)]
                           + [{"at": 60.0, "text": "and then the open data portal again"}])
    if archive.catalog.engine.dialect.name == "postgresql":  # the statistics the probe reads
        with archive.catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("ANALYZE search_fts")
    # Said in the description weighs more than said once in the captions.
    assert [r.webinar_id for r in find(archive, '"open data"').results] == [said, chatty]
    assert [r.webinar_id for r in find(archive, '"open data" portal -lecture').results] == [said]
    assert [r.webinar_id for r in find(archive, '"open data" -"portal again"').results] == [said]
    assert find(archive, '"open data" "data that"').results == []
    with archive.catalog.session() as s:
        engine = sqlite.Sqlite if s.get_bind().dialect.name == "sqlite" else postgres.Postgres
        found = engine(search.Query.parse('"open data"')).held_phrases(s)  # which of the two ways was taken
        assert found is None if probe == 0 else [w for w, _ in found] == [said, chatty]
    assert bool(taken) == (not words and archive.catalog.engine.dialect.name == "postgresql")
    assert {r.webinar_id for r in find(archive, 'open data -"open data"', limit=20).results} == {apart, *others}
    assert {r.webinar_id for r in find(archive, 'data -"data portal" -that', limit=20).results} == set(others)
    hit = find(archive, '"data portal"', limit=20).results
    caption = next(h for r in hit if r.webinar_id == chatty for h in r.hits)
    assert caption.kind == "caption" and caption.at == 60.0 and caption.snippet.matches[0].startswith("data")
    with archive.catalog.session() as s:
        words = s.scalar(text("SELECT words FROM search_webinars WHERE webinar_id = :w"), {"w": chatty})
    assert words.split().count("budget") == 1 and "portal" in words.split()


def test_many_new_webinars_at_once_are_indexed_as_one_by_one(archive):
    """`index_new_webinars` (bulk loads) writes the very documents and summaries that
    `index_webinar` and `index_asset` write for each webinar and asset in turn."""
    texts = [[{"page": 1, "text": "Open data, portals"}, {"page": 2, "text": "budget lines"}],
             [{"at": 0.0, "text": "welcome to the budget"}, {"at": 40.0, "text": "open data again"}]]

    def add(s, made):
        w = Webinar(id=new_id(), title=f"Fiscal {len(made)}", description="the *open* budget")
        s.add(w)
        assets = []
        for kind, entries in zip(("slides", "captions"), texts):
            asset = Asset(id=new_id(), webinar_id=w.id, kind=kind, original_filename="f", original_ext="pdf",
                          content_type="application/pdf", size=1, sha256="0" * 64, status="ready", info={},
                          outputs={})
            s.add(asset)
            assets.append((asset, entries))
        made.append((w, assets))

    one_by_one, at_once = [], []
    with archive.catalog.transaction() as s:
        for _ in range(2):
            add(s, one_by_one)
        s.flush()
        for w, assets in one_by_one:
            search.index_webinar(s, w)
            for asset, entries in assets:
                search.index_asset(s, asset, entries)
    with archive.catalog.transaction() as s:
        for _ in range(2):
            add(s, at_once)
        search.index_new_webinars(s, at_once)

    def written(made):
        with archive.catalog.session() as s:
            out = []
            for w, assets in made:
                kinds = {a.id: a.kind for a, _ in assets}
                docs = s.scalars(select(SearchDocument).filter_by(webinar_id=w.id).order_by(SearchDocument.id))
                out.append(([(kinds.get(d.asset_id), d.kind, d.page, d.at_seconds, d.title, d.text, d.times)
                             for d in docs],
                            tuple(s.execute(text("SELECT title, text, words FROM search_webinars "
                                                 "WHERE webinar_id = :w"), {"w": w.id}).one())))
            return out

    assert written(at_once) == written(one_by_one)
    assert {r.webinar_id for r in find(archive, '"open data" budget', limit=10).results} \
        == {w.id for w, _ in at_once + one_by_one}


def test_postgres_ranks_alike_with_and_without_its_rum_index(postgres, catalog_template, monkeypatch):
    """Where the rum extension is installed, migration 0014 gives the summaries a RUM
    index and the best ranked come from it; the results are those of ranking every match
    (ties newest first, listed webinars only, pages), and without the index (a server
    without rum: here, the index dropped by the downgrade) search ranks every match."""
    catalog = Catalog(postgres.create_database(template=catalog_template))
    with catalog.session() as s:
        rum = s.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'")).first() is not None
        assert postgres_module.ranks_in_index(s) == rum
    day = dt.date(2026, 1, 1)
    ids = {}
    with catalog.transaction() as s:
        for i in range(24):  # many alike: 'widget' once, twice... in the description; some only in captions
            w = Webinar(id=new_id(), title=f"Talk {i}", description="widget " * (i % 4) + f"filler {i % 3}"
                        + " talk" * (i % 2),
                        visibility="private" if i == 5 else "public", held_on=day + dt.timedelta(days=i % 7))
            s.add(w)
            s.flush()
            search.index_webinar(s, w)
            search.index_asset(s, _captions_asset(s, w.id), [{"at": 1.0, "text": f"a widget gadget said {i}"}])
            ids[i] = w.id
        w = Webinar(id=new_id(), title="The widget handbook", description="gadget")
        s.add(w)
        s.flush()
        search.index_webinar(s, w)
        ids["title"] = w.id

    def pages(query: str) -> list:
        with catalog.session() as s:
            out = [search.search(s, query, limit=4, offset=o) for o in (0, 4, 8, 20)]
        return [([(r.webinar_id, round(r.score, 6)) for r in p.results], p.has_more) for p in out]

    queries = ["widget", "WIDGET gadget", "widget -filler", '"widget gadget"', "gadget", "filler", "talk",
               '"widget filler"', '"filler 1"']
    # Phrases found by the index of word pairs (0015, gone with the downgrade below) are
    # ranked by where they are said: here every phrase is checked on ranked candidates.
    no_pairs = lambda session, phrase: None  # noqa: E731
    monkeypatch.setattr(postgres_module, "phrase_pairs", no_pairs)
    monkeypatch.setattr(postgres_module, "RUM_FROM", 1)  # the index however few match
    monkeypatch.setattr(postgres_module, "RUM_CANDIDATES", 8)  # and its edge within ties
    monkeypatch.setattr(postgres_module, "RUM_MOST", 40)  # for the first pages
    monkeypatch.setattr(reading, "VERIFY_FIRST_BATCH", 8)  # a phrase's candidates, a few at a time
    taken, answered = [], []
    best, from_index, above_zero = (postgres_module.Postgres._best_ranked, postgres_module.Postgres._from_index,
                                    postgres_module.Postgres._above_zero)
    monkeypatch.setattr(postgres_module.Postgres, "_best_ranked",
                        lambda self, *a, **kw: taken.append(best(self, *a, **kw)) or taken[-1])

    def spy(way, method):
        def spied(self, session, *a):
            found = method(self, session, *a)
            answered.append((way(self, *a), found is not None))
            return found
        return spied
    monkeypatch.setattr(postgres_module.Postgres, "_from_index", spy(
        lambda self, r, *a: "headings" if r is self.ranked_in_headings else "index", from_index))
    monkeypatch.setattr(postgres_module.Postgres, "_above_zero", spy(lambda self, *a: "above zero", above_zero))
    with_index = {q: pages(q) for q in queries}
    assert any(t is not None for t in taken) == rum  # some answered from the index alone
    if rum:  # each way asked, and each both answering and leaving it to the next
        ways = ("headings", "index", "above zero")
        assert set(answered) == {(way, ok) for way in ways for ok in (True, False)}
    # 'talk' in the heading and the description first, then in the heading only
    assert {w for w, _ in with_index["talk"][0][0]} <= {ids[i] for i in range(1, 24, 2)}
    top = with_index["widget"][0][0]
    assert top[0][0] == ids["title"] and ids[5] not in {w for p, _ in with_index["widget"] for w, _ in p}
    # Fewer matches than RUM_FROM: the index still, for a word ANALYZE finds in enough
    # summaries' headings or own text to fill the page.
    monkeypatch.setattr(postgres_module, "RUM_FROM", 10 ** 6)
    monkeypatch.setattr(postgres_module, "RUM_SOME", 1)
    with catalog.transaction() as s:
        s.execute(text("ANALYZE search_webinar_fts"))
    catalog.dispose()  # connections that kept the statistics from before
    answered.clear()
    assert {q: pages(q) for q in queries} == with_index
    assert (("index", True) in answered or ("headings", True) in answered) == rum
    monkeypatch.setattr(postgres_module, "ranks_in_index", lambda session: False)
    assert {q: pages(q) for q in queries} == with_index
    monkeypatch.undo()
    monkeypatch.setattr(postgres_module, "phrase_pairs", no_pairs)
    # A server without rum: no index, and search as it always was.
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with catalog.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0013")
    catalog.dispose()  # connections that knew of the index
    with catalog.session() as s:
        assert not postgres_module.ranks_in_index(s)
    assert {q: pages(q) for q in queries} == with_index
    catalog.dispose()
