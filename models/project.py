"""帮扶项目: what an approved pairing turns into, its progress reports, the corrections staff
made to them, and the village's confirmation of delivery."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow

PROJECT_STATUSES = ("not_started", "in_progress", "done", "stopped")
PROJECT_STATUS_LABELS = {"not_started": "未启动", "in_progress": "实施中", "done": "已完成", "stopped": "已终止"}
LIVE_STATUSES = ("not_started", "in_progress")  # a project in these can fall overdue
OVERDUE_DAYS = 90


class Project(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    pairing_id: int = Field(foreign_key="pairing.id", unique=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    demand_id: int = Field(foreign_key="demand.id", index=True, ondelete="CASCADE")
    # Copied from the demand when the project opens: reports are scoped and grouped by them,
    # and a project stays where it was delivered even if the demand is edited later.
    city_code: str = Field(max_length=6, index=True)
    county_code: str = Field(max_length=6, index=True)
    village: str = Field(default="", max_length=100)
    action: str = Field(max_length=10)
    title: str = Field(max_length=200)
    planned_funds: float | None = None  # 万元, money and goods
    planned_beneficiaries: int | None = None
    start_date: date
    planned_end: date | None = None
    status: str = Field(default="not_started", max_length=20, index=True)
    funds_in: float = 0.0  # 万元, the sum of the reports
    beneficiaries: int = 0  # the latest reported figure (people reached so far)
    last_report_date: date | None = None
    reports_count: int = 0
    village_rating: int | None = None  # 1..5
    village_comment: str = Field(default="", max_length=500)
    village_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    village_confirmed_by: str = Field(default="", max_length=20)  # village (signed link) | staff
    is_case: bool = Field(default=False, index=True)  # 典型案例
    case_story: str = Field(default="", max_length=5000)
    case_marked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProgressReport(SQLModel, table=True):
    """One progress report by the organization. Money and goods are what was put in since the
    previous report, so a half-year's input is the sum of its reports."""

    __tablename__ = "progress_report"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    report_date: date = Field(index=True)
    status: str = Field(max_length=20)
    funds_in: float = 0.0  # 万元
    beneficiaries: int = 0  # people reached so far
    note: str = Field(default="", max_length=2000)
    reported_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    corrected: bool = False


class ProjectChange(SQLModel, table=True):
    """A field changed by someone other than the reporting organization (a staff correction,
    the village's confirmation): old and new value, who and why. Never rewritten."""

    __tablename__ = "project_change"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    report_id: int | None = Field(default=None, foreign_key="progress_report.id", ondelete="CASCADE")
    field: str = Field(max_length=40)
    old: str = Field(default="", max_length=2000)
    new: str = Field(default="", max_length=2000)
    reason: str = Field(default="", max_length=500)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    who: str = Field(default="", max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
