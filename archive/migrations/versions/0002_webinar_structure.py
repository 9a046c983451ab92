"""webinar structure: series, tags, speakers, presentations, times, language, publish_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('series',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    op.create_table('tags',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    op.create_table('speakers',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('organisation', sa.String(length=300), nullable=False),
    sa.Column('bio', sa.Text(), nullable=False),
    sa.Column('photo_key', sa.String(length=300), nullable=True),
    sa.Column('photo_sha256', sa.String(length=64), nullable=True),
    sa.Column('photo_content_type', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    # Existing rows keep working: every new webinar column is nullable.
    with op.batch_alter_table('webinars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('starts_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column('publish_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('series_id', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_webinars_series_id'), ['series_id'], unique=False)
        batch_op.create_foreign_key('fk_webinars_series_id_series', 'series', ['series_id'], ['id'],
                                    ondelete='SET NULL')

    op.create_table('webinar_tags',
    sa.Column('webinar_id', sa.String(length=16), nullable=False),
    sa.Column('tag_id', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webinar_id'], ['webinars.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('webinar_id', 'tag_id')
    )
    with op.batch_alter_table('webinar_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webinar_tags_tag_id'), ['tag_id'], unique=False)

    op.create_table('webinar_speakers',
    sa.Column('webinar_id', sa.String(length=16), nullable=False),
    sa.Column('speaker_id', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['speaker_id'], ['speakers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webinar_id'], ['webinars.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('webinar_id', 'speaker_id')
    )
    with op.batch_alter_table('webinar_speakers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webinar_speakers_speaker_id'), ['speaker_id'], unique=False)

    op.create_table('presentations',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('webinar_id', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('deck_asset_id', sa.String(length=16), nullable=True),
    sa.Column('start_seconds', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['deck_asset_id'], ['assets.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['webinar_id'], ['webinars.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('presentations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_presentations_deck_asset_id'), ['deck_asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_presentations_webinar_id'), ['webinar_id'], unique=False)

    op.create_table('presentation_speakers',
    sa.Column('presentation_id', sa.String(length=16), nullable=False),
    sa.Column('speaker_id', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['presentation_id'], ['presentations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['speaker_id'], ['speakers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('presentation_id', 'speaker_id')
    )
    with op.batch_alter_table('presentation_speakers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_presentation_speakers_speaker_id'), ['speaker_id'], unique=False)


def downgrade() -> None:
    op.drop_table('presentation_speakers')
    op.drop_table('presentations')
    op.drop_table('webinar_speakers')
    op.drop_table('webinar_tags')
    with op.batch_alter_table('webinars', schema=None) as batch_op:
        batch_op.drop_constraint('fk_webinars_series_id_series', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_webinars_series_id'))
        batch_op.drop_column('series_id')
        batch_op.drop_column('publish_at')
        batch_op.drop_column('language')
        batch_op.drop_column('timezone')
        batch_op.drop_column('starts_at')
    op.drop_table('speakers')
    op.drop_table('tags')
    op.drop_table('series')
