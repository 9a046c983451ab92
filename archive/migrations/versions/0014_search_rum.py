"""search ranks inside a RUM index on PostgreSQL, where the rum extension is installed

A common word is in most summaries: ranking all of them with ts_rank read thousands of
heading vectors (60-80 ms over 10,000 webinars) to show ten. A RUM index keeps each word's
positions and weights in the index, so `ORDER BY rank_tsv <=> query LIMIT n` takes the best
ranked from it. RUM is an extension (Debian: postgresql-NN-rum) that a server may lack or
that only a superuser may create: then nothing is made, and search ranks as before
(archive/search/postgres.py asks which way is there). SQLite: nothing changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

INDEX = "search_webinar_fts_rank_rum"  # as archive/search/postgres.py


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    if not bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'").first():
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS rum")
    except sa.exc.DBAPIError:  # not ours to create (rum is not a trusted extension)
        return
    op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON search_webinar_fts USING rum (rank_tsv rum_tsvector_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
