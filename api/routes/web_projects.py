"""Pages for assistance projects: staff lists, project pages, reports and the dashboard; the
organization's progress reports; the village's confirmation link; the public 典型案例."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from api.deps import OptionalUser, SessionDep
from api.errors import AppError, Forbidden, InvalidInput, NotFound
from api.routes.api_projects import report_file, today_of
from api.routes.web import CsrfChecked, _ip, _login_redirect, _staff, render
from api.services import audit, auth, dashboard, maps, projects, reports
from matcher.categories import ACTIONS
from models import Demand, Organization, ProgressReport, Project
from models.project import OVERDUE_DAYS, PROJECT_STATUS_LABELS

router = APIRouter(include_in_schema=False)
DbIdForm = Annotated[int, Form(ge=1, le=2**31 - 1)]


def _ctx(request: Request) -> dict[str, Any]:
    return {"project_status_labels": PROJECT_STATUS_LABELS, "today": today_of(request), "overdue_days": OVERDUE_DAYS,
            "is_overdue": projects.is_overdue, "days_since": projects.days_since_report}


# -- staff -------------------------------------------------------------------------------------

@router.get("/staff/projects", response_class=HTMLResponse, name="staff_projects")
def staff_projects(request: Request, session: SessionDep, user: OptionalUser, county: str = "", action: str = "",
                   status: str = "", overdue: str = "") -> Response:
    if user is None:
        return _login_redirect(request)
    staff = _staff(user)
    regions = request.app.state.regions
    county_obj = regions.resolve_county(county) if county else None
    rows = projects.list_projects(session, auth.Scope.of(staff), today_of(request), projects.ProjectFilter(
        county_code=county_obj.code if county_obj else None, action=action if action in ACTIONS else None,
        status=status if status in PROJECT_STATUS_LABELS else None, overdue=overdue == "1"))
    rows.sort(key=lambda po: (not projects.is_overdue(po[0], today_of(request)), -(po[0].id or 0)))
    return render(request, "projects.html", staff, rows=rows[:500], total=len(rows),
                  filters={"county": county, "action": action, "status": status, "overdue": overdue},
                  **_ctx(request))


@router.get("/staff/projects/{project_id}", response_class=HTMLResponse, name="staff_project")
def staff_project(request: Request, session: SessionDep, user: OptionalUser, project_id: int) -> Response:
    if user is None:
        return _login_redirect(request)
    staff = _staff(user)
    project = projects.get_project(session, auth.Scope.of(staff), min(project_id, 2**31 - 1))
    return _project_page(request, session, staff, project, "project.html")


def _project_page(request: Request, session: Any, user: Any, project: Project, template: str,
                  status_code: int = 200, error: str = "") -> HTMLResponse:
    org = session.get(Organization, project.organization_id)
    demand = session.get(Demand, project.demand_id)
    link = None
    if user.role != "org":
        token = projects.village_token(request.app.state.secret, project)
        link = str(request.url_for("village_confirm", token=token))
    return render(request, template, user, p=project, org=org, demand=demand,
                  reports=projects.reports_of(session, project), changes=projects.changes_of(session, project),
                  village_link=link, error=error, status_code=status_code,
                  text_entitled=auth.Scope.of(user).covers(project.city_code, project.county_code), **_ctx(request))


@router.post("/staff/progress/{report_id}/correct", name="staff_correct", dependencies=[CsrfChecked])
def staff_correct(request: Request, session: SessionDep, user: OptionalUser, report_id: int,
                  status: Annotated[str, Form(max_length=20)],
                  funds_in: Annotated[str, Form(max_length=20)], beneficiaries: Annotated[str, Form(max_length=20)],
                  report_date: Annotated[str, Form(max_length=20)], note: Annotated[str, Form(max_length=2000)] = "",
                  reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    staff = _staff(user)
    report = session.get(ProgressReport, min(report_id, 2**31 - 1))
    if report is None:
        raise NotFound("进展报告不存在")
    scope = auth.Scope.of(staff)
    project = projects.get_project(session, scope, report.project_id)
    try:
        made = projects.correct_report(session, scope=scope, user=staff, report=report, reason=reason,
                                       changes={"status": status, "funds_in": funds_in, "beneficiaries": beneficiaries,
                                                "report_date": report_date, "note": note},
                                       clock=request.app.state.clock, tz=request.app.state.settings.timezone)
    except InvalidInput as err:
        session.rollback()
        return _project_page(request, session, staff, project, "project.html", 422, err.message)
    audit.record(session, "project_correct", actor=staff, ip=_ip(request), target=f"项目{project.id}",
                 detail={"report": report.id, "fields": [c.field for c in made], "reason": reason},
                 clock=request.app.state.clock)
    request.session["flash"] = f"已更正{len(made)}项，原值已记入更正记录"
    return RedirectResponse(request.url_for("staff_project", project_id=project.id), 303)


def plan_form(planned_funds: Annotated[str, Form(max_length=20)] = "",
              planned_beneficiaries: Annotated[str, Form(max_length=20)] = "",
              start_date: Annotated[str, Form(max_length=20)] = "",
              planned_end: Annotated[str, Form(max_length=20)] = "") -> dict[str, str]:
    """The plan form's fields as changes; a blank start date leaves the start as it is."""
    return {"planned_funds": planned_funds, "planned_beneficiaries": planned_beneficiaries,
            "planned_end": planned_end, **({"start_date": start_date} if start_date else {})}


