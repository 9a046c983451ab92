"""uploads are checked by a worker: the check's lease on the upload's row

A finished browser upload is `checking` until a worker has checked its content; the
worker holds the check with a lease (`check_owner`, `check_expires_at`) and counts its
attempts (`check_attempts`), as a job does.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('uploads') as batch:
        batch.add_column(sa.Column('check_owner', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('check_expires_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('check_attempts', sa.Integer(), server_default='0', nullable=False))
        batch.create_index('ix_uploads_check_expires_at', ['check_expires_at'])


def downgrade() -> None:
    with op.batch_alter_table('uploads') as batch:
        batch.drop_index('ix_uploads_check_expires_at')
        batch.drop_column('check_attempts')
        batch.drop_column('check_expires_at')
        batch.drop_column('check_owner')
