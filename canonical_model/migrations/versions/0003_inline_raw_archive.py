"""small raw payloads kept inline in raw_archive

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('raw_archive', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content', sa.LargeBinary(), nullable=True))
        batch_op.alter_column('path', existing_type=sa.String(length=1024), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('raw_archive', schema=None) as batch_op:
        batch_op.alter_column('path', existing_type=sa.String(length=1024), nullable=False)
        batch_op.drop_column('content')