PlanForm = Annotated[dict[str, str], Depends(plan_form)]


def _save_plan(request: Request, session: Any, user: Any, project_id: int, changes: dict[str, str], *,
               reason: str, template: str, page: str, flash: str) -> Response:
    """The organization's plan edit or a staff correction: the rules are the service's."""
    scope = auth.Scope.of(user)
    project = projects.get_project(session, scope, min(project_id, 2**31 - 1))
    try:
        projects.update_plan(session, scope=scope, user=user, project=project, changes=changes, reason=reason,
                             clock=request.app.state.clock)
        session.flush()
    except AppError as err:
        session.rollback()
        return _project_page(request, session, user, project, template, err.status_code, err.message)
    audit.record(session, "project_plan", actor=user, ip=_ip(request), target=f"项目{project.id}",
                 detail={"fields": sorted(changes), **({"reason": reason} if reason else {})},
                 clock=request.app.state.clock)
    request.session["flash"] = flash
    return RedirectResponse(request.url_for(page, project_id=project.id), 303)


@router.post("/staff/projects/{project_id}/plan", name="staff_plan", dependencies=[CsrfChecked])
def staff_plan(request: Request, session: SessionDep, user: OptionalUser, project_id: int, changes: PlanForm,
               reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    return _save_plan(request, session, _staff(user), project_id, changes, reason=reason, template="project.html",
                      page="staff_project", flash="项目计划已更正，原值已记入更正记录")


@router.post("/staff/projects/{project_id}/confirm", name="staff_confirm", dependencies=[CsrfChecked])
def staff_confirm(request: Request, session: SessionDep, user: OptionalUser, project_id: int,
                  rating: Annotated[str, Form(max_length=2)], comment: Annotated[str, Form(max_length=500)] = ""
                  ) -> Response:
    staff = _staff(user)
    project = projects.get_project(session, auth.Scope.of(staff), min(project_id, 2**31 - 1))
    try:
        projects.confirm_delivery(session, project, rating=rating, comment=comment, by="staff", user=staff,
                                  clock=request.app.state.clock)
    except AppError as err:
        session.rollback()
        return _project_page(request, session, staff, project, "project.html", err.status_code, err.message)
    audit.record(session, "village_confirm", actor=staff, ip=_ip(request), target=f"项目{project.id}",
                 detail={"rating": rating, "by": "staff"}, clock=request.app.state.clock)
    request.session["flash"] = "已代村级录入确认与评价"
    return RedirectResponse(request.url_for("staff_project", project_id=project.id), 303)


@router.post("/staff/projects/{project_id}/case", name="staff_case", dependencies=[CsrfChecked])
def staff_case(request: Request, session: SessionDep, user: OptionalUser, project_id: int,
               story: Annotated[str, Form(max_length=5000)] = "", remove: Annotated[str, Form(max_length=1)] = ""
               ) -> Response:
    staff = _staff(user)
    scope = auth.Scope.of(staff)
    project = projects.get_project(session, scope, min(project_id, 2**31 - 1))
    try:
        if remove:
            projects.unmark_case(session, scope=scope, user=staff, project=project, clock=request.app.state.clock)
        else:
            projects.mark_case(session, scope=scope, user=staff, project=project, story=story,
                               clock=request.app.state.clock)
    except AppError as err:
        session.rollback()
        return _project_page(request, session, staff, project, "project.html", err.status_code, err.message)
    audit.record(session, "project_case", actor=staff, ip=_ip(request), target=f"项目{project.id}",
                 detail={"case": not remove}, clock=request.app.state.clock)
    request.session["flash"] = "已取消典型案例" if remove else "已标记为典型案例，将在公开页面展示"
    return RedirectResponse(request.url_for("staff_project", project_id=project.id), 303)


@router.get("/staff/reports", response_class=HTMLResponse, name="staff_reports")
def staff_reports(request: Request, user: OptionalUser) -> Response:
    if user is None:
        return _login_redirect(request)
    staff = _staff(user)
    regions = request.app.state.regions
    if staff.role == "province":
        choices = ["吉林省", *(c.name for c in regions.cities.values())]
    elif staff.role == "city":
        choices = [regions.city_name(staff.region_code),
                   *(c.name for c in regions.counties.values() if c.city_code == staff.region_code)]
    else:
        choices = [regions.county_name(staff.region_code)]
    today = today_of(request)
    current = reports.current_period(today)
    previous = reports.parse_period(f"{today.year - 1}H2" if current.code.endswith("H1") else f"{today.year}H1")
    periods = [current, previous, reports.parse_period(str(today.year)), reports.parse_period(str(today.year - 1))]
    return render(request, "reports.html", staff, choices=choices, periods=periods, kinds=reports.KINDS,
                  titles=reports.TITLES)


@router.get("/staff/reports/download", name="staff_report_download")
def staff_report_download(request: Request, session: SessionDep, user: OptionalUser, kind: str = "",
                          period: str = "", region: str = "") -> Response:
    if user is None:
        return _login_redirect(request)
    staff = _staff(user)
    if kind not in reports.KINDS:
        raise InvalidInput("请选择报表种类")
    return report_file(request, session, staff, kind, period[:20], region[:50] or None)


@router.get("/staff/dashboard", response_class=HTMLResponse, name="staff_dashboard")
def staff_dashboard(request: Request, session: SessionDep, user: OptionalUser, figure: str = "open",
                    county: str = "") -> Response:
    if user is None:
        return _login_redirect(request)
    staff = _staff(user)
    regions = request.app.state.regions
    scope = auth.Scope.of(staff)
    figure = figure if figure in dashboard.MAP_FIGURES else "open"
    chosen = regions.counties.get(county)
    if chosen is not None and scope.covers(chosen.city_code, chosen.code):
        # A click on the map: the page's figures for that county alone, the map still the whole region.
        shown = auth.Scope("county", chosen.code, user_id=staff.id)
    else:
        chosen, shown = None, scope
    board = dashboard.build(session, shown, regions, today_of(request))
    overdue = projects.overdue_projects(session, shown, today_of(request))
    label, unit, decimals = dashboard.MAP_FIGURES[figure]
    base = request.url_for("staff_dashboard")
    county_map = maps.render(
        regions, dashboard.county_figures(session, scope, figure), label=label, unit=unit, decimals=decimals,
        region=maps.region_counties(regions, scope.role, scope.region_code), selected=chosen.code if chosen else None,
        link=lambda code: str(base.include_query_params(county=code, figure=figure)), caption=label)
    return render(request, "dashboard.html", staff, d=board, charts=dashboard.charts(board), overdue=overdue[:15],
                  overdue_total=len(overdue), county_map=county_map, figure=figure, figures=dashboard.MAP_FIGURES,
                  chosen=chosen, **_ctx(request))


# -- the organization ---------------------------------------------------------------------------

@router.get("/org/projects/{project_id}", response_class=HTMLResponse, name="org_project")
def org_project(request: Request, session: SessionDep, user: OptionalUser, project_id: int) -> Response:
    if user is None:
        return _login_redirect(request)
    if user.role != "org":
        raise Forbidden("该页面供社会组织使用")
    project = projects.get_project(session, auth.Scope.of(user), min(project_id, 2**31 - 1))
    return _project_page(request, session, user, project, "org_project.html")


@router.post("/org/projects/{project_id}/progress", name="org_progress", dependencies=[CsrfChecked])
def org_progress(request: Request, session: SessionDep, user: OptionalUser, project_id: int,
                 report_date: Annotated[str, Form(max_length=20)], status: Annotated[str, Form(max_length=20)],
                 funds_in: Annotated[str, Form(max_length=20)] = "0",
                 beneficiaries: Annotated[str, Form(max_length=20)] = "0",
                 note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    if user is None or user.role != "org":
        raise Forbidden("请以社会组织账号登录")
    scope = auth.Scope.of(user)
    project = projects.get_project(session, scope, min(project_id, 2**31 - 1))
    try:
        report = projects.report_progress(session, scope=scope, user=user, project=project, report_date=report_date,
                                          status=status, funds_in=funds_in, beneficiaries=beneficiaries, note=note,
                                          clock=request.app.state.clock, tz=request.app.state.settings.timezone)
        session.flush()
    except AppError as err:
        session.rollback()
        return _project_page(request, session, user, project, "org_project.html", err.status_code, err.message)
    audit.record(session, "project_progress", actor=user, ip=_ip(request), target=f"项目{project.id}",
                 detail={"report": report.id, "status": report.status}, clock=request.app.state.clock)
    request.session["flash"] = "进展已提交，谢谢！"
    return RedirectResponse(request.url_for("org_project", project_id=project.id), 303)


@router.post("/org/projects/{project_id}/plan", name="org_plan", dependencies=[CsrfChecked])
def org_plan(request: Request, session: SessionDep, user: OptionalUser, project_id: int,
             changes: PlanForm) -> Response:
    if user is None or user.role != "org":
        raise Forbidden("请以社会组织账号登录")
    return _save_plan(request, session, user, project_id, changes, reason="", template="org_project.html",
                      page="org_project", flash="项目计划已保存")


# -- the village (no account: the signed link is the proof) ---------------------------------------

@router.get("/confirm/{token}", response_class=HTMLResponse, name="village_confirm")
def village_confirm_page(request: Request, session: SessionDep, token: str) -> HTMLResponse:
    project = projects.project_from_village_token(session, request.app.state.secret, token[:200])
    org = session.get(Organization, project.organization_id)
    return render(request, "confirm.html", None, p=project, org=org, token=token, done=False, error="",
                  **_ctx(request))


@router.post("/confirm/{token}", response_class=HTMLResponse, name="village_confirm_post", dependencies=[CsrfChecked])
def village_confirm(request: Request, session: SessionDep, token: str, rating: Annotated[str, Form(max_length=2)],
                    comment: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
    project = projects.project_from_village_token(session, request.app.state.secret, token[:200])
    org = session.get(Organization, project.organization_id)
    try:
        projects.confirm_delivery(session, project, rating=rating, comment=comment, by="village",
                                  clock=request.app.state.clock)
    except AppError as err:
        session.rollback()
        return render(request, "confirm.html", None, p=project, org=org, token=token, done=False, error=err.message,
                      status_code=err.status_code, **_ctx(request))
    audit.record(session, "village_confirm", username="村级确认链接", ip=_ip(request), target=f"项目{project.id}",
                 detail={"rating": rating, "by": "village"}, clock=request.app.state.clock)
    return render(request, "confirm.html", None, p=project, org=org, token=token, done=True, error="",
                  **_ctx(request))


# -- the public ------------------------------------------------------------------------------------

@router.get("/cases", response_class=HTMLResponse, name="cases")
def cases_page(request: Request, session: SessionDep, user: OptionalUser) -> HTMLResponse:
    return render(request, "cases.html", user, cases=projects.public_cases(session), **_ctx(request))


@router.get("/cases/{project_id}", response_class=HTMLResponse, name="case_page")
def case_page(request: Request, session: SessionDep, user: OptionalUser, project_id: int) -> HTMLResponse:
    project = session.exec(select(Project).where(Project.id == min(project_id, 2**31 - 1), Project.is_case)).first()
    if project is None:
        raise NotFound("案例不存在")
    org = session.get(Organization, project.organization_id)
    return render(request, "case.html", user, p=project, org=org, **_ctx(request))
