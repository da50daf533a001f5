"""interchanges and inbox remote path

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('interchanges',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('partner', sa.String(length=128), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('standard', sa.String(length=16), nullable=False),
    sa.Column('control_ref', sa.String(length=64), nullable=False),
    sa.Column('message_refs', sa.JSON(), nullable=True),
    sa.Column('message_types', sa.JSON(), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('inbox_id', sa.Integer(), nullable=True),
    sa.Column('ack_status', sa.String(length=32), nullable=False),
    sa.Column('ack_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ack_detail', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('partner', 'direction', 'control_ref', name='uq_interchange_ref')
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remote_path', sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column('remote_mtime', sa.Float(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_column('remote_mtime')
        batch_op.drop_column('remote_path')

    op.drop_table('interchanges')
