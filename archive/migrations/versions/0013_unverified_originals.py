"""unverified originals: an asset's SHA-256 is empty while its upload is being read

A browser-playable upload plays as soon as its first and last bytes are checked; its
asset exists then, and its SHA-256 is recorded when the one full read of the file ends
(the check job). Every existing row has its digest.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.alter_column('sha256', existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM assets WHERE sha256 IS NULL")
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.alter_column('sha256', existing_type=sa.String(length=64), nullable=False)
