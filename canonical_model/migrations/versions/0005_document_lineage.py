"""document lineage: raw evidence and the producing run of every version

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable and without defaults: versions stored before this revision keep working, with no lineage
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('inbox_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('event_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('producer', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('dag_id', sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column('dag_run_id', sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column('task_id', sa.String(length=250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('task_id')
        batch_op.drop_column('dag_run_id')
        batch_op.drop_column('dag_id')
        batch_op.drop_column('producer')
        batch_op.drop_column('event_id')
        batch_op.drop_column('inbox_id')
        batch_op.drop_column('raw_sha256')
