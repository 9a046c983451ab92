"""search documents, webinar summaries and the database's full-text index of them

SQLite: FTS5 tables over search_documents and search_webinars (external content), kept
by triggers. PostgreSQL: a tsvector per row of each in search_fts / search_webinar_fts
(GIN), kept by triggers, with the `archive_search` text search configuration ('simple',
plus unaccent when available).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
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

    op.create_table('search_webinars',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('webinar_id', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['webinar_id'], ['webinars.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('webinar_id')
    )

    if op.get_bind().dialect.name == "sqlite":
        # Documents carry their webinar's id as a third, unweighted column: the hits of a
        # page's webinars are found inside the engine (see archive/search.py).
        _sqlite_index("search_fts", "search_documents", ("title", "text", "webinar_id"), "0.0")
        _sqlite_index("search_webinar_fts", "search_webinars", ("title", "text"), "")
    else:
        _postgres_index()


def _sqlite_index(fts: str, content: str, columns: tuple[str, ...], extra_weight: str) -> None:
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    op.execute(f"""CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{content}', content_rowid='id',
        tokenize='{SQLITE_TOKENIZER}')""")
    weights = f"{TITLE_WEIGHT}, 1.0" + (f", {extra_weight}" if extra_weight else "")
    op.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('rank', 'bm25({weights})')")
    op.execute(f"""CREATE TRIGGER {content}_ai AFTER INSERT ON {content} BEGIN
        INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});
    END""")
    op.execute(f"""CREATE TRIGGER {content}_ad AFTER DELETE ON {content} BEGIN
        INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});
    END""")
    op.execute(f"""CREATE TRIGGER {content}_au AFTER UPDATE ON {content} BEGIN
        INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});
        INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});
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
    for fts, content, key in (("search_fts", "search_documents", "doc_id"),
                              ("search_webinar_fts", "search_webinars", "summary_id")):
        op.execute(f"""CREATE TABLE {fts} (
            {key} integer PRIMARY KEY REFERENCES {content} (id) ON DELETE CASCADE,
            tsv tsvector NOT NULL)""")
        op.execute(f"CREATE INDEX {fts}_tsv ON {fts} USING gin (tsv)")
        op.execute(f"""CREATE FUNCTION {fts}_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {fts} ({key}, tsv) VALUES (NEW.id,
                setweight(to_tsvector('archive_search', NEW.title), 'A') ||
                setweight(to_tsvector('archive_search', NEW.text), 'D'))
            ON CONFLICT ({key}) DO UPDATE SET tsv = EXCLUDED.tsv;
            RETURN NULL;
        END $$""")
        op.execute(f"""CREATE TRIGGER {content}_fts AFTER INSERT OR UPDATE OF title, text
            ON {content} FOR EACH ROW EXECUTE FUNCTION {fts}_write()""")


def downgrade() -> None:
    for fts, content in (("search_fts", "search_documents"), ("search_webinar_fts", "search_webinars")):
        if op.get_bind().dialect.name == "sqlite":
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {content}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {content}_fts ON {content}")
            op.execute(f"DROP FUNCTION IF EXISTS {fts}_write()")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS archive_search")
    op.drop_table('search_webinars')

    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_documents_webinar_id'))
        batch_op.drop_index(batch_op.f('ix_search_documents_asset_id'))

    op.drop_table('search_documents')
