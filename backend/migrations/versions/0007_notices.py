"""announcements (公告) and the members' read state; appointments (网点预约)

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

    op.create_table('appointment_businesses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', backend.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_businesses')),
    sa.UniqueConstraint('code', name=op.f('uq_appointment_businesses_code'))
    )
    op.create_table('service_halls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=False),
    sa.Column('business_codes', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', backend.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_halls')),
    sa.UniqueConstraint('code', name=op.f('uq_service_halls_code'))
    )
    op.create_table('appointment_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hall_id', sa.Integer(), nullable=False),
    sa.Column('business_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.Time(), nullable=False),
    sa.Column('ends_at', sa.Time(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_appointment_slots_booked_within_capacity')),
    sa.ForeignKeyConstraint(['business_id'], ['appointment_businesses.id'], name=op.f('fk_appointment_slots_business_id_appointment_businesses')),
    sa.ForeignKeyConstraint(['hall_id'], ['service_halls.id'], name=op.f('fk_appointment_slots_hall_id_service_halls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_slots')),
    sa.UniqueConstraint('hall_id', 'business_id', 'day', 'starts_at', name=op.f('uq_appointment_slots_hall_id_business_id_day_starts_at'))
    )
    op.create_table('appointments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_no', sa.String(length=24), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', backend.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', backend.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', backend.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_appointments_member_id_members')),
    sa.ForeignKeyConstraint(['slot_id'], ['appointment_slots.id'], name=op.f('fk_appointments_slot_id_appointment_slots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments')),
    sa.UniqueConstraint('booking_no', name=op.f('uq_appointments_booking_no'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_member_list', ['member_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_appointments_remind', ['day', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointments_slot_id'), ['slot_id'], unique=False)
        batch_op.create_index('uq_appointments_member_day_booked', ['member_id', 'day'], unique=True, postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))


def downgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('uq_appointments_member_day_booked', postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))
        batch_op.drop_index(batch_op.f('ix_appointments_slot_id'))
        batch_op.drop_index('ix_appointments_remind')
        batch_op.drop_index('ix_appointments_member_list')
    op.drop_table('appointments')
    op.drop_table('appointment_slots')
    op.drop_table('service_halls')
    op.drop_table('appointment_businesses')
    with op.batch_alter_table('announcement_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announcement_reads_announcement_id'))
    op.drop_table('announcement_reads')
    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.drop_index('ix_announcements_list')
    op.drop_table('announcements')
