"""search documents and the database's full-text index of them

SQLite: an FTS5 table over search_documents (external content), kept by triggers.
PostgreSQL: a tsvector per document in search_fts (GIN), kept by a trigger, with the
`archive_search` text search configuration ('simple', plus unaccent when available).

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None

SQLITE_TOKENIZER = "unicode61 remove_diacritics 2"
TITLE_WEIGHT = 10.0  # bm25 weight of the heading column against the body's 1.0


def upgrade() -> None:
    op.create_table('search_documents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('webinar_id', sa.String(length=16), nullable=False),
    sa.Column('asset_id', sa.String(length=16), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('page', sa.Integer(), nullable=True),
    sa.Column('at_seconds', sa.Float(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('times', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webinar_id'], ['webinars.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_documents_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_documents_webinar_id'), ['webinar_id'], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        _sqlite_index()
    else:
        _postgres_index()


def _sqlite_index() -> None:
    op.execute(f"""CREATE VIRTUAL TABLE search_fts USING fts5(
        title, text, content='search_documents', content_rowid='id',
        tokenize='{SQLITE_TOKENIZER}')""")
    op.execute(f"INSERT INTO search_fts(search_fts, rank) VALUES ('rank', 'bm25({TITLE_WEIGHT}, 1.0)')")
    op.execute("""CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN
        INSERT INTO search_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""")
    op.execute("""CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
    END""")
    op.execute("""CREATE TRIGGER search_documents_au AFTER UPDATE OF title, text ON search_documents BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO search_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""")


def _postgres_index() -> None:
    bind = op.get_bind()
    # Accents are folded when the unaccent extension can be had (Debian's server package
    # ships it; it is a trusted extension since PostgreSQL 13); without it, words match
    # accents and all.
    unaccent = False
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
        unaccent = True
    except sa.exc.DBAPIError:
        pass
    op.execute("CREATE TEXT SEARCH CONFIGURATION archive_search (COPY = pg_catalog.simple)")
    if unaccent:
        op.execute("ALTER TEXT SEARCH CONFIGURATION archive_search "
                   "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple")
    op.execute("""CREATE TABLE search_fts (
        doc_id integer PRIMARY KEY REFERENCES search_documents (id) ON DELETE CASCADE,
        tsv tsvector NOT NULL)""")
    op.execute("CREATE INDEX search_fts_tsv ON search_fts USING gin (tsv)")
    op.execute("""CREATE FUNCTION search_fts_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_fts (doc_id, tsv) VALUES (NEW.id,
            setweight(to_tsvector('archive_search', NEW.title), 'A') ||
            setweight(to_tsvector('archive_search', NEW.text), 'D'))
        ON CONFLICT (doc_id) DO UPDATE SET tsv = EXCLUDED.tsv;
        RETURN NULL;
    END $$""")
    op.execute("""CREATE TRIGGER search_documents_fts AFTER INSERT OR UPDATE OF title, text
        ON search_documents FOR EACH ROW EXECUTE FUNCTION search_fts_write()""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("search_documents_ai", "search_documents_ad", "search_documents_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP TRIGGER IF EXISTS search_documents_fts ON search_documents")
        op.execute("DROP FUNCTION IF EXISTS search_fts_write()")
        op.execute("DROP TABLE IF EXISTS search_fts")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS archive_search")

    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_documents_webinar_id'))
        batch_op.drop_index(batch_op.f('ix_search_documents_asset_id'))

    op.drop_table('search_documents')
