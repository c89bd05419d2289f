"""request fingerprints: messages.request_hash (exact idempotency of the internal API)

Revision ID: 0002_request_fingerprints
Revises: 0001_domain
Create Date: 2026-11-30 11:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_request_fingerprints'
down_revision = '0001_domain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('request_hash')
