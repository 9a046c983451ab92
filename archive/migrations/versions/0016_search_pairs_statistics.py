"""search on PostgreSQL knows better which phrases are too common to look up, and which words its headings hold

Phrases:

A phrase is looked up through the index of word pairs (0015) unless ANALYZE's statistics
say its pairs are in more documents than are quickly checked (PHRASE_PROBE_DOCUMENTS,
2,000). With the default statistics target (100), ANALYZE lists the ~1,000 most common
pairs, the least of them in ~4,900 of 1.1 M documents: a pair not listed may be in up to
that many, so "these is" (in 2,469) was looked up, 2,001 documents read and dropped
(4-5 ms), before its webinars were taken from the ranked candidates anyway. A target of
400 lists 4,000 pairs, the least in ~1,340 documents: a pair that is not listed is in fewer
than 2,000. ANALYZE of search_fts then takes ~30 s over 10,000 webinars (it samples 120,000
documents), run here once and by autovacuum later.

Words: a word in a few hundred summaries' vocabularies but in the headings or own text
(`rank_tsv`) of a few ranks those above all others; the rest rank zero and, tied, are
ordered by date after a join of every one of them to its webinar (9 ms for 1,441). The RUM
index hands out the first alone when there are enough to fill a page, which ANALYZE's
statistics tell when they list the word: with the default target they list 1,000 words,
the least in 85 of 10,000 summaries; with 1,000, 10,000 words, down to 7 summaries. The
summaries are one row per webinar: ANALYZE reads them all in ~3 s over 10,000 webinars.

SQLite: nothing changes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

INDEX = "search_fts_pairs"  # as archive/search/postgres.py
TARGET = 400
WORDS_TARGET = 1000


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(f"ALTER INDEX IF EXISTS {INDEX} ALTER COLUMN 1 SET STATISTICS {TARGET}")
    op.execute(f"ALTER TABLE search_webinar_fts ALTER COLUMN rank_tsv SET STATISTICS {WORDS_TARGET}")
    op.execute("ANALYZE search_fts")
    op.execute("ANALYZE search_webinar_fts")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(f"ALTER INDEX IF EXISTS {INDEX} ALTER COLUMN 1 SET STATISTICS -1")
    op.execute("ALTER TABLE search_webinar_fts ALTER COLUMN rank_tsv SET STATISTICS -1")
