"""durable work across kill -9: the event inbox, resumable announcements, sends checked against Slack

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox_events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_events_received_at'), ['received_at'], unique=False)
    with op.batch_alter_table('combo_fires', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_thread_ts', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('channel_name', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('announce_claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('announced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_incidents_announced_at'), ['announced_at'], unique=False)
    # Incidents opened before this revision were announced the old way: none is left to resume.
    op.execute("UPDATE incidents SET announced_at = created_at")
    with op.batch_alter_table('escalation_steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sending_since', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sending_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.drop_column('sending_since')
    with op.batch_alter_table('escalation_steps', schema=None) as batch_op:
        batch_op.drop_column('sending_since')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_announced_at'))
        batch_op.drop_column('announced_at')
        batch_op.drop_column('announce_claimed_at')
        batch_op.drop_column('channel_name')
        batch_op.drop_column('origin_thread_ts')
    with op.batch_alter_table('combo_fires', schema=None) as batch_op:
        batch_op.drop_column('event_id')
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_events_received_at'))
    op.drop_table('inbox_events')
