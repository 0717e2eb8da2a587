"""page retries, manual escalations, structured timeline entries

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('escalation_steps') as batch:
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('escalated_by', sa.String(length=32), nullable=True))
    with op.batch_alter_table('incident_events') as batch:
        batch.add_column(sa.Column('params', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incident_events') as batch:
        batch.drop_column('params')
    with op.batch_alter_table('escalation_steps') as batch:
        batch.drop_column('escalated_by')
        batch.drop_column('attempts')
