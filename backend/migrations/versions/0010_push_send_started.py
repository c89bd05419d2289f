"""push_deliveries: when the request left for the platform, and the consent the claim spent

A claim that never reached the platform is given back by the sweeper (requeued, its consent
refunded) instead of being written off; only a send that started stays in doubt.

Revision ID: 0010_push_send_started
Revises: 0009_fund_services
"""
from alembic import op
import sqlalchemy as sa

import backend.db


revision = '0010_push_send_started'
down_revision = '0009_fund_services'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_started_at', backend.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('consent_template_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.drop_column('consent_template_id')
        batch_op.drop_column('send_started_at')
