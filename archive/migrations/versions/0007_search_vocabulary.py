"""search summaries hold a webinar's vocabulary, not all its text

A summary was all of a webinar's documents in one row: a common word said 5,000 times in
a recording was 5,000 positions to read for every webinar when ranking. Now a summary is
the webinar's headings (`title`), its own text (`text`: description, speakers...) and every
distinct word of its slides and captions once (`words`). Phrases are checked on the
documents (archive/search.py).

SQLite: `search_webinar_fts` gets the `words` column (bm25 weights 10 / 2 / 1).
PostgreSQL: `search_webinar_fts` keeps `tsv` (every word, positions stripped: only for
finding, through GIN) and gains `rank_tsv` (headings as A, own text as B: ranking reads
this small vector only).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

SQLITE_TOKENIZER = "unicode61 remove_diacritics 2"
MAX_SUMMARY_CHARS = 300_000  # as archive/search.py at this revision
_EDGE = ".,;:!?\"'()[]{}<>«»“”‘’…*"
_OWN_KINDS = ("webinar", "speaker")


def _vocabulary(texts) -> str:
    words = {w.strip(_EDGE) for t in texts for w in t.split()}
    words.discard("")
    out, size = [], 0
    for w in sorted(words):
        size += len(w) + 1
        if size > MAX_SUMMARY_CHARS:
            break
        out.append(w)
    return " ".join(out)


def _rewrite_summaries() -> None:
    """Every summary made again from its webinar's documents (the rule of this revision,
    copied here so that the migration stays what it was when the code moves on)."""
    bind = op.get_bind()
    ids = [r[0] for r in bind.execute(sa.text("SELECT webinar_id FROM search_webinars"))]
    for wid in ids:
        rows = bind.execute(sa.text("SELECT kind, title, text FROM search_documents WHERE webinar_id = :w "
                                    "ORDER BY id"), {"w": wid}).all()
        bind.execute(sa.text("UPDATE search_webinars SET title = :title, text = :text, words = :words "
                             "WHERE webinar_id = :w"), {
            "w": wid,
            "title": "\n".join(r.title for r in rows if r.title),
            "text": "\n".join(r.text for r in rows if r.kind in _OWN_KINDS and r.text)[:MAX_SUMMARY_CHARS],
            "words": _vocabulary(r.text for r in rows if r.kind not in _OWN_KINDS),
        })


def _sqlite_summary_index(columns: tuple[str, ...], weights: str) -> None:
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS search_webinars_{suffix}")
    op.execute("DROP TABLE IF EXISTS search_webinar_fts")
    op.execute(f"""CREATE VIRTUAL TABLE search_webinar_fts USING fts5({cols}, content='search_webinars',
        content_rowid='id', tokenize='{SQLITE_TOKENIZER}')""")
    op.execute(f"INSERT INTO search_webinar_fts(search_webinar_fts, rank) VALUES ('rank', 'bm25({weights})')")
    op.execute(f"""CREATE TRIGGER search_webinars_ai AFTER INSERT ON search_webinars BEGIN
        INSERT INTO search_webinar_fts(rowid, {cols}) VALUES (new.id, {new});
    END""")
    op.execute(f"""CREATE TRIGGER search_webinars_ad AFTER DELETE ON search_webinars BEGIN
        INSERT INTO search_webinar_fts(search_webinar_fts, rowid, {cols}) VALUES ('delete', old.id, {old});
    END""")
    op.execute(f"""CREATE TRIGGER search_webinars_au AFTER UPDATE ON search_webinars BEGIN
        INSERT INTO search_webinar_fts(search_webinar_fts, rowid, {cols}) VALUES ('delete', old.id, {old});
        INSERT INTO search_webinar_fts(rowid, {cols}) VALUES (new.id, {new});
    END""")


_PG_WRITE = """CREATE OR REPLACE FUNCTION search_webinar_fts_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_webinar_fts (summary_id, tsv, rank_tsv) VALUES (NEW.id,
            strip(to_tsvector('archive_search', NEW.title || E'\\n' || NEW.text || E'\\n' || NEW.words)),
            setweight(to_tsvector('archive_search', NEW.title), 'A') ||
            setweight(to_tsvector('archive_search', NEW.text), 'B'))
        ON CONFLICT (summary_id) DO UPDATE SET tsv = EXCLUDED.tsv, rank_tsv = EXCLUDED.rank_tsv;
        RETURN NULL;
    END $$"""

_PG_WRITE_0005 = """CREATE OR REPLACE FUNCTION search_webinar_fts_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_webinar_fts (summary_id, tsv) VALUES (NEW.id,
            setweight(to_tsvector('archive_search', NEW.title), 'A') ||
            setweight(to_tsvector('archive_search', NEW.text), 'D'))
        ON CONFLICT (summary_id) DO UPDATE SET tsv = EXCLUDED.tsv;
        RETURN NULL;
    END $$"""


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for suffix in ("ai", "ad", "au"):  # the rewrite below goes to the new index, made after it
            op.execute(f"DROP TRIGGER IF EXISTS search_webinars_{suffix}")
        op.execute("DROP TABLE IF EXISTS search_webinar_fts")
    else:
        op.execute("DROP TRIGGER IF EXISTS search_webinars_fts ON search_webinars")
    with op.batch_alter_table('search_webinars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('words', sa.Text(), nullable=False, server_default=''))
    if not sqlite:
        op.execute("ALTER TABLE search_webinar_fts ADD COLUMN rank_tsv tsvector NOT NULL DEFAULT ''")
        op.execute(_PG_WRITE)
        op.execute("""CREATE TRIGGER search_webinars_fts AFTER INSERT OR UPDATE OF title, text, words
            ON search_webinars FOR EACH ROW EXECUTE FUNCTION search_webinar_fts_write()""")
    _rewrite_summaries()
    if sqlite:
        _sqlite_summary_index(("title", "text", "words"), "10.0, 2.0, 1.0")
        op.execute("INSERT INTO search_webinar_fts(search_webinar_fts) VALUES ('rebuild')")


def downgrade() -> None:
    """Back to 0005's summaries: all the documents' text in one row."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS search_webinars_{suffix}")
        op.execute("DROP TABLE IF EXISTS search_webinar_fts")
    else:
        op.execute("DROP TRIGGER IF EXISTS search_webinars_fts ON search_webinars")
        op.execute(_PG_WRITE_0005)
        op.execute("ALTER TABLE search_webinar_fts DROP COLUMN rank_tsv")
        op.execute("""CREATE TRIGGER search_webinars_fts AFTER INSERT OR UPDATE OF title, text
            ON search_webinars FOR EACH ROW EXECUTE FUNCTION search_webinar_fts_write()""")
    with op.batch_alter_table('search_webinars', schema=None) as batch_op:
        batch_op.drop_column('words')
    agg = "group_concat(x, char(10))" if sqlite else "string_agg(x, chr(10))"
    for col in ("title", "text"):
        bind.execute(sa.text(f"""UPDATE search_webinars SET {col} = substr(coalesce((
            SELECT {agg} FROM (SELECT d.{col} AS x FROM search_documents d
                               WHERE d.webinar_id = search_webinars.webinar_id AND d.{col} != ''
                               ORDER BY d.id) t), ''), 1, 1000000)"""))
    if sqlite:
        _sqlite_summary_index(("title", "text"), "10.0, 1.0")
        op.execute("INSERT INTO search_webinar_fts(search_webinar_fts) VALUES ('rebuild')")
