"""E-mail: the outbox (written before sending), what each organization was already told, preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow

FREQUENCIES = ("daily", "weekly", "off")
FREQUENCY_LABELS = {"daily": "每天", "weekly": "每周一", "off": "不接收"}


class OutboxMessage(SQLModel, table=True):
    """One e-mail. ``dedupe_key`` makes a second digest for the same recipient and day impossible."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=120, unique=True)
    kind: str = Field(max_length=20)  # org_digest | staff_digest
    to_addr: str = Field(max_length=200)
    subject: str = Field(max_length=200)
    html: str
    text: str
    message_id: str = Field(max_length=200)
    unsubscribe_url: str | None = Field(default=None, max_length=500)
    status: str = Field(default="pending", max_length=20, index=True)  # pending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MailedRecommendation(SQLModel, table=True):
    """A demand already announced to an organization: digests carry only what is new."""

    __tablename__ = "mailed_recommendation"
    __table_args__ = (UniqueConstraint("organization_id", "demand_id", name="uq_mailed_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    demand_id: int = Field(foreign_key="demand.id", ondelete="CASCADE")
    message_id: int = Field(foreign_key="outbox_message.id", ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MailPreference(SQLModel, table=True):
    """How often an organization (its registered e-mail) or a staff account gets its digest."""

    __tablename__ = "mail_preference"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id", unique=True,
                                        ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id", unique=True, ondelete="CASCADE")
    frequency: str = Field(default="daily", max_length=10)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
