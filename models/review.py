"""需复核: records staff should look at before they are matched or published, and what merging leaves.

A flag names the record it is about (``demand_id`` or ``organization_id``) and, for a duplicate,
the one it resembles (``other_*``). The references are kept as text too, so a flag still reads
after a merge has removed one of the two records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow

FLAG_KINDS = {
    "duplicate_demand": "疑似重复需求",
    "duplicate_organization": "疑似重复组织",
    "doubtful_demand": "疑似非公共需求",
    "household_name": "含困难群众姓名",
}
# What staff may do with each kind of flag.
FLAG_ACTIONS = {
    "duplicate_demand": {"keep": "两条都保留", "merge": "合并为一条", "close": "关闭本条"},
    "duplicate_organization": {"keep": "确认不是同一组织", "merge": "合并为一个组织"},
    "doubtful_demand": {"confirm": "核实无误，发布", "close": "关闭需求"},
    "household_name": {"checked": "已核实"},
}


ENTRY_CHANNELS = {"upload": "上传", "web": "网页上传", "api": "接口", "cli": "命令行"}


class ReviewFlag(SQLModel, table=True):
    __tablename__ = "review_flag"
    __table_args__ = (UniqueConstraint("key", name="uq_review_flag_key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120)  # kind and records: a scan that finds the same thing again adds nothing
    kind: str = Field(max_length=30, index=True)
    demand_id: int | None = Field(default=None, foreign_key="demand.id", index=True, ondelete="SET NULL")
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True,
                                        ondelete="SET NULL")
    other_demand_id: int | None = Field(default=None, foreign_key="demand.id", ondelete="SET NULL")
    other_organization_id: int | None = Field(default=None, foreign_key="organization.id", ondelete="SET NULL")
    subject: str = Field(default="", max_length=300)  # 需求编号 or 信用代码 and the title or name, as flagged
    other: str = Field(default="", max_length=300)
    city_code: str | None = Field(default=None, max_length=6, index=True)  # whose staff review it
    county_code: str | None = Field(default=None, max_length=6, index=True)
    reason: str = Field(max_length=500)
    score: float | None = None
    status: str = Field(default="open", max_length=10, index=True)  # open | decided
    decision: str | None = Field(default=None, max_length=10)
    note: str = Field(default="", max_length=500)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DemandAlias(SQLModel, table=True):
    """A 需求编号 merged into another demand: a re-upload of it finds the merged record."""

    __tablename__ = "demand_alias"
    __table_args__ = (UniqueConstraint("county_code", "ref", name="uq_demand_alias"),)

    id: int | None = Field(default=None, primary_key=True)
    demand_id: int = Field(foreign_key="demand.id", index=True, ondelete="CASCADE")
    county_code: str = Field(max_length=6)
    ref: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrganizationAlias(SQLModel, table=True):
    """A 统一社会信用代码 merged into another organization."""

    __tablename__ = "organization_alias"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    credit_code: str = Field(max_length=18, unique=True)
    name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DemandEntry(SQLModel, table=True):
    """Who wrote a demand into the platform on the village's behalf, and how."""

    __tablename__ = "demand_entry"

    id: int | None = Field(default=None, primary_key=True)
    demand_id: int = Field(foreign_key="demand.id", index=True, ondelete="CASCADE")
    username: str = Field(max_length=64)  # the account, or 命令行 for the CLI
    channel: str = Field(max_length=10)  # a key of ENTRY_CHANNELS
    source: str = Field(default="", max_length=200)  # the uploaded file's name
    created: bool = True  # False: an update of a record entered before
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
