"""fund_accounts.retired_on: retirement recorded by the core system

Revision ID: 0004_rules
Revises: 0002_request_fingerprints
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_rules'
down_revision = '0002_request_fingerprints'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fund_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('fund_accounts', schema=None) as batch_op:
        batch_op.drop_column('retired_on')
