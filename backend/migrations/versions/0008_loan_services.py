"""certificates.kind and subject_no (one certificate service for deposit and loan settlement);
loan_prepayments (提前还款申请)

Revision ID: 0008_loan_services
Revises: 0007_notices
"""
from alembic import op
import sqlalchemy as sa

import backend.db


revision = '0008_loan_services'
down_revision = '0007_notices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(length=24), server_default='deposit', nullable=False)
        )
        batch_op.add_column(sa.Column('subject_no', sa.String(length=32), nullable=True))
    op.create_table(
        'loan_prepayments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('prepayment_no', sa.String(length=32), nullable=False),
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('option', sa.String(length=20), nullable=True),
        sa.Column('amount', backend.db.Money(precision=14, scale=2), nullable=True),
        sa.Column('prepay_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('quote', sa.JSON(), nullable=False),
        sa.Column('opinion', sa.String(length=200), nullable=False),
        sa.Column('decision_event_id', sa.String(length=64), nullable=True),
        sa.Column('decision_hash', sa.String(length=64), nullable=True),
        sa.Column('booked_principal', backend.db.Money(precision=14, scale=2), nullable=True),
        sa.Column('booked_interest', backend.db.Money(precision=14, scale=2), nullable=True),
        sa.Column('decided_at', backend.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('created_at', backend.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['contract_id'], ['loan_contracts.id']),
        sa.ForeignKeyConstraint(['member_id'], ['members.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('prepayment_no'),
    )
    op.create_index('ix_loan_prepayments_contract', 'loan_prepayments', ['contract_id', 'id'])
    op.create_index(
        op.f('ix_loan_prepayments_member_id'), 'loan_prepayments', ['member_id'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_loan_prepayments_member_id'), table_name='loan_prepayments')
    op.drop_index('ix_loan_prepayments_contract', table_name='loan_prepayments')
    op.drop_table('loan_prepayments')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('subject_no')
        batch_op.drop_column('kind')
