"""The JSON API under /api/v1. Routes only translate HTTP; the services do the work."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.deps import CurrentUser, MatcherDep, ScopeDep, SessionDep, TokenDep, signed_in_read
from api.errors import Forbidden, InvalidInput, NotFound
from api.schemas import (
    BulkApproveIn,
    DecisionIn,
    DemandIn,
    DemandOut,
    DemandPage,
    ErrorDetail,
    ErrorOut,
    ImportReportOut,
    InterestIn,
    OrganizationIn,
    OrganizationOut,
    OrganizationPage,
    PairingOut,
    RecommendationList,
    RecommendationOut,
    RunOut,
    TokenOut,
)
from api.services import audit, auth, catalog, pairings, review
from api.services.contract import DEMAND_FORM, ORG_FORM, FormSpec
from api.services.importer import ImportRejected, ImportReport, free_text_warnings
from api.services.listings import listing_for_demand, listing_for_organization
from api.services.privacy import shown
from api.services.runs import own_process_config, run_in_own_process, run_recorded, start_run
from models import Demand, MatchRun, Organization, Pairing, User

ERRORS = {400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
          409: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}}
router = APIRouter(prefix="/api/v1", responses=ERRORS)  # type: ignore[arg-type]
Paging = Annotated[int, Query(ge=1, le=10_000)]
RunId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]  # inside every database's INTEGER
Size = Annotated[int, Query(ge=1, le=200)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _region_codes(request: Request, city: str | None, county: str | None) -> tuple[str | None, str | None]:
    regions = request.app.state.regions
    city_code = county_code = None
    if city:
        found = regions.resolve_city(city) or (regions.cities.get(city) and regions.cities[city])
        if not found:
            raise InvalidInput(f"无法识别的市（州）：{city}")
        city_code = found.code
    if county:
        found = regions.resolve_county(county, city_code) or regions.counties.get(county)
        if not found:
            raise InvalidInput(f"无法识别的县（市、区）：{county}")
        county_code = found.code
    return city_code, county_code


# -- auth ------------------------------------------------------------------------------

@router.post("/auth/token", response_model=TokenOut, tags=["auth"], summary="登录，换取访问令牌")
def login_for_token(request: Request, session: SessionDep,
                    form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    try:
        user = auth.authenticate(session, form.username, form.password, clock=request.app.state.clock,
                                 policy=auth.AccountPolicy.of(request.app.state.settings))
    except auth.LoginFailed as err:
        audit.record(session, "login_failure", username=form.username, ip=client_ip(request), target="api",
                     detail={"reason": err.message}, clock=request.app.state.clock)
        session.commit()  # the failure count and the audit record must survive the error response
        raise
    audit.record(session, "login_success", actor=user, ip=client_ip(request), target="api",
                 clock=request.app.state.clock)
    return TokenOut(access_token=auth.issue_token(user, request.app.state.secret))


@router.get("/me", tags=["auth"], summary="当前账号")
def me(request: Request, session: SessionDep, user: CurrentUser) -> dict[str, object]:
    return auth.user_public(user, session, request.app.state.regions).model_dump()


class PasswordIn(BaseModel):
    old_password: str = Field(max_length=128)
    new_password: str = Field(max_length=128)


@router.post("/me/password", tags=["auth"], summary="修改本人密码", status_code=200)
def change_my_password(request: Request, session: SessionDep, user: CurrentUser, body: PasswordIn) -> dict[str, str]:
    auth.change_password(session, user, body.old_password, body.new_password,
                         policy=auth.AccountPolicy.of(request.app.state.settings))
    audit.record(session, "password_change", actor=user, ip=client_ip(request), target=user.username,
                 clock=request.app.state.clock)
    return {"status": "ok"}


@router.post("/users/{username}/{action}", tags=["auth"], summary="停用或启用账号（省级管理员）")
def set_user_active(request: Request, session: SessionDep, user: CurrentUser,
                    username: Annotated[str, PathParam(max_length=64)],
                    action: Literal["disable", "enable"]) -> dict[str, object]:
    target = auth.get_user(session, username)
    auth.set_active(session, auth.Scope.of(user), target, action == "enable")
    audit.record(session, f"account_{action}", actor=user, ip=client_ip(request), target=username,
                 clock=request.app.state.clock)
    return auth.user_public(target, session, request.app.state.regions).model_dump()


# -- organizations ---------------------------------------------------------------------

_Out = TypeVar("_Out", DemandOut, OrganizationOut)


def _written(out: _Out, written: catalog.Written, form: FormSpec) -> _Out:
    """What was just written, with a warning for each free-text column holding personal data and
    for each thing it raised for review."""
    out.warnings = [*free_text_warnings(form, written.record.model_dump(), form.header_of),
                    *review.warnings_of(written.flags)]
    return out


@router.get("/organizations", response_model=OrganizationPage, tags=["organizations"], summary="社会组织列表")
def list_organizations(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser,
                       city: str | None = None,
                       county: str | None = None, action: str | None = None,
                       status: Literal["active", "withdrawn"] | None = None, q: str | None = None,
                       page: Paging = 1, size: Size = 20) -> OrganizationPage:
    city_code, county_code = _region_codes(request, city, county)
    result = catalog.list_organizations(session, scope, city_code=city_code, county_code=county_code, action=action,
                                        status=status, keyword=q, page=page, size=size)
    regions = request.app.state.regions
    return OrganizationPage(total=result.total, page=page, size=size,
                            items=[OrganizationOut.of(o, scope, regions) for o in result.items])


@router.post("/organizations", response_model=OrganizationOut, status_code=201, tags=["organizations"],
             summary="登记社会组织")
def create_organization(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser,
                        body: OrganizationIn, matcher: MatcherDep) -> OrganizationOut:
    written = catalog.create_organization(session, scope, body.model_dump(exclude_none=True), matcher,
                                          clock=request.app.state.clock)
    org = written.record
    audit.record(session, "org_create", actor=user, ip=client_ip(request), target=org.credit_code,
                 clock=request.app.state.clock)
    return _written(OrganizationOut.of(org, scope, request.app.state.regions), written, ORG_FORM)


@router.get("/organizations/{credit_code}", response_model=OrganizationOut, tags=["organizations"])
def get_organization(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser,
                     credit_code: str) -> OrganizationOut:
    return OrganizationOut.of(catalog.get_organization(session, scope, credit_code), scope, request.app.state.regions)


@router.patch("/organizations/{credit_code}", response_model=OrganizationOut, tags=["organizations"])
def update_organization(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser,
                        credit_code: str, body: OrganizationIn, matcher: MatcherDep) -> OrganizationOut:
    org = catalog.get_organization(session, scope, credit_code)
    changes = body.model_dump(exclude_unset=True)
    written = catalog.update_organization(session, scope, org, changes, matcher, clock=request.app.state.clock)
    org = written.record
    audit.record(session, "org_update", actor=user, ip=client_ip(request), target=org.credit_code,
                 detail={"fields": sorted(changes)}, clock=request.app.state.clock)
    return _written(OrganizationOut.of(org, scope, request.app.state.regions), written, ORG_FORM)


@router.post("/organizations/{credit_code}/withdraw", response_model=OrganizationOut, tags=["organizations"],
             summary="社会组织退出（不再推荐）")
def withdraw_organization(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser,
                          credit_code: str) -> OrganizationOut:
    org = catalog.get_organization(session, scope, credit_code)
    audit.record(session, "org_withdraw", actor=user, ip=client_ip(request), target=org.credit_code,
                 clock=request.app.state.clock)
    return OrganizationOut.of(catalog.set_organization_status(session, scope, org, "withdrawn"), scope,
                              request.app.state.regions)


@router.get("/organizations/{credit_code}/recommendations", response_model=RecommendationList,
            tags=["recommendations"], summary="为社会组织推荐的需求（含理由）")
async def organization_recommendations(request: Request, token: TokenDep, credit_code: str,
                                       top: Annotated[int, Query(ge=1, le=100)] = 10) -> RecommendationList:
    def work(session: Session, user: User, scope: auth.Scope) -> RecommendationList:
        org = catalog.get_organization(session, scope, credit_code)
        assert org.id is not None
        listing = listing_for_organization(session, org.id, top=top)
        regions = request.app.state.regions
        items = [RecommendationOut(
            rank=r.rank, score=r.score, signals=r.signals, pairing_status=r.pairing_status,
            reasons=[shown(x, scope.covers(r.city_code, r.county_code)) for x in r.reasons],
            demand=DemandOut.of(r, scope, regions, contact_entitled=scope.covers(r.city_code, r.county_code)
                                or r.pairing_status == "approved"))
            for r in listing.rows]
        return RecommendationList(run_id=listing.run_id, items=items)

    return await signed_in_read(request, token, work)


@router.post("/organizations/{credit_code}/interests", response_model=PairingOut, status_code=201,
             tags=["pairings"], summary="社会组织表达帮扶意向")
def express_interest(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, credit_code: str,
                     body: InterestIn) -> PairingOut:
    org = catalog.get_organization(session, scope, credit_code)
    demand = catalog.get_demand(session, body.demand_ref, body.county_code)
    pairing = pairings.express_interest(session, scope=scope, user=user, org=org, demand=demand, note=body.note,
                                        clock=request.app.state.clock)
    audit.record(session, "interest", actor=user, ip=client_ip(request), target=f"{demand.ref} ← {org.credit_code}",
                 clock=request.app.state.clock)
    return _pairing_out(session, pairing, scope)


@router.post("/organizations/{credit_code}/dismissals", response_model=PairingOut, status_code=201,
             tags=["pairings"], summary="社会组织标记不感兴趣")
def dismiss(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, credit_code: str,
            body: InterestIn) -> PairingOut:
    org = catalog.get_organization(session, scope, credit_code)
    demand = catalog.get_demand(session, body.demand_ref, body.county_code)
    pairing = pairings.dismiss(session, scope=scope, user=user, org=org, demand=demand, clock=request.app.state.clock)
    audit.record(session, "dismiss", actor=user, ip=client_ip(request), target=f"{demand.ref} ← {org.credit_code}",
                 clock=request.app.state.clock)
    return _pairing_out(session, pairing, scope)


# -- demands ---------------------------------------------------------------------------

@router.get("/demands", response_model=DemandPage, tags=["demands"], summary="需求列表（公众可见，联系方式隐藏）")
def list_demands(request: Request, session: SessionDep, scope: ScopeDep, city: str | None = None,
                 county: str | None = None, action: str | None = None,
                 status: Literal["open", "held", "closed"] | None = "open", q: str | None = None,
                 page: Paging = 1, size: Size = 20) -> DemandPage:
    city_code, county_code = _region_codes(request, city, county)
    result = catalog.list_demands(session, scope, city_code=city_code, county_code=county_code, action=action,
                                  status=status, keyword=q, page=page, size=size)
    regions = request.app.state.regions
    return DemandPage(total=result.total, page=page, size=size,
                      items=[DemandOut.of(d, scope, regions) for d in result.items])


@router.post("/demands", response_model=DemandOut, status_code=201, tags=["demands"], summary="发布需求")
def create_demand(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, body: DemandIn,
                  matcher: MatcherDep) -> DemandOut:
    written = catalog.create_demand(session, scope, body.model_dump(exclude_none=True), matcher,
                                    clock=request.app.state.clock)
    demand = written.record
    audit.record(session, "demand_create", actor=user, ip=client_ip(request), target=demand.ref,
                 clock=request.app.state.clock)
    return _written(DemandOut.of(demand, scope, request.app.state.regions), written, DEMAND_FORM)


@router.get("/demands/{ref}", response_model=DemandOut, tags=["demands"])
def get_demand(request: Request, session: SessionDep, scope: ScopeDep, ref: str,
               county: str | None = None) -> DemandOut:
    demand = catalog.get_demand(session, ref, _region_codes(request, None, county)[1])
    if demand.status != "open" and not scope.covers(demand.city_code, demand.county_code):
        raise NotFound(f"未找到需求编号为{ref}的需求")
    return DemandOut.of(demand, scope, request.app.state.regions)


@router.patch("/demands/{ref}", response_model=DemandOut, tags=["demands"])
def update_demand(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, ref: str,
                  body: DemandIn, matcher: MatcherDep, county: str | None = None) -> DemandOut:
    demand = catalog.get_demand(session, ref, _region_codes(request, None, county)[1])
    changes = body.model_dump(exclude_unset=True)
    written = catalog.update_demand(session, scope, demand, changes, matcher, clock=request.app.state.clock)
    demand = written.record
    audit.record(session, "demand_update", actor=user, ip=client_ip(request), target=demand.ref,
                 detail={"fields": sorted(changes)}, clock=request.app.state.clock)
    return _written(DemandOut.of(demand, scope, request.app.state.regions), written, DEMAND_FORM)


@router.post("/demands/{ref}/close", response_model=DemandOut, tags=["demands"], summary="关闭或撤回需求")
def close_demand(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, ref: str,
                 county: str | None = None) -> DemandOut:
    demand = catalog.get_demand(session, ref, _region_codes(request, None, county)[1])
    closed = catalog.set_demand_status(session, scope, demand, "closed")
    audit.record(session, "demand_close", actor=user, ip=client_ip(request), target=demand.ref,
                 clock=request.app.state.clock)
    return DemandOut.of(closed, scope, request.app.state.regions)


@router.get("/demands/{ref}/recommendations", response_model=RecommendationList, tags=["recommendations"],
            summary="为需求推荐的社会组织（含理由）")
async def demand_recommendations(request: Request, token: TokenDep, ref: str, county: str | None = None,
                                 top: Annotated[int, Query(ge=1, le=100)] = 10) -> RecommendationList:
    def work(session: Session, user: User, scope: auth.Scope) -> RecommendationList:
        demand = catalog.get_demand(session, ref, _region_codes(request, None, county)[1])
        scope.require_staff()
        scope.require_demand(demand)
        assert demand.id is not None
        listing = listing_for_demand(session, demand.id, top=top)
        regions = request.app.state.regions
        items = [RecommendationOut(rank=r.rank, score=r.score, signals=r.signals, reasons=r.reasons,
                                   pairing_status=r.pairing_status,
                                   organization=OrganizationOut.of(r, scope, regions))
                 for r in listing.rows]
        return RecommendationList(run_id=listing.run_id, items=items)

    return await signed_in_read(request, token, work)


# -- pairings --------------------------------------------------------------------------

def _pairing_out(session: Session, pairing: Pairing, scope: auth.Scope, *,
                 history: list[str] | None = None) -> PairingOut:
    demand = session.get(Demand, pairing.demand_id)
    org = session.get(Organization, pairing.organization_id)
    decider = session.get(User, pairing.decided_by_id) if pairing.decided_by_id else None
    assert demand is not None and org is not None
    entitled = scope.covers(demand.city_code, demand.county_code)
    return PairingOut(id=pairing.id, demand_ref=demand.ref, county_code=demand.county_code,
                      credit_code=org.credit_code, organization_name=org.name,
                      demand_title=shown(demand.title, entitled), status=pairing.status, source=pairing.source,
                      score=pairing.score, reasons=[shown(r, entitled) for r in pairing.reasons],
                      reason_code=pairing.reason_code, note=shown(pairing.note, entitled),
                      decided_by=decider.username if decider else None, decided_at=pairing.decided_at,
                      history=history or [], waiting_since=pairing.updated_at)


@router.get("/pairings/queue", response_model=list[PairingOut], tags=["pairings"], summary="待审核的对接（本地区）")
def review_queue(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, city: str | None = None,
                 county: str | None = None, action: str | None = None,
                 min_score: Annotated[float | None, Query(ge=0, le=2)] = None,
                 status: Literal["suggested", "requested"] | None = None,
                 sort: Literal["score", "waiting"] = "score", page: Paging = 1, size: Size = 50) -> list[PairingOut]:
    city_code, county_code = _region_codes(request, city, county)
    keys = pairings.queue_keys(session, scope, pairings.QueueFilter(city_code, county_code, action, min_score,
                                                                    status, sort))
    page_items = pairings.queue_items(session, keys[(page - 1) * size: page * size])
    return [PairingOut(id=i.pairing_id, demand_ref=i.demand.ref, county_code=i.demand.county_code,
                       credit_code=i.organization.credit_code, organization_name=i.organization.name,
                       demand_title=i.demand.title, status=i.status, source="interest" if i.pairing_id else "engine",
                       score=i.score, reasons=i.reasons, reason_code=None, note="", history=i.history,
                       waiting_since=i.waiting_since) for i in page_items]


def _decide(request: Request, session: Session, scope: ScopeDep, user: User, body: DecisionIn) -> Pairing:
    demand = catalog.get_demand(session, body.demand_ref, body.county_code)
    scope.require_staff()
    scope.require_demand(demand)
    org = session.exec(select(Organization).where(Organization.credit_code == body.credit_code.upper())).first()
    if org is None:
        raise NotFound(f"未找到统一社会信用代码为{body.credit_code}的社会组织")
    pairing = pairings.decide(session, scope=scope, user=user, demand=demand, org=org, decision=body.decision,
                              reason_code=body.reason_code, note=body.note, clock=request.app.state.clock)
    audit.record(session, "pairing_decision", actor=user, ip=client_ip(request),
                 target=f"{demand.ref} ← {org.credit_code}",
                 detail={"decision": pairing.status, "reason_code": body.reason_code}, clock=request.app.state.clock)
    return pairing


@router.post("/pairings/decisions", response_model=PairingOut, tags=["pairings"], summary="审核：通过或驳回")
def decide(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser, body: DecisionIn) -> PairingOut:
    return _pairing_out(session, _decide(request, session, scope, user, body), scope)


@router.post("/pairings/bulk-approve", response_model=list[PairingOut], tags=["pairings"], summary="批量通过")
def bulk_approve(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser,
                 body: BulkApproveIn) -> list[PairingOut]:
    out = []
    for item in body.items:
        if item.decision != "approve":
            raise InvalidInput("批量操作只能通过")
        out.append(_pairing_out(session, _decide(request, session, scope, user, item), scope))
    return out


@router.get("/pairings", response_model=list[PairingOut], tags=["pairings"], summary="对接记录")
def list_pairings(session: SessionDep, scope: ScopeDep, user: CurrentUser,
                  status: Literal["requested", "approved", "rejected", "dismissed"] | None = None) -> list[PairingOut]:
    query = select(Pairing).join(Demand, col(Demand.id) == Pairing.demand_id)
    if scope.role == "org":
        query = query.where(Pairing.organization_id == scope.organization_id)
    else:
        scope.require_staff()
        query = query.where(scope.demand_clause())
    if status:
        query = query.where(Pairing.status == status)
    return [_pairing_out(session, p, scope) for p in session.exec(query.order_by(col(Pairing.id))).all()]


# -- uploads ---------------------------------------------------------------------------

@router.post("/uploads/{kind}", response_model=ImportReportOut, tags=["uploads"],
             summary="上传报名表（organizations）或需求要点（demands）")
async def upload(request: Request, kind: Literal["organizations", "demands"], user: CurrentUser, scope: ScopeDep,
                 file: Annotated[UploadFile, File(description=".xlsx、.xls 或 .csv")],
                 skip_invalid: Annotated[bool, Form()] = False,
                 create_accounts: Annotated[bool, Form()] = False) -> ImportReportOut:
    scope.require_staff()
    limit = request.app.state.settings.max_upload_mb * 2**20
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"文件过大：不能超过{request.app.state.settings.max_upload_mb} MB")
    suffix = Path(file.filename or "").suffix.lower()
    app = request.app
    return await anyio.to_thread.run_sync(
        lambda: _import_upload(app, "orgs" if kind == "organizations" else "demands", data, suffix, scope,
                               skip_invalid, create_accounts, user, client_ip(request), file.filename or ""))


def _import_upload(app, kind: str, data: bytes, suffix: str, scope: auth.Scope, skip_invalid: bool,  # type: ignore[no-untyped-def]
                   create_accounts: bool, user: User, ip: str, filename: str) -> ImportReportOut:
    from api.services.uploads import import_for_scope

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        with Session(app.state.engine, expire_on_commit=False) as session:
            try:
                report, accounts = import_for_scope(session, path, kind, scope=scope, matcher=app.state.matcher(),
                                                    skip_invalid=skip_invalid, create_accounts=create_accounts,
                                                    channel="api", source=filename, clock=app.state.clock)
                audit.record(session, "upload", actor=user, ip=ip, target=filename, clock=app.state.clock,
                             detail={"kind": kind, "created": report.created, "updated": report.updated,
                                     "rejected_rows": report.rejected, "accounts": len(accounts)})
                session.commit()
            except ImportRejected as err:
                session.rollback()
                audit.record(session, "upload", actor=user, ip=ip, target=filename, clock=app.state.clock,
                             detail={"kind": kind, "refused": True, "bad_rows": len({e.row for e in err.errors})})
                session.commit()
                raise
            except BaseException:
                session.rollback()
                raise
    return report_out(report, accounts)


def report_out(report: ImportReport, accounts: list[dict[str, str]]) -> ImportReportOut:
    return ImportReportOut(kind=report.kind, rows_total=report.rows_total, created=report.created,
                           updated=report.updated, unchanged=report.unchanged, rejected=report.rejected,
                           warnings=report.warnings, accounts=accounts,
                           errors=[ErrorDetail(row=e.row, column=e.column, value=e.value, reason=e.reason)
                                   for e in report.errors])


# -- match runs ------------------------------------------------------------------------

def _run_out(run: MatchRun) -> RunOut:
    return RunOut(**run.model_dump(include=set(RunOut.model_fields)))


@router.post("/match-runs", response_model=RunOut, status_code=202, tags=["match-runs"], summary="开始一次全量匹配")
def start_match_run(request: Request, session: SessionDep, scope: ScopeDep, user: CurrentUser) -> RunOut:
    if scope.role != "province":
        raise Forbidden("全量匹配仅限省级管理员发起")
    app = request.app
    run = start_run(session, own_process_config() if app.state.full_runs_in_own_process else app.state.matcher().config)
    session.commit()
    thread = threading.Thread(target=execute_run, args=(app, run.id), daemon=True, name=f"match-run-{run.id}")
    thread.start()
    app.state.run_threads.append(thread)
    return _run_out(run)


def execute_run(app, run_id: int) -> None:  # type: ignore[no-untyped-def]
    settings = app.state.settings
    today = app.state.clock().date()
    if app.state.full_runs_in_own_process:
        run_in_own_process(app.state.engine, settings.database_url, run_id, today=today, keep_runs=settings.keep_runs,
                           nice=settings.rematch_nice, idle=settings.rematch_idle,
                           started=app.state.run_processes.append)
        return
    run_recorded(app.state.engine, app.state.matcher(), run_id, today=today, keep_runs=settings.keep_runs)


@router.get("/match-runs", response_model=list[RunOut], tags=["match-runs"])
def list_match_runs(session: SessionDep, scope: ScopeDep, user: CurrentUser) -> list[RunOut]:
    scope.require_staff()
    return [_run_out(r) for r in session.exec(select(MatchRun).order_by(col(MatchRun.id).desc()).limit(20)).all()]


@router.get("/match-runs/{run_id}", response_model=RunOut, tags=["match-runs"])
def get_match_run(session: SessionDep, scope: ScopeDep, user: CurrentUser, run_id: RunId) -> RunOut:
    scope.require_staff()
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound("匹配记录不存在")
    return _run_out(run)




# -- audit trail (read only: no route changes or deletes an event) -------------------------

@router.get("/audit", tags=["audit"], summary="审计记录（仅省级管理员）")
def audit_events(session: SessionDep, scope: ScopeDep, user: CurrentUser, action: str | None = None,
                 username: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, object]]:
    return [e.model_dump(mode="json") for e in audit.events(session, scope, action=action, username=username,
                                                             limit=limit)]
