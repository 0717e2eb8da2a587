"""gpu snoozes and notices

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gpu_snoozes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('pod', sa.String(length=320), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gpu_snoozes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gpu_snoozes_pod'), ['pod'], unique=False)

    op.create_table('gpu_notices',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=320), nullable=False),
    sa.Column('period', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('ts', sa.String(length=32), nullable=True),
    sa.Column('by', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'subject', 'period')
    )
    with op.batch_alter_table('gpu_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gpu_notices_cleared_at'), ['cleared_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gpu_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gpu_notices_cleared_at'))

    op.drop_table('gpu_notices')
    with op.batch_alter_table('gpu_snoozes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gpu_snoozes_pod'))

    op.drop_table('gpu_snoozes')
