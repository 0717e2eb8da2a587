"""review nudges and follow-ups, personal review reminders

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_nudges',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('repo', sa.String(length=200), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('work_day', sa.String(length=10), nullable=False),
    sa.Column('slack_user', sa.String(length=32), nullable=False),
    sa.Column('author_slack', sa.String(length=32), nullable=True),
    sa.Column('requested_by', sa.String(length=32), nullable=False),
    sa.Column('tz', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('propose_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('ts', sa.String(length=32), nullable=True),
    sa.Column('answer', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('repo', 'number', 'reviewer', 'kind', 'work_day')
    )
    with op.batch_alter_table('review_nudges', schema=None) as batch_op:
        batch_op.create_index('ix_review_nudges_due', ['state', 'due_at'], unique=False)
    op.create_table('review_reminders',
    sa.Column('slack_user', sa.String(length=32), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('last_day', sa.String(length=10), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('slack_user')
    )


def downgrade() -> None:
    op.drop_table('review_reminders')
    with op.batch_alter_table('review_nudges', schema=None) as batch_op:
        batch_op.drop_index('ix_review_nudges_due')
    op.drop_table('review_nudges')
