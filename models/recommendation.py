"""A scored pair from one run. A pair in both top-k lists is stored once, with both ranks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel


class Recommendation(SQLModel, table=True):
    __table_args__ = (
        Index("ix_rec_run_demand", "run_id", "demand_id", "demand_rank"),
        Index("ix_rec_run_org", "run_id", "organization_id", "organization_rank"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="match_run.id", ondelete="CASCADE")
    demand_id: int = Field(foreign_key="demand.id", ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", ondelete="CASCADE")
    demand_rank: int | None = None  # rank among this demand's organizations
    organization_rank: int | None = None  # rank among this organization's demands
    score: float
    signals: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
