"""rent_arrangements (按月提取) and the ledger entries they pay

Revision ID: 0009_fund_services
Revises: 0008_loan_services
"""
from alembic import op
import sqlalchemy as sa

import backend.db


revision = '0009_fund_services'
down_revision = '0008_loan_services'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rent_arrangements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('arrangement_no', sa.String(length=32), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('monthly_amount', backend.db.Money(precision=14, scale=2), nullable=False),
    sa.Column('bank_name', sa.String(length=60), nullable=False),
    sa.Column('bank_account_masked', sa.String(length=40), nullable=False),
    sa.Column('bank_account_enc', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', backend.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', backend.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('stopped_by', sa.String(length=16), nullable=True),
    sa.Column('stop_reason', sa.String(length=200), nullable=True),
    sa.Column('updated_at', backend.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['fund_accounts.id'], name=op.f('fk_rent_arrangements_account_id_fund_accounts')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_rent_arrangements_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rent_arrangements')),
    sa.UniqueConstraint('arrangement_no', name=op.f('uq_rent_arrangements_arrangement_no'))
    )
    with op.batch_alter_table('rent_arrangements', schema=None) as batch_op:
        batch_op.create_index('ix_rent_arrangements_member_status', ['member_id', 'status'], unique=False)

    with op.batch_alter_table('fund_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rent_arrangement_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_fund_transactions_rent_arrangement_id'), ['rent_arrangement_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_fund_transactions_rent_arrangement_id_rent_arrangements'), 'rent_arrangements', ['rent_arrangement_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('fund_transactions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_fund_transactions_rent_arrangement_id_rent_arrangements'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_fund_transactions_rent_arrangement_id'))
        batch_op.drop_column('rent_arrangement_id')

    with op.batch_alter_table('rent_arrangements', schema=None) as batch_op:
        batch_op.drop_index('ix_rent_arrangements_member_status')

    op.drop_table('rent_arrangements')
