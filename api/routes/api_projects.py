"""The JSON API for assistance projects, the half-yearly reports and the dashboard."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from sqlmodel import Session, select

from api.deps import CurrentUser, SessionDep
from api.errors import Forbidden
from api.routes.api_v1 import ERRORS, client_ip
from api.schemas import (
    CaseIn,
    CaseOut,
    ChangeOut,
    ConfirmIn,
    CorrectionIn,
    PlanIn,
    ProgressIn,
    ProgressOut,
    ProjectDetailOut,
    ProjectOut,
)
from api.services import audit, auth, dashboard, projects, reports
from api.services.privacy import mask_text, shown
from models import Demand, Organization, ProgressReport, Project

router = APIRouter(prefix="/api/v1", responses=ERRORS)  # type: ignore[arg-type]
DbId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def today_of(request: Request) -> Any:
    return projects.local_today(request.app.state.clock, request.app.state.settings.timezone)


def _out(session: Session, request: Request, project: Project, scope: auth.Scope) -> ProjectOut:
    org = session.get(Organization, project.organization_id)
    demand = session.get(Demand, project.demand_id)
    assert org is not None
    return ProjectOut(**ProjectOut.fields_of(project, org, request.app.state.regions, today_of(request),
                                             demand.ref if demand else None, entitled=_entitled(scope, project)))


def _entitled(scope: auth.Scope, project: Project) -> bool:
    """Free text as written for staff of the project's region; masked for the organization."""
    return scope.covers(project.city_code, project.county_code)


def detail(session: Session, request: Request, scope: auth.Scope, project: Project) -> ProjectDetailOut:
    base = _out(session, request, project, scope).model_dump()
    entitled = _entitled(scope, project)
    link = None
    if scope.is_staff:
        token = projects.village_token(request.app.state.secret, project)
        link = f"{request.app.state.settings.base_url.rstrip('/')}/confirm/{token}"
    return ProjectDetailOut(
        **base, reports=[ProgressOut.of(r, entitled=entitled) for r in projects.reports_of(session, project)],
        changes=[ChangeOut(field=c.field, old=shown(c.old, entitled), new=shown(c.new, entitled),
                           reason=shown(c.reason, entitled), who=c.who, at=c.at)
                 for c in projects.changes_of(session, project)], village_link=link)


@router.get("/projects", response_model=list[ProjectOut], tags=["projects"], summary="帮扶项目（本地区或本组织）")
def list_projects(request: Request, session: SessionDep, user: CurrentUser,
                  city: Annotated[str | None, Query(max_length=50)] = None,
                  county: Annotated[str | None, Query(max_length=50)] = None,
                  action: Annotated[str | None, Query(max_length=10)] = None,
                  status: Literal["not_started", "in_progress", "done", "stopped"] | None = None,
                  overdue: bool = False) -> list[ProjectOut]:
    from api.routes.api_v1 import _region_codes

    city_code, county_code = _region_codes(request, city, county)
    scope = auth.Scope.of(user)
    rows = projects.list_projects(session, scope, today_of(request), projects.ProjectFilter(
        city_code=city_code, county_code=county_code, action=action, status=status, overdue=overdue))
    refs = {d.id: d.ref for d in session.exec(select(Demand).where(
        Demand.id.in_([p.demand_id for p, _ in rows] or [-1]))).all()}  # type: ignore[union-attr]
    return [ProjectOut(**ProjectOut.fields_of(p, o, request.app.state.regions, today_of(request),
                                              refs.get(p.demand_id), entitled=_entitled(scope, p)))
            for p, o in rows]


@router.get("/projects/{project_id}", response_model=ProjectDetailOut, tags=["projects"], summary="项目详情与进展")
def get_project(request: Request, session: SessionDep, user: CurrentUser, project_id: DbId) -> ProjectDetailOut:
    scope = auth.Scope.of(user)
    return detail(session, request, scope, projects.get_project(session, scope, project_id))


@router.patch("/projects/{project_id}", response_model=ProjectDetailOut, tags=["projects"],
              summary="修改项目计划（组织填写；工作人员更正须说明原因）")
def update_plan(request: Request, session: SessionDep, user: CurrentUser, project_id: DbId,
                body: PlanIn) -> ProjectDetailOut:
    scope = auth.Scope.of(user)
    project = projects.get_project(session, scope, project_id)
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    projects.update_plan(session, scope=scope, user=user, project=project, changes=changes, reason=body.reason,
                         clock=request.app.state.clock)
    audit.record(session, "project_plan", actor=user, ip=client_ip(request), target=f"项目{project.id}",
                 detail={"fields": sorted(changes)}, clock=request.app.state.clock)
    return detail(session, request, scope, project)


@router.post("/projects/{project_id}/progress", response_model=ProgressOut, status_code=201, tags=["projects"],
             summary="报告项目进展（社会组织）")
def report_progress(request: Request, session: SessionDep, user: CurrentUser, project_id: DbId,
                    body: ProgressIn) -> ProgressOut:
    scope = auth.Scope.of(user)
    project = projects.get_project(session, scope, project_id)
    report = projects.report_progress(session, scope=scope, user=user, project=project, **body.model_dump(),
                                      clock=request.app.state.clock, tz=request.app.state.settings.timezone)
    session.flush()
    audit.record(session, "project_progress", actor=user, ip=client_ip(request), target=f"项目{project.id}",
                 detail={"report": report.id, "status": report.status}, clock=request.app.state.clock)
    return ProgressOut.of(report, entitled=_entitled(scope, project))


