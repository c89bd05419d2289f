"""Every model, imported in one place so Alembic and ``create_all`` see the whole schema."""

from backend.accounts.models import FundAccount, FundTransaction
from backend.announcements.models import Announcement, AnnouncementRead
from backend.applications.models import Application, ApplicationNode
from backend.appointments.models import (
    Appointment,
    AppointmentBusiness,
    AppointmentSlot,
    ServiceHall,
)
from backend.audit.models import AuditEvent
from backend.certificates.models import Certificate
from backend.channels.models import ChannelIdentity, SubscriptionConsent
from backend.db import Base
from backend.idempotency.models import IdempotencyRecord
from backend.inbox.models import Message
from backend.loans.models import LoanContract, LoanRate, LoanRepayment
from backend.members.models import Credential, Employer, Member, MemberPreference
from backend.push.models import PushDelivery
from backend.withdrawals.models import RentArrangement

__all__ = [
    "Announcement",
    "AnnouncementRead",
    "Application",
    "ApplicationNode",
    "Appointment",
    "AppointmentBusiness",
    "AppointmentSlot",
    "AuditEvent",
    "Base",
    "Certificate",
    "ChannelIdentity",
    "Credential",
    "Employer",
    "FundAccount",
    "FundTransaction",
    "IdempotencyRecord",
    "LoanContract",
    "LoanRate",
    "LoanRepayment",
    "Member",
    "MemberPreference",
    "Message",
    "PushDelivery",
    "RentArrangement",
    "ServiceHall",
    "SubscriptionConsent",
]
