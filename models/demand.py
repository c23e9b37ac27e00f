"""需求要点: a village (or township) demand, keyed by (county, 需求编号)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class DemandBase(SQLModel):
    ref: str = Field(max_length=64, index=True)
    ref_generated: bool = False
    city_code: str = Field(max_length=6, index=True)
    county_code: str = Field(max_length=6, index=True)
    township: str = Field(default="", max_length=100)
    village: str = Field(default="", max_length=100)
    category: str = Field(max_length=10)
    category_inferred: bool = False
    title: str = Field(max_length=200)
    description: str
    beneficiaries: int | None = None
    funding_needed: float | None = None
    due_date: date | None = None
    contact_name: str = Field(max_length=50)
    contact_phone: str = Field(max_length=30)


class Demand(DemandBase, table=True):
    __table_args__ = (UniqueConstraint("county_code", "ref", name="uq_demand_county_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="open", max_length=20)  # open | closed
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DemandPublic(SQLModel):
    """What the public board shows: no contact details."""

    ref: str
    city_code: str
    county_code: str
    township: str
    village: str
    category: str
    category_inferred: bool
    title: str
    description: str
    beneficiaries: int | None
    funding_needed: float | None
    due_date: date | None
    status: str