@router.patch("/progress/{report_id}", response_model=ProgressOut, tags=["projects"],
              summary="更正进展报告（工作人员，保留更正记录）")
def correct_report(request: Request, session: SessionDep, user: CurrentUser, report_id: DbId,
                   body: CorrectionIn) -> ProgressOut:
    report = session.get(ProgressReport, report_id)
    scope = auth.Scope.of(user)
    if report is None:
        from api.errors import NotFound

        raise NotFound("进展报告不存在")
    project = projects.get_project(session, scope, report.project_id)  # visibility first: 404/403 before 422
    made = projects.correct_report(session, scope=scope, user=user, report=report,
                                   changes=body.model_dump(exclude_unset=True, exclude={"reason"}),
                                   reason=body.reason, clock=request.app.state.clock,
                                   tz=request.app.state.settings.timezone)
    audit.record(session, "project_correct", actor=user, ip=client_ip(request), target=f"项目{report.project_id}",
                 detail={"report": report.id, "fields": [c.field for c in made], "reason": body.reason},
                 clock=request.app.state.clock)
    return ProgressOut.of(report, entitled=_entitled(scope, project))


@router.post("/projects/{project_id}/village-confirmation", response_model=ProjectDetailOut, tags=["projects"],
             summary="代村级录入确认与评价（本地区工作人员）")
def confirm_for_village(request: Request, session: SessionDep, user: CurrentUser, project_id: DbId,
                        body: ConfirmIn) -> ProjectDetailOut:
    scope = auth.Scope.of(user)
    project = projects.get_project(session, scope, project_id)
    if not scope.is_staff:
        raise Forbidden("只有村级或本地区工作人员可以确认")
    projects.confirm_delivery(session, project, rating=body.rating, comment=body.comment, by="staff", user=user,
                              clock=request.app.state.clock)
    audit.record(session, "village_confirm", actor=user, ip=client_ip(request), target=f"项目{project.id}",
                 detail={"rating": body.rating, "by": "staff"}, clock=request.app.state.clock)
    return detail(session, request, scope, project)


@router.post("/projects/{project_id}/case", response_model=ProjectDetailOut, tags=["projects"],
             summary="标记为典型案例（公开展示）")
def mark_case(request: Request, session: SessionDep, user: CurrentUser, project_id: DbId,
              body: CaseIn) -> ProjectDetailOut:
    scope = auth.Scope.of(user)
    project = projects.get_project(session, scope, project_id)
    projects.mark_case(session, scope=scope, user=user, project=project, story=body.story,
                       clock=request.app.state.clock)
    audit.record(session, "project_case", actor=user, ip=client_ip(request), target=f"项目{project.id}",
                 detail={"case": True}, clock=request.app.state.clock)
    return detail(session, request, scope, project)


@router.delete("/projects/{project_id}/case", response_model=ProjectDetailOut, tags=["projects"],
               summary="取消典型案例")
def unmark_case(request: Request, session: SessionDep, user: CurrentUser, project_id: DbId) -> ProjectDetailOut:
    scope = auth.Scope.of(user)
    project = projects.get_project(session, scope, project_id)
    projects.unmark_case(session, scope=scope, user=user, project=project, clock=request.app.state.clock)
    audit.record(session, "project_case", actor=user, ip=client_ip(request), target=f"项目{project.id}",
                 detail={"case": False}, clock=request.app.state.clock)
    return detail(session, request, scope, project)


@router.get("/cases", response_model=list[CaseOut], tags=["projects"], summary="典型案例（公开）")
def cases(request: Request, session: SessionDep) -> list[CaseOut]:
    regions = request.app.state.regions
    return [CaseOut(id=p.id, title=mask_text(p.title), organization=o.name,  # type: ignore[arg-type]
                    place=regions.place_name(p.city_code, p.county_code) + p.village, action=p.action,
                    funds_in=p.funds_in, beneficiaries=p.beneficiaries, village_rating=p.village_rating,
                    story=mask_text(p.case_story)) for p, o in projects.public_cases(session)]


def report_file(request: Request, session: Session, user: Any, kind: str, period: str,
                region: str | None) -> Response:
    """Build, write and send one report; recorded in the audit trail."""
    scope = auth.Scope.of(user)
    regions = request.app.state.regions
    report = reports.build(session, kind, reports.resolve_region(regions, region, scope),
                           reports.parse_period(period), regions, today_of(request))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.xlsx"
        reports.write_xlsx(report, path, generated_at=request.app.state.clock(), regions=regions)
        data = path.read_bytes()
    audit.record(session, "export", actor=user, ip=client_ip(request), target=report.title,
                 detail={"kind": kind, "rows": len(report.rows)}, clock=request.app.state.clock)
    from urllib.parse import quote

    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=report.xlsx; filename*=UTF-8''{quote(reports.filename(report))}"})


@router.get("/reports/{kind}", tags=["reports"], summary="下载半年报表（.xlsx，限本地区）",
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
def download_report(request: Request, session: SessionDep, user: CurrentUser,
                    kind: Literal["contacts", "results", "progress", "recognition"],
                    period: Annotated[str, Query(max_length=20, description="2025H1、2025H2 或 2025")],
                    region: Annotated[str | None, Query(max_length=50)] = None) -> Response:
    return report_file(request, session, user, kind, period, region)


@router.get("/dashboard", tags=["reports"], summary="数据看板（本地区）")
def dashboard_data(request: Request, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(dashboard.build(session, auth.Scope.of(user), request.app.state.regions, today_of(request)))
