"""对接: an organization paired with a demand, from a suggestion or an expressed interest,
and the staff decisions on it (kept as labels the engine learns from)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow

STATUSES = ("suggested", "requested", "approved", "rejected", "dismissed")
CLOSED_STATUSES = ("approved", "rejected", "dismissed")  # decided: never suggested again as they stand
STATUS_LABELS = {"suggested": "待审核（系统推荐）", "requested": "待审核（组织申请）", "approved": "已通过",
                 "rejected": "已驳回", "dismissed": "组织不感兴趣"}
REJECT_REASONS = {
    "capability": "能力与需求不符",
    "reach": "不在服务范围或距离过远",
    "scale": "规模不匹配",
    "covered": "需求已有其他组织帮扶",
    "declined": "组织无意愿或无法联系",
    "closed": "需求已解决或已撤销",
    "other": "其他",
}
APPROVE_REASONS = {"fit": "供需匹配", "interest": "组织主动申请且匹配", "other": "其他"}


class Pairing(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("demand_id", "organization_id", name="uq_pairing_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    demand_id: int = Field(foreign_key="demand.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    status: str = Field(max_length=20, index=True)
    source: str = Field(max_length=20)  # engine | interest
    score: float | None = None
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason_code: str | None = Field(default=None, max_length=20)
    note: str = Field(default="", max_length=1000)
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PairingDecision(SQLModel, table=True):
    """Every decision ever taken on a pair, never rewritten: the labels."""

    __tablename__ = "pairing_decision"

    id: int | None = Field(default=None, primary_key=True)
    pairing_id: int = Field(foreign_key="pairing.id", index=True, ondelete="CASCADE")
    decision: str = Field(max_length=20)  # approved | rejected | requested | dismissed
    reason_code: str | None = Field(default=None, max_length=20)
    note: str = Field(default="", max_length=1000)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
