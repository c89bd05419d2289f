"""announcements (公告) and the members' read state

Revision ID: 0007_notices
Revises: 0004_rules
"""
from alembic import op
import sqlalchemy as sa

import backend.db


revision = '0007_notices'
down_revision = '0004_rules'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('announcements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('announcement_no', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=60), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('published_at', backend.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', backend.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('withdraw_reason', sa.String(length=200), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('fanout_after', sa.Integer(), nullable=False),
    sa.Column('fanout_done_at', backend.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('pushed', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcements')),
    sa.UniqueConstraint('announcement_no', name=op.f('uq_announcements_announcement_no'))
    )
    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.create_index('ix_announcements_list', ['published_at', 'id'], unique=False)

    op.create_table('announcement_reads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('announcement_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('read_at', backend.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcements.id'], name=op.f('fk_announcement_reads_announcement_id_announcements')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_announcement_reads_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announcement_reads')),
    sa.UniqueConstraint('member_id', 'announcement_id', name=op.f('uq_announcement_reads_member_id_announcement_id'))
    )
    with op.batch_alter_table('announcement_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcement_reads_announcement_id'), ['announcement_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('announcement_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announcement_reads_announcement_id'))
    op.drop_table('announcement_reads')
    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.drop_index('ix_announcements_list')
    op.drop_table('announcements')
