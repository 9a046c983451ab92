"""search finds phrases of common words through an index of each document's word pairs, on PostgreSQL

A phrase whose words are each in most documents ("can or of") but which is itself rare was
checked on ranked candidates' documents, thousands at a time (100-700 ms over 10,000
webinars): PostgreSQL's GIN index of words knows which documents hold a word, not where.
`search_pairs(tsv)` is a document's adjacent word pairs (two lexemes at positions p and
p + 1), each hashed to 5 hex digits (about a million buckets, so the index has a bounded
number of keys however large the vocabulary); a GIN index of it hands out the documents
holding every pair of a phrase, and only those few are checked for the phrase itself. It is
an expression index: nothing is stored in the rows, and triggers need no change. Two
different pairs may share a hash; that only adds candidates, which the phrase check drops.
SQLite: nothing changes (FTS5 has a positions index of its own).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

INDEX = "search_fts_pairs"  # as archive/search/postgres.py

# archive/search/postgres.py computes a phrase's pairs with this same function.
_PAIRS = """CREATE OR REPLACE FUNCTION search_pairs(v tsvector) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_to_tsvector(array_agg(DISTINCT substr(md5(a.lexeme || ' ' || b.lexeme), 1, 5))),
                    ''::tsvector)
    FROM (SELECT u.lexeme, p FROM unnest(v) u, unnest(u.positions) p) a
    JOIN (SELECT u.lexeme, p FROM unnest(v) u, unnest(u.positions) p) b ON b.p = a.p + 1
    $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(_PAIRS)
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # one pass over a large catalog's pairs
    op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON search_fts USING gin (search_pairs(tsv))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    op.execute("DROP FUNCTION IF EXISTS search_pairs(tsvector)")
