"""slide timelines: when each page of a presentation's deck is on screen; jobs of two assets

`presentations.slide_timeline` (JSON) holds the alignment of the deck with the recording
(segments, who set them, whether staff accepted them, a proposed start). `jobs.partner_asset_id`
names the second asset of a job that needs two (the recording a deck is aligned with);
the job goes with either file.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('presentations') as batch:
        batch.add_column(sa.Column('slide_timeline', sa.JSON(), nullable=True))
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('partner_asset_id', sa.String(length=16), nullable=True))
        batch.create_foreign_key('fk_jobs_partner_asset_id_assets', 'assets', ['partner_asset_id'], ['id'],
                                 ondelete='CASCADE')
        batch.create_index('ix_jobs_partner_asset_id', ['partner_asset_id'])


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE partner_asset_id IS NOT NULL")
    with op.batch_alter_table('jobs') as batch:
        batch.drop_index('ix_jobs_partner_asset_id')
        batch.drop_constraint('fk_jobs_partner_asset_id_assets', type_='foreignkey')
        batch.drop_column('partner_asset_id')
    with op.batch_alter_table('presentations') as batch:
        batch.drop_column('slide_timeline')
