"""alert groups, firings, outbox, feedback, maintenance windows

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_feedback',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('alertname', sa.String(length=255), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'user_id')
    )
    with op.batch_alter_table('alert_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_feedback_alertname'), ['alertname'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_feedback_at'), ['at'], unique=False)

    op.create_table('alert_firings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notifications', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('paged', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_firings', schema=None) as batch_op:
        batch_op.create_index('ix_alert_firings_group', ['group_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_firings_started_at'), ['started_at'], unique=False)

    op.create_table('alert_groups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('group_key', sa.Text(), nullable=False),
    sa.Column('alertname', sa.String(length=255), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('common_labels', sa.JSON(), nullable=False),
    sa.Column('common_annotations', sa.JSON(), nullable=False),
    sa.Column('external_url', sa.String(length=512), nullable=False),
    sa.Column('message_ts', sa.String(length=32), nullable=True),
    sa.Column('shown', sa.String(length=64), nullable=False),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('silence_id', sa.String(length=64), nullable=True),
    sa.Column('silenced_by', sa.String(length=32), nullable=True),
    sa.Column('silenced_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('alert_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_groups_alertname'), ['alertname'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_groups_team'), ['team'], unique=False)

    op.create_table('alert_outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_alert_outbox_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_outbox_group_id'), ['group_id'], unique=False)

    op.create_table('maintenance_windows',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('namespace', sa.String(length=255), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('start_announced', sa.Boolean(), nullable=False),
    sa.Column('end_announced', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_windows_ends_at'), ['ends_at'], unique=False)

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_alerts_group_id'), ['group_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_group_id'))
        batch_op.drop_column('group_id')

    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_windows_ends_at'))

    op.drop_table('maintenance_windows')
    with op.batch_alter_table('alert_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_outbox_group_id'))
        batch_op.drop_index('ix_alert_outbox_due')

    op.drop_table('alert_outbox')
    with op.batch_alter_table('alert_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_groups_team'))
        batch_op.drop_index(batch_op.f('ix_alert_groups_alertname'))

    op.drop_table('alert_groups')
    with op.batch_alter_table('alert_firings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_firings_started_at'))
        batch_op.drop_index('ix_alert_firings_group')

    op.drop_table('alert_firings')
    with op.batch_alter_table('alert_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_feedback_at'))
        batch_op.drop_index(batch_op.f('ix_alert_feedback_alertname'))

    op.drop_table('alert_feedback')

