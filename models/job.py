"""Scheduled work: every run recorded, one run per job and slot, and a lock while it runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow

JOB_LABELS = {"nightly_rematch": "夜间全量匹配", "morning_digest": "早间推荐邮件", "incremental_match": "增量匹配",
              "outbox_flush": "邮件重发"}


class JobRun(SQLModel, table=True):
    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "slot", name="uq_job_slot"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=40, index=True)
    slot: str = Field(max_length=40)  # the scheduled time this run stands for; unique per job
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default="running", max_length=20)  # running | done | failed
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, max_length=1000)


class JobLock(SQLModel, table=True):
    """SQLite's stand-in for PostgreSQL's advisory lock: a lease row per job name."""

    __tablename__ = "job_lock"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=80)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class PendingMatch(SQLModel, table=True):
    """A demand or organization created, changed or closed since it was last matched."""

    __tablename__ = "pending_match"
    __table_args__ = (UniqueConstraint("kind", "record_id", name="uq_pending_record"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)  # demand | organization
    record_id: int
    queued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
