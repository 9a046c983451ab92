"""the check of a browser upload is a job: a job belongs to an asset or to an upload

`jobs.asset_id` becomes nullable and `jobs.upload_id` (FK to uploads) is added, exactly
one of the two set. The upload's own lease columns (0008) go: the check is leased,
retried and finished as every job is. An upload waiting for its check gets its job.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ONE_SUBJECT = "(asset_id IS NULL) <> (upload_id IS NULL)"


def upgrade() -> None:
    # uploads first: on SQLite batch mode recreates the table, and dropping the old one
    # would cascade to jobs that already point at it.
    with op.batch_alter_table('uploads') as batch:
        batch.drop_index('ix_uploads_check_expires_at')
        batch.drop_column('check_attempts')
        batch.drop_column('check_expires_at')
        batch.drop_column('check_owner')
    with op.batch_alter_table('jobs') as batch:
        batch.alter_column('asset_id', existing_type=sa.String(length=16), nullable=True)
        batch.add_column(sa.Column('upload_id', sa.String(length=16), nullable=True))
        batch.create_foreign_key('fk_jobs_upload_id_uploads', 'uploads', ['upload_id'], ['id'], ondelete='CASCADE')
        batch.create_index('ix_jobs_upload_id', ['upload_id'])
        batch.create_check_constraint('ck_jobs_one_subject', ONE_SUBJECT)
    # Uploads waiting for their check under the old scheme: their check is a job now.
    op.execute("INSERT INTO jobs (upload_id, kind, state, attempts, max_attempts, progress, run_after, created_at) "
               "SELECT id, 'check_upload', 'queued', 0, 3, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
               "FROM uploads WHERE state = 'checking'")


def downgrade() -> None:
    # The old scheme checks every `checking` upload by itself: the check jobs go.
    op.execute("DELETE FROM jobs WHERE upload_id IS NOT NULL")
    with op.batch_alter_table('jobs') as batch:
        batch.drop_constraint('ck_jobs_one_subject', type_='check')
        batch.drop_index('ix_jobs_upload_id')
        batch.drop_constraint('fk_jobs_upload_id_uploads', type_='foreignkey')
        batch.drop_column('upload_id')
        batch.alter_column('asset_id', existing_type=sa.String(length=16), nullable=False)
    with op.batch_alter_table('uploads') as batch:
        batch.add_column(sa.Column('check_owner', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('check_expires_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('check_attempts', sa.Integer(), server_default='0', nullable=False))
        batch.create_index('ix_uploads_check_expires_at', ['check_expires_at'])
