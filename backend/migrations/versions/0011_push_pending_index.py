"""push_deliveries: an index of the pending deliveries alone, in the order they fall due

The pools claim the oldest due deliveries a chunk at a time. Through the (status,
next_attempt_at) index PostgreSQL read and sorted every pending row for each chunk (80,000
pending: 100-145 ms a claim); this one hands the first 50 over in order and stops.

Revision ID: 0011_push_pending_index
Revises: 0010_push_send_started
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_push_pending_index'
down_revision = '0010_push_send_started'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_push_deliveries_pending',
        'push_deliveries',
        ['next_attempt_at', 'id'],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        'ix_push_deliveries_pending',
        table_name='push_deliveries',
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
