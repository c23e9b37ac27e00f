"""What the API sends out and takes in (beyond the tables' own schemas)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.services.auth import Scope
from api.services.catalog import mask_email, mask_phone
from matcher.regions import RegionIndex
from models import Demand, Organization


class ErrorDetail(BaseModel):
    row: int | None = None
    column: str | None = None
    value: str | None = None
    reason: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorOut(BaseModel):
    error: ErrorBody


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class DemandOut(BaseModel):
    ref: str
    city_code: str
    city: str
    county_code: str
    county: str
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
    contact_name: str | None = None
    contact_phone: str | None = None

    @classmethod
    def of(cls, d: Demand, scope: Scope, regions: RegionIndex, *, contact_entitled: bool | None = None) -> DemandOut:
        entitled = scope.covers(d.city_code, d.county_code) if contact_entitled is None else contact_entitled
        out = cls(ref=d.ref, city_code=d.city_code, city=regions.city_name(d.city_code), county_code=d.county_code,
                  county=regions.county_name(d.county_code), township=d.township, village=d.village,
                  category=d.category, category_inferred=d.category_inferred, title=d.title,
                  description=d.description, beneficiaries=d.beneficiaries, funding_needed=d.funding_needed,
                  due_date=d.due_date, status=d.status)
        if scope.role != "public":  # the public sees no personal data at all
            out.contact_name = d.contact_name if entitled else None
            out.contact_phone = d.contact_phone if entitled else mask_phone(d.contact_phone)
        return out


class DemandIn(BaseModel):
    """A demand by the data contract's keys; the same rules as the upload."""

    ref: str | None = None
    city: str | None = None
    county: str | None = None
    township: str | None = None
    village: str | None = None
    category: str | None = None
    title: str | None = None
    description: str | None = None
    beneficiaries: int | None = Field(default=None, ge=0, le=1_000_000_000)
    funding_needed: float | None = Field(default=None, ge=0, le=1_000_000_000)
    due_date: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None


class OrganizationOut(BaseModel):
    credit_code: str
    name: str
    org_type: str
    registrar: str
    registrar_level: str
    city_code: str
    city: str
    county_code: str | None
    county: str
    actions: list[str]
    scope: str
    capability: str
    service_area: str
    funds: float | None
    staff: int | None
    status: str
    contact_name: str | None = None
    contact_phone: str | None = None
    email: str | None = None

    @classmethod
    def of(cls, o: Organization, scope: Scope, regions: RegionIndex) -> OrganizationOut:
        out = cls(credit_code=o.credit_code, name=o.name, org_type=o.org_type, registrar=o.registrar,
                  registrar_level=o.registrar_level, city_code=o.city_code, city=regions.city_name(o.city_code),
                  county_code=o.county_code, county=regions.county_name(o.county_code), actions=list(o.actions),
                  scope=o.scope, capability=o.capability, service_area=o.service_area, funds=o.funds,
                  staff=o.staff, status=o.status)
        if scope.role != "public":
            entitled = scope.may_see_organization(o)
            out.contact_name = o.contact_name if entitled else None
            out.contact_phone = o.contact_phone if entitled else mask_phone(o.contact_phone)
            out.email = o.email if entitled else mask_email(o.email)
        return out


class OrganizationIn(BaseModel):
    name: str | None = None
    credit_code: str | None = None
    org_type: str | None = None
    registrar: str | None = None
    city: str | None = None
    county: str | None = None
    actions: list[str] | str | None = None
    scope: str | None = None
    capability: str | None = None
    service_area: str | None = None
    funds: float | None = Field(default=None, ge=0, le=1_000_000_000)
    staff: int | None = Field(default=None, ge=0, le=1_000_000_000)
    contact_name: str | None = None
    contact_phone: str | None = None
    email: str | None = None


class PageOut(BaseModel):
    total: int
    page: int
    size: int


class DemandPage(PageOut):
    items: list[DemandOut]


class OrganizationPage(PageOut):
    items: list[OrganizationOut]


class RecommendationOut(BaseModel):
    rank: int | None
    score: float
    signals: dict[str, Any]
    reasons: list[str]
    demand: DemandOut | None = None
    organization: OrganizationOut | None = None
    pairing_status: str | None = None


class RecommendationList(BaseModel):
    run_id: int | None
    items: list[RecommendationOut]


class InterestIn(BaseModel):
    demand_ref: str
    county_code: str | None = None
    note: str = Field(default="", max_length=500)


class DecisionIn(BaseModel):
    demand_ref: str
    county_code: str | None = None
    credit_code: str
    decision: Literal["approve", "reject"]
    reason_code: str | None = None
    note: str = Field(default="", max_length=1000)


class BulkApproveIn(BaseModel):
    items: list[DecisionIn] = Field(max_length=500)


class PairingOut(BaseModel):
    id: int | None
    demand_ref: str
    county_code: str
    credit_code: str
    organization_name: str
    demand_title: str
    status: str
    source: str
    score: float | None
    reasons: list[str]
    reason_code: str | None
    note: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    history: list[str] = []
    waiting_since: datetime | None = None


class RunOut(BaseModel):
    id: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    config_hash: str
    n_organizations: int
    n_demands: int
    n_recommendations: int
    coverage: float
    demands_without_candidates: int
    duration_s: float
    timings: dict[str, float]
    error: str | None


class ImportReportOut(BaseModel):
    kind: str
    rows_total: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    warnings: list[str]
    errors: list[ErrorDetail]
    accounts: list[dict[str, str]] = []
