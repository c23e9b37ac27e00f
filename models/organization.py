"""社会组织: one row per 统一社会信用代码, from the registration form (报名表)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow

ORG_TYPES = ("社会团体", "基金会", "社会服务机构")
LEVELS = ("province", "city", "county")
LEVEL_LABELS = {"province": "省级", "city": "市级", "county": "县级"}


class OrganizationBase(SQLModel):
    name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18, unique=True, index=True)
    org_type: str = Field(max_length=20)
    registrar: str = Field(max_length=100)
    registrar_level: str = Field(max_length=10)
    city_code: str = Field(max_length=6, index=True)
    county_code: str | None = Field(default=None, max_length=6, index=True)
    actions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scope: str = ""
    capability: str
    service_area: str = ""
    funds: float | None = None
    staff: int | None = None
    contact_name: str = Field(max_length=50)
    contact_phone: str = Field(max_length=30)
    email: str | None = Field(default=None, max_length=200)


class Organization(OrganizationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="active", max_length=20)  # active | withdrawn
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrganizationPublic(SQLModel):
    """What anyone may see: no contact details."""

    credit_code: str
    name: str
    org_type: str
    registrar_level: str
    city_code: str
    county_code: str | None
    actions: list[str]
    capability: str
    service_area: str
    status: str
