"""What the API sends out and takes in (beyond the tables' own schemas)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Row

from api.services.auth import Scope
from api.services.privacy import mask_email, mask_phone, shown
from matcher.regions import RegionIndex
from models import Demand, Organization, ProgressReport, Project


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
    warnings: list[str] = Field(default=[], description="录入时发现的个人信息等提示（仅创建、修改时）")

    @classmethod
    def of(cls, d: Demand | Row[Any], scope: Scope, regions: RegionIndex, *,
           contact_entitled: bool | None = None) -> DemandOut:
        """From a demand, or a row with its columns (a recommendation listing's).

        Free text as written only for staff of its region; an organization whose pairing was
        approved gets the contact columns (``contact_entitled``), not the text."""
        own_region = scope.covers(d.city_code, d.county_code)
        entitled = own_region if contact_entitled is None else contact_entitled
        out = cls(ref=d.ref, city_code=d.city_code, city=regions.city_name(d.city_code), county_code=d.county_code,
                  county=regions.county_name(d.county_code), township=d.township, village=d.village,
                  category=d.category, category_inferred=d.category_inferred, title=shown(d.title, own_region),
                  description=shown(d.description, own_region), beneficiaries=d.beneficiaries,
                  funding_needed=d.funding_needed, due_date=d.due_date, status=d.status)
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
    warnings: list[str] = Field(default=[], description="录入时发现的个人信息等提示（仅创建、修改时）")

    @classmethod
    def of(cls, o: Organization | Row[Any], scope: Scope, regions: RegionIndex) -> OrganizationOut:
        """From an organization, or a row with its columns (a recommendation listing's)."""
        entitled = scope.may_see_organization(o)  # staff of its region, or the organization itself
        out = cls(credit_code=o.credit_code, name=o.name, org_type=o.org_type, registrar=o.registrar,
                  registrar_level=o.registrar_level, city_code=o.city_code, city=regions.city_name(o.city_code),
                  county_code=o.county_code, county=regions.county_name(o.county_code), actions=list(o.actions),
                  scope=shown(o.scope, entitled), capability=shown(o.capability, entitled),
                  service_area=shown(o.service_area, entitled), funds=o.funds, staff=o.staff, status=o.status)
        if scope.role != "public":
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


# -- projects ---------------------------------------------------------------------------------

class ProjectOut(BaseModel):
    id: int
    organization: str
    credit_code: str
    demand_ref: str | None
    city_code: str
    city: str
    county_code: str
    county: str
    village: str
    action: str
    title: str
    planned_funds: float | None
    planned_beneficiaries: int | None
    start_date: date
    planned_end: date | None
    status: str
    status_label: str
    funds_in: float
    beneficiaries: int
    last_report_date: date | None
    reports_count: int
    overdue: bool
    days_since_report: int
    village_rating: int | None
    village_comment: str
    village_confirmed_at: datetime | None
    is_case: bool
    case_story: str

    @classmethod
    def fields_of(cls, p: Project, org: Organization, regions: RegionIndex, today: date,
                  demand_ref: str | None, *, entitled: bool) -> dict[str, Any]:
        """``entitled``: staff of the project's region see its free text as written."""
        from api.services.projects import days_since_report, is_overdue
        from models.project import PROJECT_STATUS_LABELS

        return {"id": p.id, "organization": org.name, "credit_code": org.credit_code, "demand_ref": demand_ref,
                "city_code": p.city_code, "city": regions.city_name(p.city_code) or "", "county_code": p.county_code,
                "county": regions.county_name(p.county_code) or "", "village": p.village, "action": p.action,
                "title": shown(p.title, entitled), "planned_funds": p.planned_funds,
                "planned_beneficiaries": p.planned_beneficiaries,
                "start_date": p.start_date, "planned_end": p.planned_end, "status": p.status,
                "status_label": PROJECT_STATUS_LABELS[p.status], "funds_in": p.funds_in,
                "beneficiaries": p.beneficiaries, "last_report_date": p.last_report_date,
                "reports_count": p.reports_count, "overdue": is_overdue(p, today),
                "days_since_report": days_since_report(p, today), "village_rating": p.village_rating,
                "village_comment": shown(p.village_comment, entitled), "village_confirmed_at": p.village_confirmed_at,
                "is_case": p.is_case, "case_story": shown(p.case_story, entitled)}


class ProgressOut(BaseModel):
    id: int
    report_date: date
    status: str
    status_label: str
    funds_in: float
    beneficiaries: int
    note: str
    corrected: bool

    @classmethod
    def of(cls, r: ProgressReport, *, entitled: bool) -> ProgressOut:
        from models.project import PROJECT_STATUS_LABELS

        return cls(id=r.id, report_date=r.report_date, status=r.status,  # type: ignore[arg-type]
                   status_label=PROJECT_STATUS_LABELS[r.status], funds_in=r.funds_in,
                   beneficiaries=r.beneficiaries, note=shown(r.note, entitled), corrected=r.corrected)


class ChangeOut(BaseModel):
    field: str
    old: str
    new: str
    reason: str
    who: str
    at: datetime


class ProjectDetailOut(ProjectOut):
    reports: list[ProgressOut]
    changes: list[ChangeOut]
    village_link: str | None = None  # for staff of the region, to pass to the village contact


class ProgressIn(BaseModel):
    report_date: date
    status: str = Field(description="未启动、实施中、已完成、已终止（或 not_started / in_progress / done / stopped）",
                        max_length=20)
    funds_in: float = Field(0, ge=0, le=100_000, description="本次投入资金物资（万元）")
    beneficiaries: int = Field(0, ge=0, le=10_000_000, description="受益人数（累计）")
    note: str = Field("", max_length=2000)


class CorrectionIn(BaseModel):
    report_date: date | None = None
    status: str | None = Field(None, max_length=20)
    funds_in: float | None = Field(None, ge=0, le=100_000)
    beneficiaries: int | None = Field(None, ge=0, le=10_000_000)
    note: str | None = Field(None, max_length=2000)
    reason: str = Field(min_length=1, max_length=500, description="更正原因（必填）")


class PlanIn(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=200)
    planned_funds: float | None = Field(None, ge=0, le=100_000)
    planned_beneficiaries: int | None = Field(None, ge=0, le=10_000_000)
    start_date: date | None = None
    planned_end: date | None = None
    reason: str = Field("", max_length=500, description="工作人员更正时必填")


class ConfirmIn(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=500)


class CaseIn(BaseModel):
    story: str = Field(min_length=20, max_length=5000)


class CaseOut(BaseModel):
    id: int
    title: str
    organization: str
    place: str
    action: str
    funds_in: float
    beneficiaries: int
    village_rating: int | None
    story: str


# -- 需复核 ------------------------------------------------------------------------------------

class EntryOut(BaseModel):
    username: str
    channel: str
    source: str
    at: datetime


class FlagOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    subject: str
    other: str
    reason: str
    score: float | None
    status: str
    decision: str | None
    actions: dict[str, str]
    note: str
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    entered_by: EntryOut | None = None  # who entered the flagged demand, where known

    @classmethod
    def of(cls, f: Any, entry: Any | None) -> FlagOut:
        from models.review import FLAG_ACTIONS, FLAG_KINDS

        return cls(id=f.id, kind=f.kind, kind_label=FLAG_KINDS[f.kind], subject=f.subject, other=f.other,
                   reason=f.reason, score=f.score, status=f.status, decision=f.decision,
                   actions=FLAG_ACTIONS[f.kind] if f.status == "open" else {}, note=f.note,
                   decided_by=f.decided_by, decided_at=f.decided_at, created_at=f.created_at,
                   entered_by=EntryOut(username=entry.username, channel=entry.channel, source=entry.source,
                                       at=entry.at) if entry else None)


class FlagList(BaseModel):
    counts: dict[str, int]
    items: list[FlagOut]


class ReviewDecisionIn(BaseModel):
    action: Literal["keep", "merge", "close", "confirm", "checked"]
    note: str = Field(default="", max_length=500)


class ExplanationOut(BaseModel):
    demand_ref: str
    credit_code: str
    recommended: bool
    stored_rank: int | None
    run_id: int | None
    why_not: list[str]
    score: float | None
    signals: dict[str, float]
    reasons: list[str]
    demand_rank: int | None  # among every candidate organization of the demand
    demand_candidates: int | None
    organization_rank: int | None  # among every candidate demand of the organization
    organization_candidates: int | None
    lines: list[str]

    @classmethod
    def of(cls, e: Any) -> ExplanationOut:
        diag = e.diagnosis
        rec = diag.recommendation if diag else None
        return cls(demand_ref=e.demand.ref, credit_code=e.organization.credit_code, recommended=e.recommended,
                   stored_rank=e.stored_rank, run_id=e.run_id, why_not=e.why_not,
                   score=rec.score if rec else None, signals=dict(rec.signals) if rec else {},
                   reasons=list(rec.reasons) if rec else [], demand_rank=diag.demand_rank if diag else None,
                   demand_candidates=diag.demand_candidates if diag else None,
                   organization_rank=diag.organization_rank if diag else None,
                   organization_candidates=diag.organization_candidates if diag else None, lines=e.lines())
