"""notices for every domain, guard plans and items, Cost Explorer usage

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gpu_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_gpu_notices_cleared_at')
    op.rename_table('gpu_notices', 'notices')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_cleared_at', ['cleared_at'], unique=False)

    op.create_table('guard_plans',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('team', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('acts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acted_by', sa.String(length=32), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'key')
    )
    op.create_table('guard_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('by', sa.String(length=32), nullable=True),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('error', sa.String(length=128), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plan_id', 'item')
    )
    with op.batch_alter_table('guard_items', schema=None) as batch_op:
        batch_op.create_index('ix_guard_items_plan_id', ['plan_id'], unique=False)

    op.create_table('cost_explorer_usage',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )


def downgrade() -> None:
    op.drop_table('cost_explorer_usage')
    with op.batch_alter_table('guard_items', schema=None) as batch_op:
        batch_op.drop_index('ix_guard_items_plan_id')
    op.drop_table('guard_items')
    op.drop_table('guard_plans')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_cleared_at')
    op.rename_table('notices', 'gpu_notices')
    with op.batch_alter_table('gpu_notices', schema=None) as batch_op:
        batch_op.create_index('ix_gpu_notices_cleared_at', ['cleared_at'], unique=False)
