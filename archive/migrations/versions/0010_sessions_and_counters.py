"""staff session tokens; shared rate counters

`users.session_token` is part of every session's id: replacing it (sign-out, new password,
new role, deactivation) ends the user's sessions. Existing users get a random token each,
so sessions made before this migration end (their id has no token). `rate_counts` holds
the counters every process shares: sign-in limits, the play beacon's limit, one counted
play per viewer and day (keys are HMAC digests, rows go when their window ends).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('session_token', sa.String()))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(users.update().where(users.c.id == user_id)
                           .values(session_token=secrets.token_urlsafe(32)))
    with op.batch_alter_table('users') as batch:
        batch.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)

    op.create_table('rate_counts',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index('ix_rate_counts_expires_at', 'rate_counts', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_rate_counts_expires_at', table_name='rate_counts')
    op.drop_table('rate_counts')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_token')
